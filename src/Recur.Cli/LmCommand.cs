using System.CommandLine;
using System.Globalization;
using System.Text.Json.Nodes;
using Recur.Cli.Training;
using Recur.Kernels;
using Recur.Language;
using Recur.Nn.Recurrent;
using Recur.Optim;
using Recur.Text;
using Recur.Training;
using Spectre.Console;

namespace Recur.Cli;

/// <summary>
/// <c>recur lm train|eval|generate</c>: causal language models over characters, words or byte-level BPE tokens,
/// trained by stateful truncated BPTT on one long text.
/// </summary>
static class LmCommand
{
    public static Command Create()
    {
        var command = new Command("lm",
            "Language modelling and text generation (characters, words or byte-level BPE).");
        command.Subcommands.Add(Train());
        command.Subcommands.Add(Eval());
        command.Subcommands.Add(Generate());
        return command;
    }

    static long Characters(string text) => text.EnumerateRunes().LongCount();

    static Command Train()
    {
        var text = new Option<string>("--text") { Description = "Training text (UTF-8).", Required = true };
        var valid = new Option<string?>("--valid")
        {
            Description = "Validation text (default: the last --valid-fraction of --text).",
        };
        var validFraction = new Option<double>("--valid-fraction")
        {
            Description = "Share of --text held out from its end when --valid is not given (0: none).",
            DefaultValueFactory = _ => 0.1,
        };
        var tokenizer = new Option<string>("--tokenizer")
        {
            Description = "char, word or bpe (byte-level BPE trained on the training text).",
            DefaultValueFactory = _ => "char",
        };
        tokenizer.AcceptOnlyFromAmong("char", "word", "bpe");
        var vocabSize = new Option<int>("--vocab-size")
        {
            Description = "BPE vocabulary size (special and byte tokens included).",
            DefaultValueFactory = _ => 2000,
        };
        var minFrequency = new Option<int>("--min-frequency")
        {
            Description = "Word tokenizer: words seen fewer times become <unk>.",
            DefaultValueFactory = _ => 1,
        };
        var cell = CellOption.Create(only: RecurrentCells.Stepwise,
            why: "a language model trains in windows and generates one step at a time; bn-lstm needs whole sequences");
        var layers = new Option<int>("--layers")
        {
            Description = "Stacked recurrent layers.",
            DefaultValueFactory = _ => 2,
        };
        var hidden = new Option<int>("--hidden") { Description = "Units per layer.", DefaultValueFactory = _ => 512 };
        var embed = new Option<int>("--embed") { Description = "Embedding width.", DefaultValueFactory = _ => 128 };
        var dropout = new Option<float>("--dropout")
        {
            Description = "Dropout on embeddings, between layers and on the outputs.",
            DefaultValueFactory = _ => 0.2f,
        };
        var tie = new Option<bool>("--tie-weights")
        {
            Description = "Share the embedding table with the output layer (an LSTM wider than --embed projects to "
                + "it).",
        };
        var awd = new Option<bool>("--awd")
        {
            Description = "AWD-LSTM regularisation (Merity et al. 2018, their Penn Treebank values): recurrent "
                + "matrices weight-dropped 0.5; locked dropout 0.4 on embeddings, 0.3 between layers (or --dropout if "
                + "given), 0.4 on outputs; embedding dropout 0.1; AR 2, TAR 1.",
        };
        var dropoutScale = new Option<float>("--dropout-scale")
        {
            Description = "With --awd: multiply every dropout by this factor (fastai's drop_mult; Merity et al.'s "
                + "values suit 1,150 units, a smaller model or less text may want less, e.g. 0.5).",
            DefaultValueFactory = _ => 1f,
        };
        var weightDrop = new Option<float?>("--weight-drop")
        {
            Description = "DropConnect on the recurrent matrices, one mask per chunk (AWD-LSTM's wdrop).",
        };
        var embeddingDropout = new Option<float?>("--embedding-dropout")
        {
            Description = "Drop whole words: each embedding row is zeroed with this probability per chunk (dropoute).",
        };
        var bptt = new Option<int>("--bptt")
        {
            Description = "Steps per truncated-BPTT chunk (the state carries over between chunks).",
            DefaultValueFactory = _ => 128,
        };
        var timeLimit = new Option<double>("--time-limit")
        {
            Description = "Stop (with a checkpoint) after this many minutes of training (0: no limit).",
            DefaultValueFactory = _ => 0,
        };
        var json = new Option<bool>("--json") { Description = "Print the final metrics as JSON." };
        var training = new TrainingOptions(10, 32, 2e-3f, defaultClipNorm: 5f);
        var classifierWords = new Option<bool>("--classifier-words")
        {
            Description = "Word tokenizer: split and lower-case words as `classify train` does (punctuation apart), so "
                + "the model can start a classifier (`classify train --from-lm`).",
        };
        var command = new Command("train", "Train a recurrent language model with stateful truncated BPTT.")
        {
            text, valid, validFraction, tokenizer, vocabSize, minFrequency, classifierWords, cell, layers, hidden,
            embed, dropout, tie, awd, dropoutScale, weightDrop, embeddingDropout, bptt, timeLimit, json,
        };
        training.AddTo(command);
        command.SetAction(r => CommandErrors.Guard(() =>
        {
            var s = training.Read(r);
            using var threadLimit = Parallelism.Limit(s.Threads);
            if (s.Out
                is null) throw new UsageException(
                "--out is required: the model, its tokenizer and checkpoints go there.");
            if (r.GetValue(bptt) < 1) throw new UsageException("--bptt must be positive.");
            double fraction = r.GetValue(validFraction);
            if (fraction is < 0 or >= 1) throw new UsageException("--valid-fraction must be in [0, 1).");
            string all = TextFiles.ReadUtf8(r.GetValue(text)!);
            string trainText = all, validText = "";
            if (r.GetValue(valid) is { } validPath) validText = TextFiles.ReadUtf8(validPath);
            else if (fraction > 0)
            {
                int cut = (int)(all.Length * (1 - fraction));
                if (cut > 0 && char.IsLowSurrogate(all[cut])) cut--; // never split a surrogate pair
                (trainText, validText) = (all[..cut], all[cut..]);
            }
            ITokenizer vocabulary;
            string kind = r.GetValue(tokenizer)!;
            if (s.Resume != null) vocabulary = Tokenizers.Load(s.Out); // the ids must be the checkpoint's
            else
            {
                var clock = System.Diagnostics.Stopwatch.StartNew();
                if (r.GetValue(classifierWords) && kind != "word")
                    throw new UsageException("--classifier-words applies to --tokenizer word.");
                vocabulary = kind switch
                {
                    "char" => CharTokenizer.Build(trainText),
                    "word" => r.GetValue(classifierWords)
                        ? WordLevelTokenizer.Build(trainText, WordSplitting.Words, lowerCase: true,
                            r.GetValue(minFrequency))
                        : WordLevelTokenizer.Build(trainText, minFrequency: r.GetValue(minFrequency)),
                    _ => BpeTrainer.Train(trainText, r.GetValue(vocabSize)),
                };
                Directory.CreateDirectory(s.Out);
                vocabulary.Save(s.Out);
                if (kind == "bpe") AnsiConsole.MarkupLineInterpolated(
                    $"BPE: {vocabulary.VocabularySize} tokens learned in {clock.Elapsed.TotalSeconds:F1} s.");
            }
            var trainIds = vocabulary.Encode(trainText);
            var validIds = validText.Length > 0 ? vocabulary.Encode(validText) : null;
            var config = new LanguageModelConfig(vocabulary.VocabularySize, r.GetValue(embed), r.GetValue(hidden),
                r.GetValue(layers), r.GetValue(cell)!,
                r.GetValue(dropout), r.GetValue(tie));
            float scale = r.GetValue(dropoutScale);
            if (r.GetResult(dropoutScale) is { Implicit: false } && !r.GetValue(awd))
                throw new UsageException("--dropout-scale scales the dropouts of --awd.");
            if (!(scale >= 0 && scale * 0.5f < 1)) throw new UsageException("--dropout-scale must be in [0, 2).");
            if (r.GetValue(awd))
            {
                var paper = LanguageModelConfig.AwdLstm(config.VocabularySize, config.EmbeddingSize,
                    config.HiddenSize, config.NumLayers, config.TieWeights);
                config = paper with
                {
                    Cell = config.Cell,
                    Dropout = r.GetResult(dropout) is { Implicit: false } ? config.Dropout : paper.Dropout * scale,
                    InputDropout = paper.InputDropout * scale,
                    OutputDropout = paper.OutputDropout * scale,
                    EmbeddingDropout = paper.EmbeddingDropout * scale,
                    WeightDrop = paper.WeightDrop * scale,
                };
            }
            if (r.GetValue(weightDrop) is float wdrop) config = config with { WeightDrop = wdrop };
            if (r.GetValue(embeddingDropout) is float dropE) config = config with { EmbeddingDropout = dropE };
            foreach (var (name, p) in new[] { ("--dropout", config.Dropout), ("--weight-drop", config.WeightDrop),
                ("--embedding-dropout", config.EmbeddingDropout) })
                if (p is not (>= 0 and < 1)) throw new UsageException($"{name} must be in [0, 1), got {p}.");
            var model = new LanguageModel(config, new RandomGenerator(s.Seed));
            var task = new LanguageModelTask(model, trainIds, s.Batch, r.GetValue(bptt), validIds,
                validText.Length > 0 ? Characters(validText) : 0,
                extraConfig: new JsonObject { ["tokenizer"] = vocabulary.Kind });
            long parameters = model.Parameters().Sum(p => (long)p.Length);
            AnsiConsole.MarkupLine("[bold]lm[/]: " + Markup.Escape(
                $"{trainIds.Length:N0} training tokens ({vocabulary.Kind}, "
                + $"vocabulary {vocabulary.VocabularySize}), {validIds?.Length ?? 0:N0} validation tokens; "
                + $"{config.Cell.Name()} ×{config.NumLayers}, {config.HiddenSize} units, {parameters:N0} parameters"
                + (config.WeightDrop > 0 || config.VariationalDropout ? $" (weight drop {config.WeightDrop}, "
                    + $"{(config.VariationalDropout ? "locked " : "")}dropout {config.InputDropout ?? config.Dropout}/"
                    + $"{config.Dropout}/{config.OutputDropout ?? config.Dropout}, embedding dropout "
                    + $"{config.EmbeddingDropout})" : "") + "; "
                + $"{task.BatchesPerEpoch} chunks of {r.GetValue(bptt)} × {s.Batch} per epoch."));
            var optimizer = TrainingOptions.CreateOptimizer(s, model.Parameters());
            var schedule = TrainingOptions.CreateSchedule(s, task.BatchesPerEpoch, MetricMode.Min);
            var trainerOptions = TrainingOptions.CreateTrainerOptions(s, "loss", MetricMode.Min);
            double minutes = r.GetValue(timeLimit);
            var result = TrainingOptions.Train(task, optimizer, trainerOptions, schedule, s.Resume, minutes);
            if (result.Outcome == TrainingOutcome.Interrupted && !(minutes > 0)) return 130;
            var metrics = TrainingOptions.Summary(result);
            metrics["epochs"] = result.Epochs;
            if (result.BestMetric is double best) metrics["best_loss"] = best;
            TrainingOptions.PrintMetrics(
                $"lm: {TrainingOptions.Outcome(result)} after {result.Steps} steps", metrics,
                r.GetValue(json));
            return 0;
        }));
        return command;
    }

    static Command Eval()
    {
        var model = new Option<string>("--model") { Description = "Run folder of `recur lm train`.", Required = true };
        var text = new Option<string>("--text") { Description = "Text to score (UTF-8).", Required = true };
        var streams = new Option<int>("--batch")
        {
            Description = "Parallel streams the text is cut into.",
            DefaultValueFactory = _ => 16,
        };
        var bptt = new Option<int>("--bptt")
        {
            Description = "Steps per chunk (the state carries over).",
            DefaultValueFactory = _ => 128,
        };
        var json = new Option<bool>("--json") { Description = "Print the metrics as JSON." };
        var int8 = Int8Inference.Option();
        var command = new Command("eval", "Loss, perplexity, bits per token and bits per character of a text.")
        {
            model, text, streams, bptt, json, int8,
        };
        command.SetAction(r => CommandErrors.Guard(() =>
        {
            if (r.GetValue(streams) < 1
                || r.GetValue(bptt) < 1) throw new UsageException("--batch and --bptt must be positive.");
            var (lm, tokenizer) = LanguageModel.Load(CliOutput.ModelFolder(r.GetValue(model)!));
            if (r.GetValue(int8)) Int8Inference.Apply([lm], r.GetValue(model)!);
            string content = TextFiles.ReadUtf8(r.GetValue(text)!);
            var ids = tokenizer.Encode(content);
            if (ids.Length < 2) throw new InvalidDataException($"{r.GetValue(text)}: fewer than two tokens to score.");
            var score = LanguageModelScore.Evaluate(lm, ids, Characters(content), r.GetValue(streams),
                r.GetValue(bptt));
            var metrics = new Dictionary<string, double>(score.ToMetrics()) { ["tokens"] = score.Tokens };
            TrainingOptions.PrintMetrics($"lm eval: {r.GetValue(text)}", metrics, r.GetValue(json));
            return 0;
        }));
        return command;
    }

    static Command Generate()
    {
        var model = new Option<string>("--model") { Description = "Run folder of `recur lm train`.", Required = true };
        var prompt = new Option<string>("--prompt")
        {
            Description = "Text to continue.",
            DefaultValueFactory = _ => "\n",
        };
        var length = new Option<int>("--length")
        {
            Description = "Tokens to generate.",
            DefaultValueFactory = _ => 500,
        };
        var temperature = new Option<float>("--temperature")
        {
            Description = "Softmax temperature (0: greedy).",
            DefaultValueFactory = _ => 1f,
        };
        var topK = new Option<int>("--top-k")
        {
            Description = "Sample among the k most likely tokens (0: all).",
            DefaultValueFactory = _ => 0,
        };
        var topP = new Option<float>("--top-p")
        {
            Description = "Nucleus sampling: the most likely tokens up to this probability mass.",
            DefaultValueFactory = _ => 1f,
        };
        var greedy = new Option<bool>("--greedy") { Description = "Always take the most likely token." };
        var beam = new Option<int>("--beam")
        {
            Description = "Beam search of this width (0: sample).",
            DefaultValueFactory = _ => 0,
        };
        var lengthPenalty = new Option<double>("--length-penalty")
        {
            Description = "Beam search: α of the length normalisation ((5 + n)/6)^α.",
            DefaultValueFactory = _ => 0.6,
        };
        var seed = new Option<ulong>("--seed")
        {
            Description = "Sampling seed (same seed, same text).",
            DefaultValueFactory = _ => 1,
        };
        var stopAtEos = new Option<bool>("--stop-at-eos")
        {
            Description = "End at the end-of-sequence token (word models: a line end).",
        };
        var save = new Option<string?>("--out")
        {
            Description = "Also write the prompt and the generated text to this file (replaced only when complete).",
        };
        var int8 = Int8Inference.Option();
        var command = new Command("generate",
            "Continue a prompt by sampling, greedy decoding or beam search; text streams out as it is produced.")
        {
            model, prompt, length, temperature, topK, topP, greedy, beam, lengthPenalty, seed, stopAtEos, save, int8,
        };
        command.SetAction(r => CommandErrors.Guard(() =>
        {
            if (r.GetValue(length) < 1) throw new UsageException("--length must be positive.");
            var (lm, tokenizer) = LanguageModel.Load(CliOutput.ModelFolder(r.GetValue(model)!));
            if (r.GetValue(int8)) Int8Inference.Apply([lm], r.GetValue(model)!);
            string start = r.GetValue(prompt)!;
            var promptIds = tokenizer.Encode(start);
            if (promptIds.Length == 0) promptIds = [Tokenizers.Bos];
            var output = Console.Out;
            output.Write(start);
            if (r.GetValue(beam) is int width and > 0)
            {
                var best = lm.BeamSearch(promptIds, r.GetValue(length), width, r.GetValue(lengthPenalty),
                    r.GetValue(stopAtEos) ? Tokenizers.Eos : null)[0];
                output.WriteLine(tokenizer.Decode(best.Tokens));
                if (r.GetValue(save) is { } beamPath) Serialization.AtomicFile.WriteAllText(beamPath,
                    start + tokenizer.Decode(best.Tokens));
                Console.Error.WriteLine(FormattableString.Invariant(
                    $"beam {width}: log P = {best.LogProbability:F3} over {best.Tokens.Length} tokens, ")
                    + FormattableString.Invariant($"score {best.Score:F3}"));
                return 0;
            }
            var options = new SamplingOptions(r.GetValue(greedy) ? 0f : r.GetValue(temperature), r.GetValue(topK),
                r.GetValue(topP), r.GetValue(seed), r.GetValue(stopAtEos));
            try { options.Validate(); }
            catch (ArgumentException e) { throw new UsageException(e.Message); }
            // stream: print what the tokens so far decode to, holding back an incomplete UTF-8 sequence
            var generated = new List<int>();
            int printed = 0;
            var clock = System.Diagnostics.Stopwatch.StartNew();
            lm.Generate(promptIds, r.GetValue(length), options, id =>
            {
                generated.Add(id);
                string so = tokenizer.Decode(generated.ToArray());
                if (so.EndsWith('\uFFFD') && tokenizer.Kind == "bpe") return;
                if (so.Length > printed) { output.Write(so[printed..]); output.Flush(); printed = so.Length; }
            });
            string all = tokenizer.Decode(generated.ToArray());
            if (all.Length > printed) output.Write(all[printed..]);
            output.WriteLine();
            if (r.GetValue(save) is { } path) Serialization.AtomicFile.WriteAllText(path, start + all);
            Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{generated.Count} tokens "
                + $"in {clock.Elapsed.TotalSeconds:F2} s "
                    + $"({generated.Count / Math.Max(clock.Elapsed.TotalSeconds, 1e-9):F0} tokens/s)"));
            return 0;
        }));
        return command;
    }
}

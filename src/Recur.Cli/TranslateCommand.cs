using System.CommandLine;
using System.Text.Json.Nodes;
using Recur.Cli.Training;
using Recur.Decoding;
using Recur.Figures;
using Recur.Kernels;
using Recur.Nn.Recurrent;
using Recur.Optim;
using Recur.Serialization;
using Recur.Training;
using Recur.Translation;
using Spectre.Console;

namespace Recur.Cli;

/// <summary>
/// <c>recur translate train|eval|run</c>: encoder–decoder translation with attention over tab-separated sentence pairs,
/// scored by corpus BLEU (sacreBLEU's defaults).
/// </summary>
static class TranslateCommand
{

    public static Command Create()
    {
        var command = new Command("translate",
            "Sequence-to-sequence translation with attention (encoder–decoder), BLEU, attention maps.");
        command.Subcommands.Add(Train());
        command.Subcommands.Add(Eval());
        command.Subcommands.Add(Run());
        command.Subcommands.Add(Split());
        command.Subcommands.Add(BleuCommand());
        return command;
    }

    sealed class DataOptions
    {
        public readonly Option<bool> Reverse = new("--reverse")
        {
            Description = "Translate from the second column's language to the first's."
        };
        public readonly Option<int> MaxWords = new("--max-words")
        {
            Description = "Keep pairs of at most this many words on both sides (0: all).", DefaultValueFactory = _ => 10
        };
        public readonly Option<bool> StripAccents = new("--strip-accents")
        {
            Description = "Remove accents (NFD, combining marks dropped)."
        };
        public readonly Option<bool> KeepCase = new("--keep-case") { Description = "Do not lower-case." };
        public readonly Option<double> HeldOut = new("--held-out")
        {
            Description = "Share of the pairs held out at random for validation and BLEU.",
            DefaultValueFactory = _ => 0.05
        };
        public readonly Option<ulong> SplitSeed = new("--split-seed")
        {
            Description = "Seed of the held-out split.",
            DefaultValueFactory = _ => 1
        };

        public void AddTo(Command command)
        {
            foreach (Option o in new Option[] { Reverse, MaxWords, StripAccents, KeepCase, HeldOut,
                SplitSeed }) command.Options.Add(o);
        }

        public TranslationSettings Read(ParseResult r) => new(r.GetValue(Reverse), r.GetValue(MaxWords),
            r.GetValue(StripAccents), !r.GetValue(KeepCase), r.GetValue(HeldOut), r.GetValue(SplitSeed));
    }

    static (List<SentencePair> Train, List<SentencePair> HeldOut) ReadPairs(string path,
        TranslationSettings settings)
    {
        var pairs = SentencePairs.Read(path, settings.PairOptions);
        return SentencePairs.Split(pairs, settings.HeldOut, settings.SplitSeed);
    }

    static Command Train()
    {
        var pairs = new Option<string>("--pairs")
        {
            Description = "Tab-separated sentence pairs (source, target, optional attribution).",
            Required = true,
        };
        var data = new DataOptions();
        var attention = new Option<string>("--attention")
        {
            Description = "none, dot, general or additive.",
            DefaultValueFactory = _ => "general",
        };
        attention.AcceptOnlyFromAmong("none", "dot", "general", "additive");
        var cell = CellOption.Create(only: [CellKind.Lstm, CellKind.Gru], why: "the decoder runs single-step cells");
        var embed = new Option<int>("--embed") { Description = "Embedding width.", DefaultValueFactory = _ => 256 };
        var hidden = new Option<int>("--hidden")
        {
            Description = "Encoder units per direction (the decoder is as wide as the encoder output).",
            DefaultValueFactory = _ => 256,
        };
        var layers = new Option<int>("--layers")
        {
            Description = "Encoder and decoder layers.",
            DefaultValueFactory = _ => 1,
        };
        var unidirectional = new Option<bool>("--unidirectional")
        {
            Description = "A left-to-right encoder (default: bidirectional).",
        };
        var dropout = new Option<float>("--dropout")
        {
            Description = "Dropout on embeddings, between layers and before the output layer.",
            DefaultValueFactory = _ => 0.2f,
        };
        var minFrequency = new Option<int>("--min-frequency")
        {
            Description = "Words seen fewer times become <unk>.",
            DefaultValueFactory = _ => 1,
        };
        var teacherForcing = new TeacherForcingOptions();
        var timeLimit = new Option<double>("--time-limit")
        {
            Description = "Stop (with a checkpoint) after this many minutes (0: no limit).",
            DefaultValueFactory = _ => 0,
        };
        var json = new Option<bool>("--json") { Description = "Print the final metrics as JSON." };
        var training = new TrainingOptions(10, 64, 1e-3f, defaultClipNorm: 5f);
        var command = new Command("train", "Train an encoder–decoder translation model.")
        {
            pairs, attention, cell, embed, hidden, layers, unidirectional, dropout, minFrequency, timeLimit, json,
        };
        data.AddTo(command);
        teacherForcing.AddTo(command);
        training.AddTo(command);
        command.SetAction(r => CommandErrors.Guard(() =>
        {
            var s = training.Read(r);
            using var threadLimit = Parallelism.Limit(s.Threads);
            if (s.Out
                is null) throw new UsageException(
                "--out is required: the model, its vocabularies and checkpoints go there.");
            var settings = data.Read(r) with { Pairs = Path.GetFullPath(r.GetValue(pairs)!) };
            var (train, heldOut) = ReadPairs(r.GetValue(pairs)!, settings);
            var vocabulary = s.Resume != null ? TranslationVocabulary.Load(s.Out) : TranslationVocabulary.Build(train,
                r.GetValue(minFrequency));
            Directory.CreateDirectory(s.Out);
            vocabulary.Save(s.Out);
            RunSettingsJson.Save(Path.Combine(s.Out, TrainedModels.TranslationSettingsFile), settings,
                RunSettingsJson.Default.TranslationSettings);
            var config = new Seq2SeqConfig(vocabulary.Source.VocabularySize, vocabulary.Target.VocabularySize,
                r.GetValue(embed), r.GetValue(hidden), r.GetValue(layers),
                r.GetValue(cell)!, !r.GetValue(unidirectional), Enum.Parse<AttentionKind>(r.GetValue(attention)!,
                    ignoreCase: true), r.GetValue(dropout));
            var model = new Seq2Seq(config, new RandomGenerator(s.Seed));
            var task = new TranslationTask(model, vocabulary, train, heldOut.Count > 0 ? heldOut : null, s.Batch);
            AnsiConsole.MarkupLine("[bold]translate[/]: " + Markup.Escape(
                $"{train.Count:N0} training pairs, "
                + $"{heldOut.Count:N0} held out; vocabularies {vocabulary.Source.VocabularySize:N0} → "
                + $"{vocabulary.Target.VocabularySize:N0}; {config.Cell.Name()}, attention "
                + $"{config.Attention.ToString().ToLowerInvariant()}, "
                + $"{model.Parameters().Sum(p => (long)p.Length):N0} parameters."));
            var optimizer = TrainingOptions.CreateOptimizer(s, model.Parameters());
            var schedule = TrainingOptions.CreateSchedule(s, task.BatchesPerEpoch, MetricMode.Max);
            var options = TrainingOptions.CreateTrainerOptions(s, heldOut.Count > 0 ? "bleu" : "loss",
                heldOut.Count > 0 ? MetricMode.Max : MetricMode.Min);
            options = teacherForcing.Apply(r, options, (long)s.Epochs * task.BatchesPerEpoch);
            double minutes = r.GetValue(timeLimit);
            var result = TrainingOptions.Train(task, optimizer, options, schedule, s.Resume, minutes);
            if (result.Outcome == TrainingOutcome.Interrupted && !(minutes > 0)) return 130;
            var metrics = TrainingOptions.Summary(result);
            metrics["epochs"] = result.Epochs;
            if (result.BestMetric is double best) metrics["best"] = best;
            TrainingOptions.PrintMetrics(
                $"translate: {TrainingOptions.Outcome(result)} after {result.Steps} steps", metrics,
                r.GetValue(json));
            return 0;
        }));
        return command;
    }

    /// <summary>
    /// <c>translate split</c>: the training and held-out pairs exactly as <c>translate train</c> sees them, for another
    /// toolkit (the PyTorch peer in <c>bench/</c>): <c>source tokens TAB target tokens TAB target text</c> per line.
    /// </summary>
    static Command Split()
    {
        var pairs = new Option<string>("--pairs")
        {
            Description = "Tab-separated sentence pairs (source, target, optional attribution).",
            Required = true,
        };
        var output = new Option<string>("--out")
        {
            Description = "Folder for train.tsv and valid.tsv.",
            Required = true,
        };
        var data = new DataOptions();
        var command = new Command("split",
            "Write the normalised, tokenised training and held-out pairs (train.tsv, valid.tsv).") { pairs, output };
        data.AddTo(command);
        command.SetAction(r => CommandErrors.Guard(() =>
        {
            var (train, heldOut) = ReadPairs(r.GetValue(pairs)!, data.Read(r));
            var splitter = Text.WordLevelTokenizer.Build("",
                Text.WordSplitting.Words); // the splitting of TranslationVocabulary
            string folder = r.GetValue(output)!;
            Directory.CreateDirectory(folder);
            foreach (var (name, part) in new[] { ("train.tsv", train), ("valid.tsv", heldOut) })
                AtomicFile.WriteAllText(Path.Combine(folder, name), string.Concat(part.Select(p =>
                    $"{string.Join(' ', splitter.Split(p.Source))}\t{string.Join(' ', splitter.Split(p.Target))}\t"
                    + $"{p.Target}\n")));
            Console.WriteLine($"{train.Count:N0} training and {heldOut.Count:N0} held-out pairs in {folder}");
            return 0;
        }));
        return command;
    }

    /// <summary><c>translate bleu</c>: corpus BLEU of a file of translations against a file of references, line by
    /// line.</summary>
    static Command BleuCommand()
    {
        var hypotheses = new Option<string>("--hypotheses")
        {
            Description = "Translations, one per line.",
            Required = true,
        };
        var references = new Option<string>("--references")
        {
            Description = "References, one per line (a TSV's last column is used).",
            Required = true,
        };
        var json = new Option<bool>("--json") { Description = "Print the score as JSON." };
        var command = new Command("bleu",
            "Corpus BLEU of translations against references (sacreBLEU defaults).") { hypotheses, references, json };
        command.SetAction(r => CommandErrors.Guard(() =>
        {
            static List<string> Lines(string path)
            {
                var lines = Text.TextFiles.ReadUtf8(path).Split('\n').Select(l => l.TrimEnd('\r')).ToList();
                if (lines[^1].Length == 0) lines.RemoveAt(lines.Count - 1); // the final line end
                return lines;
            }
            var h = Lines(r.GetValue(hypotheses)!);
            var refs = Lines(r.GetValue(references)!).Select(l => l.Split('\t')[^1]).ToList();
            if (h.Count != refs.Count) throw new InvalidDataException(
                $"{r.GetValue(hypotheses)} has {h.Count} lines but {r.GetValue(references)} has {refs.Count}.");
            var score = Bleu.Corpus(h, refs);
            if (r.GetValue(json)) Console.WriteLine(new JsonObject
            {
                ["pairs"] = h.Count, ["bleu"] = score.Score,
                ["brevity_penalty"] = score.BrevityPenalty
            }.ToJsonString());
            else Console.WriteLine($"{h.Count} pairs: {score}");
            return 0;
        }));
        return command;
    }

    static Command Eval()
    {
        var model = new Option<string>("--model")
        {
            Description = "Run folder of `recur translate train`.",
            Required = true,
        };
        var pairs = new Option<string?>("--pairs")
        {
            Description = "Pairs to score (default: the held-out part of the training file, split as in training).",
        };
        var all = new Option<bool>("--all")
        {
            Description = "Score every pair of --pairs, not only the held-out ones.",
        };
        var beam = new Option<int>("--beam") { Description = "Beam width (1: greedy).", DefaultValueFactory = _ => 5 };
        var limit = new Option<int>("--limit")
        {
            Description = "Score at most this many pairs (0: all).",
            DefaultValueFactory = _ => 0,
        };
        var json = new Option<bool>("--json") { Description = "Print the score as JSON." };
        var int8 = Int8Inference.Option();
        var command = new Command("eval",
            "Corpus BLEU (sacreBLEU defaults: 13a tokenisation, 4-grams, brevity penalty).")
        {
            model, pairs, all, beam, limit, json, int8,
        };
        command.SetAction(r => CommandErrors.Guard(() =>
        {
            if (r.GetValue(beam) < 1) throw new UsageException("--beam must be positive.");
            var (seq2seq, vocabulary, settings) = TrainedModels.Translator(r.GetValue(model)!);
            if (r.GetValue(int8)) Int8Inference.Apply([seq2seq], r.GetValue(model)!);
            string path = r.GetValue(pairs) ?? settings.Pairs ?? throw new UsageException("give --pairs.");
            var (train, heldOut) = ReadPairs(path, settings);
            var scored = r.GetValue(all) ? train.Concat(heldOut).ToList() : heldOut;
            if (r.GetValue(limit) > 0) scored = scored.Take(r.GetValue(limit)).ToList();
            if (scored.Count == 0) throw new InvalidDataException($"{path}: no pairs to score.");
            var clock = System.Diagnostics.Stopwatch.StartNew();
            var score = TranslationTask.Score(seq2seq, vocabulary, scored, r.GetValue(beam));
            if (r.GetValue(json))
                Console.WriteLine(new JsonObject
                {
                    ["pairs"] = scored.Count, ["beam"] = r.GetValue(beam),
                    ["bleu"] = score.Score, ["brevity_penalty"] = score.BrevityPenalty,
                    ["seconds"] = clock.Elapsed.TotalSeconds
                }.ToJsonString());
            else Console.WriteLine(
                $"{scored.Count} pairs, beam {r.GetValue(beam)}: {score} ({clock.Elapsed.TotalSeconds:F1} s)");
            return 0;
        }));
        return command;
    }

    static Command Run()
    {
        var model = new Option<string>("--model")
        {
            Description = "Run folder of `recur translate train`.",
            Required = true,
        };
        var beam = new Option<int>("--beam") { Description = "Beam width (1: greedy).", DefaultValueFactory = _ => 5 };
        var plot = new Option<string?>("--plot")
        {
            Description = "Write the attention map of the first sentence to this path (PNG and SVG).",
        };
        var sentences = new Argument<string[]>("sentence")
        {
            Description = "Sentences to translate.",
            Arity = ArgumentArity.OneOrMore,
        };
        var int8 = Int8Inference.Option();
        var command = new Command("run", "Translate sentences (and draw the attention map).")
        {
            model, beam, plot, sentences, int8,
        };
        command.SetAction(r => CommandErrors.Guard(() =>
        {
            if (r.GetValue(beam) < 1) throw new UsageException("--beam must be positive.");
            var (seq2seq, vocabulary, settings) = TrainedModels.Translator(r.GetValue(model)!);
            if (r.GetValue(int8)) Int8Inference.Apply([seq2seq], r.GetValue(model)!);
            var options = settings.PairOptions;
            var inputs = r.GetValue(sentences)!.Select(x => SentencePairs.Normalise(x, options)).ToList();
            var translated = TranslationTask.Translate(seq2seq, vocabulary, inputs, r.GetValue(beam));
            for (int i
                = 0; i < inputs.Count; i++) Console.WriteLine(TranslationTask.Detokenize(vocabulary.Target.Decode(
                translated[i].Tokens)));
            if (r.GetValue(plot) is { } path)
            {
                var first = translated[0];
                if (first.Attention.Length == 0) throw new UsageException(
                    "the model has no attention to draw (--attention none).");
                var sourceTokens = vocabulary.EncodeSource(inputs[0]).Select(vocabulary.Source.TokenText).ToArray();
                var targetTokens
                    = first.Tokens.Select(vocabulary.Target.TokenText).Append("<eos>").Take(
                    first.Attention.Length).ToArray();
                var values = new double[targetTokens.Length, sourceTokens.Length];
                for (int t = 0; t < targetTokens.Length; t++)
                    for (int s = 0; s < sourceTokens.Length; s++) values[t, s] = first.Attention[t][s];
                var files = Charts.Heatmap(path, $"attention: {inputs[0]}", values, "source", "target", sourceTokens,
                    targetTokens);
                Console.Error.WriteLine($"figure: {files.Png}");
                Console.Error.WriteLine($"figure: {files.Svg}");
            }
            return 0;
        }));
        return command;
    }
}

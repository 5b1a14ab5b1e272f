using System.CommandLine;
using System.Globalization;
using System.Text.Json.Nodes;
using Recur.Cli.Training;
using Recur.Decoding;
using Recur.Kernels;
using Recur.Nn.Recurrent;
using Recur.Speech;
using Recur.Training;
using Spectre.Console;

namespace Recur.Cli;

/// <summary>
/// <c>recur speech train|eval|transcribe</c>: Deep Speech-style recognition (convolutions over the log-mel
/// spectrogram, bidirectional recurrent layers, CTC over characters) on the Free Spoken Digit Dataset, as isolated
/// digits or as connected-digit utterances made on the fly.
/// </summary>
static class SpeechCommand
{
    public static Command Create()
    {
        var command = new Command("speech", "Speech recognition with CTC (Deep Speech style) on spoken digits.");
        command.Subcommands.Add(Train());
        command.Subcommands.Add(Eval());
        command.Subcommands.Add(Transcribe());
        return command;
    }

    sealed record DataOptions(Option<string> Data, Option<string> Split, Option<string?> TestSpeakers,
        Option<string> Task, Option<int> Utterances)
    {
        public static DataOptions Create(bool required = true)
        {
            var data = new Option<string>("--data")
            {
                Description = "The Free Spoken Digit Dataset folder (recordings/{digit}_{speaker}_{take}.wav).",
                Required = required,
            };
            var split = new Option<string>("--split")
            {
                Description = "official (takes 0–4 are the test set) or speaker (the test speakers' recordings are).",
                DefaultValueFactory = _ => "official",
            };
            split.AcceptOnlyFromAmong("official", "speaker");
            var speakers = new Option<string?>("--test-speakers")
            {
                Description = "Comma-separated test speakers of --split speaker (default: the last two by name).",
            };
            var task = new Option<string>("--task")
            {
                Description = "digits (one word per recording) or connected (2–7 recordings joined with gaps and "
                    + "noise).",
                DefaultValueFactory = _ => "digits",
            };
            task.AcceptOnlyFromAmong("digits", "connected");
            var utterances = new Option<int>("--utterances")
            {
                Description = "Connected-digit utterances per training epoch (validation and test: a quarter of it).",
                DefaultValueFactory = _ => 2000,
            };
            return new(data, split, speakers, task, utterances);
        }

        public IEnumerable<Option> All => [Data, Split, TestSpeakers, Task, Utterances];

        public SpokenDigitCorpus Load(ParseResult r, SpeechFeatureConfig features)
        {
            var speakers = r.GetValue(TestSpeakers)?.Split(',', StringSplitOptions.RemoveEmptyEntries
                | StringSplitOptions.TrimEntries);
            if (speakers is { Length: > 0 } && r.GetValue(Split) != "speaker")
                throw new UsageException("--test-speakers goes with --split speaker.");
            string folder = r.GetValue(Data)!;
            if (!Directory.Exists(folder)) throw new UsageException($"--data {folder}: no such folder.");
            return SpokenDigitCorpus.Load(folder, features, r.GetValue(Split) == "speaker" ? SpeechSplit.Speaker
                : SpeechSplit.Official, speakers);
        }

        public bool Connected(ParseResult r) => r.GetValue(Task) == "connected";

        /// <summary>The evaluation set of <paramref name="recordings"/> for the task (connected: seeded by the
        /// split's name, so every run scores the same utterances).</summary>
        public IReadOnlyList<SpeechExample> Set(ParseResult r, SpokenDigitCorpus corpus,
            IReadOnlyList<DigitRecording> recordings, ulong seed) =>
            Connected(r) ? corpus.Connected(recordings, Math.Max(1, r.GetValue(Utterances) / 4), seed)
                : corpus.Isolated(recordings);
    }

    const ulong ValidationSeed = 0x5EED_0001, TestSeed = 0x5EED_0002;

    /// <summary>The character n-gram of the training transcripts that <c>--lm-weight</c> fuses into the beam.</summary>
    const string NgramFile = "ngram.json";
    const int NgramOrder = 5;

    static Command Train()
    {
        var data = DataOptions.Create();
        var cell = CellOption.Create(CellKind.Gru);
        var convLayers = new Option<int>("--conv-layers")
        {
            Description = "2-D convolutions over the spectrogram (1–3).", DefaultValueFactory = _ => 2,
        };
        var convChannels = new Option<int>("--conv-channels")
        {
            Description = "Filters per convolution.", DefaultValueFactory = _ => 32,
        };
        var hidden = new Option<int>("--hidden")
        {
            Description = "Units per direction.", DefaultValueFactory = _
            => 128
        };
        var layers = new Option<int>("--layers") { Description = "Recurrent layers.", DefaultValueFactory = _ => 2 };
        var unidirectional = new Option<bool>("--unidirectional") { Description = "Left to right only." };
        var dropout = new Option<float>("--dropout")
        {
            Description = "Dropout between recurrent layers and before the output layer.", DefaultValueFactory = _
                => 0.1f,
        };
        var mels = new Option<int>("--mels") { Description = "Log-mel bands.", DefaultValueFactory = _ => 40 };
        var specAugment = new Option<bool>("--spec-augment")
        {
            Description = "Mask random frequency bands and time spans of the training features (SpecAugment).",
        };
        var speedPerturb = new Option<bool>("--speed-perturb")
        {
            Description = "Play each training recording at 0.9, 1.0 or 1.1 times its speed, drawn anew every epoch.",
        };
        var noise = new Option<bool>("--noise")
        {
            Description = "Add white noise 20–40 dB below each isolated training recording, drawn anew every epoch "
                + "(connected digits always have it).",
        };
        var crop = new Option<bool>("--crop")
        {
            Description = "Cut half of the isolated training recordings short by up to 15% at each end, anew every "
                + "epoch (some speakers' recordings are trimmed tightly).",
        };
        var normalize = new Option<string>("--normalize")
        {
            Description = "utterance: each band to mean 0 and variance 1 over the utterance itself (robust to new "
                + "speakers and microphones); global: by the mean and standard deviation of the training audio, saved "
                + "with the model (best when the test audio is recorded like the training audio).",
            DefaultValueFactory = _ => "utterance",
        };
        normalize.AcceptOnlyFromAmong("utterance", "global");
        var json = new Option<bool>("--json") { Description = "Print the final metrics as JSON." };
        var training = new TrainingOptions(30, 32, 2e-3f, defaultClipNorm: 5f);
        var command = new Command("train", "Train a speech recogniser on spoken digits.")
        {
            cell, convLayers, convChannels, hidden, layers, unidirectional, dropout, mels, specAugment, speedPerturb,
            noise, crop, normalize, json,
        };
        foreach (var option in data.All) command.Options.Add(option);
        training.AddTo(command);
        command.SetAction(r => CommandErrors.Guard(() =>
        {
            var s = training.Read(r);
            using var threadLimit = Parallelism.Limit(s.Threads);
            if (s.Out is null) throw new UsageException("--out is required: the model and its checkpoints go there.");
            var config = new SpeechRecognizerConfig(new SpeechFeatureConfig(NMels: r.GetValue(mels)),
                ConvLayers: r.GetValue(convLayers), ConvChannels: r.GetValue(convChannels), Cell: r.GetValue(cell)!,
                HiddenSize: r.GetValue(hidden), NumLayers: r.GetValue(layers), Bidirectional: !r.GetValue(
                    unidirectional),
                Dropout: r.GetValue(dropout));
            try { config.Validate(); }
            catch (ArgumentException e) { throw new UsageException(e.Message); }
            var corpus = data.Load(r, config.Features);
            if (r.GetValue(normalize) == "global")
            {
                var trainingAudio = corpus.Train.Select(recording => corpus.Signal(recording));
                corpus = corpus.WithFeatures(config.Features.WithGlobalStatistics(trainingAudio));
                config = config with { Features = corpus.Features };
            }
            bool connected = data.Connected(r);
            int utterances = r.GetValue(data.Utterances);
            bool perturb = r.GetValue(speedPerturb), noisy = r.GetValue(noise), cropped = r.GetValue(crop);
            if (connected && (noisy || cropped))
                throw new UsageException("--noise and --crop apply to isolated digits (connected digits have noise).");
            var trainSet = perturb || noisy || cropped || connected ? null : corpus.Isolated(corpus.Train);
            ulong EpochSeed(int epoch) => s.Seed * 1_000_003UL + (ulong)epoch;
            Func<int, IReadOnlyList<SpeechExample>> makeEpoch = connected
                ? epoch => corpus.Connected(corpus.Train, utterances, EpochSeed(epoch), speedPerturbation: perturb)
                : trainSet is null ? epoch => corpus.Perturbed(corpus.Train, EpochSeed(epoch), perturb, noisy, cropped)
                    : _ => trainSet;
            // epoch 0 is made once: the n-gram below reads its transcripts, then the task trains on it
            (int Epoch, IReadOnlyList<SpeechExample> Data)? made = null;
            IReadOnlyList<SpeechExample> epochData(int epoch) => made is { } m && m.Epoch == epoch ? m.Data
                : (made = (epoch, makeEpoch(epoch))).Value.Data;
            var validSet = data.Set(r, corpus, corpus.Validation, ValidationSeed);
            var model = new SpeechRecognizer(config, new RandomGenerator(s.Seed));
            var extra = new JsonObject
            {
                ["task"] = r.GetValue(data.Task), ["split"] = r.GetValue(data.Split),
                ["spec_augment"] = r.GetValue(specAugment), ["speed_perturb"] = perturb, ["noise"] = noisy,
                ["crop"] = cropped,
            };
            var task = new SpeechTask(model, epochData, validSet, s.Batch,
                r.GetValue(specAugment) ? new SpecAugment() : null, extra);
            AnsiConsole.MarkupLine("[bold]speech[/]: " + Markup.Escape(
                $"{(connected ? $"{utterances} connected-digit utterances per epoch from " : "")}"
                + $"{corpus.Train.Count} training recordings, {validSet.Count} validation utterances; "
                + $"{config.ConvLayers} conv × {config.ConvChannels} → "
                + $"{(config.Bidirectional ? "bi" : "")}{config.Cell.Name()} ×{config.NumLayers}, "
                + $"{config.HiddenSize} units, "
                + $"{model.Parameters().Sum(p => (long)p.Length):N0} parameters."));
            Directory.CreateDirectory(s.Out);
            LabelNgram.Train(epochData(0).Select(e => model.Alphabet.Encode(e.Transcript)), NgramOrder,
                model.Alphabet.Classes).Save(Path.Combine(s.Out, NgramFile));
            var optimizer = TrainingOptions.CreateOptimizer(s, model.Parameters());
            var schedule = TrainingOptions.CreateSchedule(s, task.BatchesPerEpoch, Optim.MetricMode.Min);
            var options = TrainingOptions.CreateTrainerOptions(s, "wer", Optim.MetricMode.Min);
            var result = TrainingOptions.Train(task, optimizer, options, schedule, s.Resume);
            if (result.Outcome == TrainingOutcome.Interrupted) return 130;
            var metrics = TrainingOptions.Summary(result);
            TrainingOptions.PrintMetrics($"speech: {TrainingOptions.Outcome(result)} after "
                + $"{result.Epochs} epochs (validation)", metrics, r.GetValue(json));
            return 0;
        }));
        return command;
    }

    static SpeechRecognizer Load(string folder)
    {
        if (!Directory.Exists(folder)) throw new UsageException($"{folder}: no such model folder.");
        return Checkpoint.Open(folder, config => new SpeechRecognizer(SpeechRecognizerConfig.FromJson(config),
            new RandomGenerator(0)));
    }

    static Option<int> Beam() => new("--beam")
    {
        Description = "Prefix beam width of the CTC decoder (1: greedy best path).", DefaultValueFactory = _ => 1,
    };

    sealed record FusionOptions(Option<double> Weight, Option<double> Bonus)
    {
        public static FusionOptions Create() => new(new("--lm-weight")
        {
            Description = "Weight of the character n-gram of the training transcripts in the beam (shallow fusion; "
                + "0: none). Needs --beam > 1.",
            DefaultValueFactory = _ => 0,
        }, new("--lm-bonus")
        {
            Description = "Score added per character under --lm-weight (offsets the language model's preference "
                + "for short outputs).",
            DefaultValueFactory = _ => 0,
        });

        public IEnumerable<Option> All => [Weight, Bonus];

        public LanguageModelFusion? Read(ParseResult r, string modelFolder, int beam)
        {
            double weight = r.GetValue(Weight);
            if (weight == 0) return null;
            if (beam <= 1) throw new UsageException("--lm-weight needs a beam: add --beam 8 or so.");
            string path = Path.Combine(modelFolder, NgramFile);
            if (!File.Exists(path)) throw new UsageException($"--lm-weight: {path} is missing (train writes it).");
            return new(LabelNgram.Load(path), weight, r.GetValue(Bonus));
        }
    }

    static Command Eval()
    {
        var model = new Option<string>("--model")
        {
            Description = "Run folder of `recur speech train`.",
            Required = true
        };
        var data = DataOptions.Create();
        var beam = Beam();
        var json = new Option<bool>("--json") { Description = "Print the report as JSON." };
        var errors = new Option<bool>("--errors") { Description = "List every utterance transcribed wrongly." };
        var fusion = FusionOptions.Create();
        var command = new Command("eval", "Accuracy, CER and WER on the test set; the confusion of digits.")
        {
            model, beam, json, errors,
        };
        foreach (var option in fusion.All) command.Options.Add(option);
        foreach (var option in data.All) command.Options.Add(option);
        command.SetAction(r => CommandErrors.Guard(() =>
        {
            var recognizer = Load(r.GetValue(model)!);
            var lm = fusion.Read(r, r.GetValue(model)!, r.GetValue(beam));
            var corpus = data.Load(r, recognizer.Config.Features);
            var set = data.Set(r, corpus, corpus.Test, TestSeed);
            var report = SpeechTask.Report(recognizer, set, r.GetValue(beam), fusion: lm);
            if (r.GetValue(json))
            {
                Console.WriteLine(new JsonObject
                {
                    ["utterances"] = set.Count, ["loss"] = report.Loss, ["accuracy"] = report.Accuracy,
                    ["cer"] = report.CharacterErrorRate, ["wer"] = report.WordErrorRate, ["beam"] = r.GetValue(beam),
                    ["lm_weight"] = r.GetValue(fusion.Weight),
                }.ToJsonString());
                return 0;
            }
            AnsiConsole.MarkupLine(Markup.Escape(
                $"{set.Count} test utterances ({r.GetValue(data.Task)}, {r.GetValue(data.Split)} split, "
                + $"{(r.GetValue(beam) > 1 ? $"beam {r.GetValue(beam)}" : "greedy")}"
                + $"{(lm is null ? "" : $", n-gram weight {lm.Weight}")}): exactly right "
                + $"{report.Accuracy:P2}, CER {report.CharacterErrorRate:P2}, WER "
                + $"{report.WordErrorRate:P2}, CTC loss {report.Loss:F4}"));
            if (!data.Connected(r)) AnsiConsole.Write(Confusion(set, report));
            if (r.GetValue(errors))
                for (int i = 0; i < set.Count; i++)
                    if (report.Hypotheses[i] != set[i].Transcript)
                        Console.WriteLine($"{(data.Connected(r) ? $"utterance {i}" : corpus.Test[i].Path)}\t"
                            + $"said \"{set[i].Transcript}\"\theard \"{report.Hypotheses[i]}\"");
            return 0;
        }));
        return command;
    }

    /// <summary>Digits (rows: spoken) against what was transcribed (a digit's word, or "other").</summary>
    static Table Confusion(IReadOnlyList<SpeechExample> set, SpeechReport report)
    {
        var words = SpokenDigits.Words;
        var counts = new int[10, 11];
        for (int i = 0; i < set.Count; i++)
        {
            int truth = IndexOf(words, set[i].Transcript), said = IndexOf(words, report.Hypotheses[i]);
            counts[truth, said < 0 ? 10 : said]++;
        }
        var table = new Table().Title("confusion (rows: digit spoken, columns: digit transcribed; ?: anything else)")
            .AddColumn("");
        foreach (string c in Enumerable.Range(0, 10).Select(d => d.ToString(CultureInfo.InvariantCulture)).Append("?"))
            table.AddColumn(new TableColumn(c).RightAligned());
        for (int d = 0; d < 10; d++)
            table.AddRow([$"{d} {words[d]}", .. Enumerable.Range(0, 11).Select(k => counts[d, k] == 0 ? "·"
                : counts[d, k].ToString(CultureInfo.InvariantCulture))]);
        return table;
    }

    static int IndexOf(IReadOnlyList<string> words, string word)
    {
        for (int i = 0; i < words.Count; i++) if (words[i] == word) return i;
        return -1;
    }

    static Command Transcribe()
    {
        var model = new Option<string>("--model")
        {
            Description = "Run folder of `recur speech train`.",
            Required = true
        };
        var beam = Beam();
        var plot = new Option<string?>("--plot")
        {
            Description = "Draw the first file's spectrogram with the CTC character probabilities over time to this "
                + "base path (.png and .svg).",
        };
        var files = new Argument<string[]>("file") { Description = "WAV files.", Arity = ArgumentArity.OneOrMore };
        var fusion = FusionOptions.Create();
        var command = new Command("transcribe", "Print the text of each WAV file.") { model, beam, plot, files };
        foreach (var option in fusion.All) command.Options.Add(option);
        command.SetAction(r => CommandErrors.Guard(() =>
        {
            var recognizer = Load(r.GetValue(model)!);
            var paths = r.GetValue(files)!;
            var features = paths.Select(p => recognizer.Config.Features.Compute(
                Recur.Data.Audio.Load(p, recognizer.Config.Features.SampleRate))).ToArray();
            var texts = recognizer.Transcribe(features, r.GetValue(beam),
                fusion: fusion.Read(r, r.GetValue(model)!, r.GetValue(beam)));
            for (int i = 0; i < paths.Length; i++) Console.WriteLine($"{paths[i]}\t{texts[i]}");
            if (r.GetValue(plot) is { } basePath)
            {
                var figure = SpeechFigure.Draw(basePath, Path.GetFileName(paths[0]), features[0],
                    (double)recognizer.Config.Features.Hop / recognizer.Config.Features.SampleRate,
                    recognizer.FrameProbabilities(features[0]), recognizer.Alphabet, texts[0]);
                Console.Error.WriteLine($"figure: {figure.Png}, {figure.Svg}");
            }
            return 0;
        }));
        return command;
    }
}

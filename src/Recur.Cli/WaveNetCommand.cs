using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using Recur.Cli.Training;
using Recur.Data;
using Recur.Kernels;
using Recur.Speech;
using Recur.Training;
using Recur.WaveNet;
using Spectre.Console;

namespace Recur.Cli;

/// <summary>
/// <c>recur wavenet train|generate|eval</c>: WaveNet on μ-law audio — the Free Spoken Digit Dataset conditioned on the
/// digit or the speaker, or any WAV files — with fast generation written as WAV.
/// </summary>
static class WaveNetCommand
{
    public static Command Create()
    {
        var command = new Command("wavenet", "WaveNet: dilated causal convolutions that model and generate audio.");
        command.Subcommands.Add(Train());
        command.Subcommands.Add(Generate());
        command.Subcommands.Add(Eval());
        return command;
    }

    /// <summary>The recordings of a run: training, validation and test, with the label names of the
    /// conditioning.</summary>
    sealed record AudioSets(List<CodedAudio> Train, List<CodedAudio> Valid, List<CodedAudio> Test, string[] Labels);

    static Option<string?> DataOption() => new("--data")
    {
        Description = "The Free Spoken Digit Dataset folder (official split: takes 0–4 test, 5–9 validation).",
    };

    static Option<string[]> WavOption() => new("--wav")
    {
        Description = "WAV files instead of --data (the last tenth is held out); no conditioning.",
        AllowMultipleArgumentsPerToken = true,
    };

    static AudioSets Load(string? data, string[]? wavs, string condition, int sampleRate, int levels)
    {
        if ((data is null) == (wavs is null or { Length: 0 }))
            throw new UsageException("give either --data (the spoken digits) or --wav FILE....");
        if (data is null)
        {
            if (condition != "none") throw new UsageException("--condition digit|speaker needs --data.");
            var coded = wavs!.Select(w => new CodedAudio(MuLaw.Encode(Audio.Load(w, sampleRate), levels))).ToList();
            int held = Math.Max(1, coded.Count / 10);
            if (coded.Count < 2) throw new UsageException("--wav needs at least two files (one is held out).");
            return new(coded[..^held], coded[^held..], coded[^held..], []);
        }
        if (!Directory.Exists(data)) throw new UsageException($"--data {data}: no such folder.");
        var corpus = SpokenDigitCorpus.Load(data, new SpeechFeatureConfig(SampleRate: sampleRate),
            SpeechSplit.Official);
        var speakers = SpokenDigits.Speakers(corpus.Train).ToArray();
        string[] labels = condition switch
        {
            "digit" => [.. SpokenDigits.Words],
            "speaker" => speakers,
            _ => [],
        };
        CodedAudio Code(DigitRecording r) => new(MuLaw.Encode(corpus.Signal(r), levels), condition switch
        {
            "digit" => r.Digit,
            "speaker" => Array.IndexOf(speakers, r.Speaker),
            _ => -1,
        });
        return new(corpus.Train.Select(Code).ToList(), corpus.Validation.Select(Code).ToList(),
            corpus.Test.Select(Code).ToList(), labels);
    }

    static string I(FormattableString text) => FormattableString.Invariant(text);

    static Option<string> ConditionOption() => new("--condition")
    {
        Description = "Global conditioning of --data: digit, speaker or none.", DefaultValueFactory = _ => "digit",
    };

    /// <summary>Every <c>n</c>-th recording so that at most <paramref name="limit"/> remain (all digits and speakers
    /// stay represented).</summary>
    static List<CodedAudio> Thin(List<CodedAudio> recordings, int limit) => limit <= 0 || recordings.Count <= limit
        ? recordings : recordings.Where((_, i) => i % ((recordings.Count + limit - 1) / limit) == 0).ToList();

    static Command Train()
    {
        var data = DataOption();
        var wav = WavOption();
        var condition = ConditionOption();
        condition.AcceptOnlyFromAmong("digit", "speaker", "none");
        var residual = new Option<int>("--residual")
        {
            Description = "Residual channels.", DefaultValueFactory = _
            => 32
        };
        var gate = new Option<int>("--gate-channels")
        {
            Description = "Channels of each gated unit.",
            DefaultValueFactory = _ => 32
        };
        var skip = new Option<int>("--skip") { Description = "Skip and head channels.", DefaultValueFactory = _ => 64 };
        var layers = new Option<int>("--layers")
        {
            Description = "Dilated layers per stack (dilations 1 … 2^(layers−1)).", DefaultValueFactory = _ => 9,
        };
        var stacks = new Option<int>("--stacks")
        {
            Description = "Stacks of dilated layers.", DefaultValueFactory = _
            => 2
        };
        var crop = new Option<int>("--crop")
        {
            Description = "Samples predicted per training crop.", DefaultValueFactory = _ => 2000,
        };
        var validLimit = new Option<int>("--valid-limit")
        {
            Description = "Validate on at most this many held-out recordings (0: all).", DefaultValueFactory = _ => 60,
        };
        var architecture = new Option<string>("--architecture")
        {
            Description = "wavenet, or lstm: the sample-level recurrent baseline (--hidden, --embed).",
            DefaultValueFactory = _ => "wavenet",
        };
        architecture.AcceptOnlyFromAmong("wavenet", "lstm");
        var hidden = new Option<int>("--hidden") { Description = "LSTM units (lstm).", DefaultValueFactory = _ => 160 };
        var embed = new Option<int>("--embed")
        {
            Description = "Code embedding (lstm).", DefaultValueFactory = _
            => 32
        };
        var timeLimit = new Option<double>("--time-limit")
        {
            Description = "Stop (with a checkpoint) after this many minutes of training (0: no limit).",
            DefaultValueFactory = _ => 0,
        };
        var json = new Option<bool>("--json") { Description = "Print the final metrics as JSON." };
        var training = new TrainingOptions(10, 8, 1e-3f, defaultClipNorm: 1f);
        var command = new Command("train", "Train a WaveNet with teacher forcing on random crops.")
        {
            data, wav, condition, architecture, residual, gate, skip, layers, stacks, hidden, embed, crop, validLimit,
            timeLimit, json,
        };
        training.AddTo(command);
        command.SetAction(r => CommandErrors.Guard(() =>
        {
            var s = training.Read(r);
            using var threadLimit = Parallelism.Limit(s.Threads);
            if (s.Out is null) throw new UsageException("--out is required: the model and its checkpoints go there.");
            string mode = r.GetValue(data) is null ? "none" : r.GetValue(condition)!;
            var probe = new WaveNetConfig(ResidualChannels: r.GetValue(residual), DilationChannels: r.GetValue(gate),
                SkipChannels: r.GetValue(skip), LayersPerStack: r.GetValue(layers), Stacks: r.GetValue(stacks));
            try { probe.Validate(); }
            catch (ArgumentException e) { throw new UsageException(e.Message); }
            var sets = Load(r.GetValue(data), r.GetValue(wav), mode, probe.SampleRate, probe.Levels);
            bool lstm = r.GetValue(architecture) == "lstm";
            var config = probe with { GlobalConditions = sets.Labels.Length };
            IAudioCodeModel model = lstm
                ? new SampleLstm(new SampleLstmConfig(config.Levels, r.GetValue(embed), r.GetValue(hidden),
                    sets.Labels.Length, config.SampleRate), new RandomGenerator(s.Seed))
                : new WaveNetModel(config, new RandomGenerator(s.Seed));
            var valid = Thin(sets.Valid, r.GetValue(validLimit));
            var task = new WaveNetTask(model, sets.Train, valid, s.Batch, r.GetValue(crop), new JsonObject
            {
                ["condition"] = mode, ["labels"] = new JsonArray(sets.Labels.Select(l => (JsonNode)l).ToArray()),
            });
            long parameters = model.Module.Parameters().Sum(p => (long)p.Length);
            AnsiConsole.MarkupLine(Markup.Escape($"wavenet: {sets.Train.Count} recordings, {valid.Count} for "
                + "validation; " + (lstm ? $"sample-level LSTM of {r.GetValue(hidden)} units"
                    : $"{config.Stacks} stacks × {config.LayersPerStack} layers, receptive field "
                    + $"{config.ReceptiveField} samples ({1000.0 * config.ReceptiveField / config.SampleRate:F0} ms)")
                + $", {parameters:N0} parameters, conditioned on {mode}."));
            var optimizer = TrainingOptions.CreateOptimizer(s, model.Module.Parameters());
            var schedule = TrainingOptions.CreateSchedule(s, task.BatchesPerEpoch, Optim.MetricMode.Min);
            var options = TrainingOptions.CreateTrainerOptions(s, "loss", Optim.MetricMode.Min);
            double minutes = r.GetValue(timeLimit);
            var result = TrainingOptions.Train(task, optimizer, options, schedule, s.Resume, minutes);
            if (result.Outcome == TrainingOutcome.Interrupted && minutes == 0) return 130;
            var metrics = TrainingOptions.Summary(result);
            metrics["histogram_bits_per_sample"] = WaveNetTask.HistogramCrossEntropy(sets.Train, valid, config.Levels)
                / Math.Log(2);
            TrainingOptions.PrintMetrics($"wavenet: {TrainingOptions.Outcome(result)} after "
                + $"{result.Epochs} epochs (validation)", metrics, r.GetValue(json));
            return 0;
        }));
        return command;
    }

    static (IAudioCodeModel Model, string Condition, string[] Labels) Load(string folder)
    {
        if (!Directory.Exists(folder)) throw new UsageException($"{folder}: no such model folder.");
        var config = Checkpoint.ReadConfig(Checkpoint.Locate(folder));
        IAudioCodeModel model = (string?)config["architecture"] == "sample_lstm"
            ? Checkpoint.Open(folder, c => new SampleLstm(SampleLstmConfig.FromJson(c), new RandomGenerator(0)))
            : Checkpoint.Open(folder, c => new WaveNetModel(WaveNetConfig.FromJson(c), new RandomGenerator(0)));
        string condition = (string?)config["condition"] ?? "none";
        var labels = config["labels"]?.AsArray().Select(l => (string)l!).ToArray() ?? [];
        return (model, condition, labels);
    }

    static Command Generate()
    {
        var model = new Option<string>("--model")
        {
            Description = "Run folder of `recur wavenet train`.",
            Required = true
        };
        var seconds = new Option<double>("--seconds")
        {
            Description = "Seconds of audio.", DefaultValueFactory = _
            => 1
        };
        var condition = new Option<string?>("--condition")
        {
            Description = "The label to generate (a digit word or number, or a speaker), for conditioned models.",
        };
        var output = new Option<string>("--out") { Description = "The WAV file to write.", Required = true };
        var temperature = new Option<float>("--temperature")
        {
            Description = "Sampling temperature (0: always the most likely code).", DefaultValueFactory = _ => 1f,
        };
        var seed = new Option<ulong>("--seed") { Description = "Seed of the sampling.", DefaultValueFactory = _ => 1 };
        var compare = new Option<bool>("--compare-naive")
        {
            Description = "Also time naive recomputation of the receptive field per sample (on a short stretch) and "
                + "print the speed-up.",
        };
        var plot = new Option<string?>("--plot")
        {
            Description = "Draw the generated audio's log-mel spectrogram with its waveform under it to BASE.png/.svg "
                + "(and --real's to BASE-real.png/.svg).",
        };
        var real = new Option<string?>("--real") { Description = "A real recording to draw beside it (with --plot)." };
        var command = new Command("generate", "Generate audio sample by sample (fast queues) and write it as WAV.")
        {
            model, seconds, condition, output, temperature, seed, compare, plot, real,
        };
        command.SetAction(r => CommandErrors.Guard(() =>
        {
            var (loaded, mode, labels) = Load(r.GetValue(model)!);
            var wavenet = loaded as WaveNetModel ?? throw new UsageException(
                "generate runs WaveNet models; the sample-level LSTM is a baseline for eval only.");
            int? label = null;
            if (labels.Length > 0)
            {
                string value = r.GetValue(condition) ?? throw new UsageException(
                    $"the model is conditioned on the {mode}: give --condition ({string.Join(", ", labels)}).");
                int index = Array.IndexOf(labels, value);
                if (index < 0 && mode == "digit" && int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture,
                    out int digit) && digit < 10) index = digit;
                if (index < 0) throw new UsageException(
                    $"--condition {value}: not one of {string.Join(", ", labels)}.");
                label = index;
            }
            else if (r.GetValue(condition) != null) throw new UsageException("the model has no conditioning.");
            int count = (int)Math.Round(r.GetValue(seconds) * wavenet.Config.SampleRate);
            if (count < 1) throw new UsageException("--seconds must give at least one sample.");
            var generator = new WaveNetGenerator(wavenet, label);
            var clock = Stopwatch.StartNew();
            var codes = generator.Generate(count, new RandomGenerator(r.GetValue(seed)), r.GetValue(temperature));
            double fastRate = count / clock.Elapsed.TotalSeconds;
            string path = r.GetValue(output)!;
            Wav.Write(path, new WavAudio(wavenet.Config.SampleRate, 1, MuLaw.Decode(codes, wavenet.Config.Levels)));
            Console.WriteLine((
                I($"{path}: {count} samples ({count / (double)wavenet.Config.SampleRate:F2} s) in ")
                + I($"{clock.Elapsed.TotalSeconds:F2} s, {fastRate:F0} samples/s ")
                + I($"({fastRate / wavenet.Config.SampleRate:F1}× ")
                + I($"real time; receptive field {wavenet.Config.ReceptiveField})")));
            if (r.GetValue(plot) is { } basePath)
            {
                var generated = MuLaw.Decode(codes, wavenet.Config.Levels);
                Console.Error.WriteLine($"figure: {AudioFigure(basePath, "generated" + (label is int l
                    ? $" ({labels[l]})" : ""), generated, wavenet.Config.SampleRate).Png}");
                if (r.GetValue(real) is { } realPath)
                    Console.Error.WriteLine($"figure: {AudioFigure(basePath + "-real", Path.GetFileName(realPath),
                        Audio.Load(realPath, wavenet.Config.SampleRate), wavenet.Config.SampleRate).Png}");
            }
            if (r.GetValue(compare))
            {
                int stretch = Math.Min(count, 200);
                clock.Restart();
                WaveNetGenerator.GenerateNaive(wavenet, stretch, new RandomGenerator(r.GetValue(seed)),
                    r.GetValue(temperature), condition: label);
                double naiveRate = stretch / clock.Elapsed.TotalSeconds;
                Console.WriteLine((
                    I($"naive recomputation: {naiveRate:F0} samples/s; the fast algorithm is ")
                    + I($"{fastRate / naiveRate:F0}× ")
                    + "faster"));
            }
            return 0;
        }));
        return command;
    }

    /// <summary>The log-mel spectrogram of <paramref name="signal"/> with its waveform under it.</summary>
    static Figures.FigureFiles AudioFigure(string basePath, string title, float[] signal, int sampleRate)
    {
        var features = new SpeechFeatureConfig(SampleRate: sampleRate).Compute(signal);
        int frames = features.GetLength(0), bands = features.GetLength(1);
        var spectrogram = new double[bands, frames];
        for (int t = 0; t < frames; t++)
            for (int m = 0; m < bands; m++) spectrogram[bands - 1 - m, t] = features[t, m];
        int step = Math.Max(1, signal.Length / 4000);
        var x = Enumerable.Range(0, signal.Length / step).Select(i => (double)i * step / sampleRate).ToArray();
        var y = Enumerable.Range(0, signal.Length / step).Select(i => 0.5 + 0.5 * signal[i * step]).ToArray();
        return Figures.Charts.SpectrogramWithLines(basePath, title + " (waveform under the log-mel spectrogram)",
            spectrogram, 80.0 / sampleRate, [new Figures.Series("waveform", x, y)], lowerLabel: "sample",
            lowerTicks: [(0, "−1"), (0.5, "0"), (1, "1")]);
    }

    static Command Eval()
    {
        var model = new Option<string>("--model")
        {
            Description = "Run folder of `recur wavenet train`.",
            Required = true
        };
        var data = DataOption();
        var wav = WavOption();
        var json = new Option<bool>("--json") { Description = "Print the result as JSON." };
        var command = new Command("eval", "Bits per sample on the test recordings, beside the no-context baseline.")
        {
            model, data, wav, json,
        };
        command.SetAction(r => CommandErrors.Guard(() =>
        {
            var (wavenet, mode, _) = Load(r.GetValue(model)!);
            int rate = (int?)Checkpoint.ReadConfig(Checkpoint.Locate(r.GetValue(model)!))["sample_rate"] ?? 8000;
            var sets = Load(r.GetValue(data), r.GetValue(wav), r.GetValue(data) is null ? "none" : mode, rate,
                wavenet.Levels);
            double bits = WaveNetTask.NegativeLogLikelihood(wavenet, sets.Test) / Math.Log(2);
            double histogram = WaveNetTask.HistogramCrossEntropy(sets.Train, sets.Test, wavenet.Levels)
                / Math.Log(2);
            if (r.GetValue(json))
            {
                Console.WriteLine(new JsonObject
                {
                    ["recordings"] = sets.Test.Count, ["bits_per_sample"] = bits,
                    ["histogram_bits_per_sample"] = histogram,
                }.ToJsonString());
                return 0;
            }
            string name = wavenet is Recur.WaveNet.SampleLstm ? "sample-level LSTM" : "WaveNet";
            Console.WriteLine((
                I($"{sets.Test.Count} test recordings: {name} {bits:F3} bits/sample; μ-law histogram of the training ")
                + I($"audio (no context) {histogram:F3} bits/sample")));
            return 0;
        }));
        return command;
    }
}

using System.CommandLine;
using Recur.Cli.Bench;
using Recur.Kernels;

namespace Recur.Cli;

/// <summary><c>recur bench ...</c>: speed measured against the PyTorch/OpenBLAS peers in the same run.</summary>
static class BenchCommand
{
    public static Command Create()
    {
        var bench = new Command("bench",
            "Benchmarks against Debian's numpy/PyTorch (OpenBLAS), measured in the same run.");

        var threads = new Option<int[]>("--threads")
        {
            Description = "Thread counts to measure (default: 1 and 2).",
            AllowMultipleArgumentsPerToken = true,
            DefaultValueFactory = _ => [1, 2],
        };
        var seconds = new Option<double>("--seconds")
        {
            Description = "Minimum timed seconds per figure.",
            DefaultValueFactory = _ => 1.0,
        };
        var json = new Option<bool>("--json") { Description = "Print the figures as JSON." };
        var isa = new Option<GemmIsa>("--isa")
        {
            Description = "Force a GEMM micro-kernel path.",
            DefaultValueFactory = _ => GemmIsa.Auto,
        };
        var gemm = new Command("gemm",
            "GFLOP/s of Recur's GEMM and OpenBLAS for 256³, 1024³, 2048³ and the RNN shape 64×1024×384.")
        {
            threads, seconds, json, isa,
        };
        gemm.SetAction(r => GemmBench.Run(r.GetValue(threads)!, r.GetValue(seconds), r.GetValue(json),
            r.GetValue(isa)));
        bench.Subcommands.Add(gemm);

        var rnnTiming = PeerTiming.Create("Timed runs per figure", seconds: 1.0);
        var rnnMode = new Option<string?>("--mode")
        {
            Description = "Only the configurations of one cell: LSTM, GRU or RNN_TANH (no memory figure).",
        };
        var rnnCells = new Option<string?>("--cell")
        {
            Description = "Comma-separated Recur cells to time against the plain LSTM at T=100 B=64 I=128 H=256 "
                + $"({string.Join(", ", Recur.Nn.Recurrent.RecurrentCells.Names)}); PyTorch too for the cells it has.",
        };
        var rnn = new Command("rnn",
            "Steps/s of Recur's fused LSTM/GRU/RNN layers and PyTorch's, forward and forward+backward, int8 forward at "
                + "batch 1 (both quantised dynamically), and ONNX "
                + "Runtime's forward on the same layers exported (from a clone of the repository).")
        {
            rnnTiming.Threads, rnnTiming.Seconds, rnnTiming.Json, rnnMode, rnnCells, rnnTiming.Repeat,
        };
        rnn.SetAction(r => r.GetValue(rnnCells) is { } cellList
            ? RnnBench.RunCells(cellList, r.GetValue(rnnTiming.Threads), r.GetValue(rnnTiming.Seconds),
                r.GetValue(rnnTiming.Json), r.GetValue(rnnTiming.Repeat))
            : RnnBench.Run(r.GetValue(rnnTiming.Threads), r.GetValue(rnnTiming.Seconds), r.GetValue(rnnTiming.Json),
                r.GetValue(rnnMode), r.GetValue(rnnTiming.Repeat)));
        bench.Subcommands.Add(rnn);

        var convTiming = PeerTiming.Create("Timed runs per figure", seconds: 1.0);
        var convRounds = new Option<int>("--rounds")
        {
            Description = "Alternating rounds of PyTorch and Recur (each figure the median of the rounds).",
            DefaultValueFactory = _ => 3,
        };
        var conv = new Command("conv",
            "Recur's convolutions and PyTorch's on a speech-sized 2-D and a WaveNet-sized 1-D shape.")
        {
            convTiming.Threads, convTiming.Seconds, convTiming.Json, convTiming.Repeat, convRounds,
        };
        conv.SetAction(r => ConvBench.Run(r.GetValue(convTiming.Threads), r.GetValue(convTiming.Seconds),
            r.GetValue(convTiming.Json), r.GetValue(convTiming.Repeat), r.GetValue(convRounds)));
        bench.Subcommands.Add(conv);

        var speechTiming = PeerTiming.Create("Timed steps", repeat: 10);
        var speechBatch = new Option<int>("--batch")
        {
            Description = "Utterances per step.", DefaultValueFactory = _
            => 32
        };
        var speechFrames = new Option<int>("--frames")
        {
            Description = "Feature frames per utterance (43: the median spoken digit, 0.42 s).",
            DefaultValueFactory = _ => 43,
        };
        var speech = new Command("speech",
            "Training steps per second of the default speech recogniser against the same network in PyTorch.")
        {
            speechTiming.Threads, speechTiming.Seconds, speechTiming.Json, speechTiming.Repeat, speechBatch,
            speechFrames,
        };
        speech.SetAction(r => SpeechBench.Run(r.GetValue(speechTiming.Threads), r.GetValue(speechTiming.Seconds),
            r.GetValue(speechTiming.Json), r.GetValue(speechTiming.Repeat), r.GetValue(speechBatch),
            r.GetValue(speechFrames)));
        bench.Subcommands.Add(speech);

        var waveTiming = PeerTiming.Create("Timed steps");
        var waveBatch = new Option<int>("--batch") { Description = "Crops per step.", DefaultValueFactory = _ => 8 };
        var waveCrop = new Option<int>("--crop") { Description = "Samples per crop.", DefaultValueFactory = _ => 2000 };
        var wave = new Command("wavenet",
            "Training samples per second of the default WaveNet against the same network in PyTorch.")
        {
            waveTiming.Threads, waveTiming.Seconds, waveTiming.Json, waveTiming.Repeat, waveBatch, waveCrop,
        };
        wave.SetAction(r => WaveNetBench.Run(r.GetValue(waveTiming.Threads), r.GetValue(waveTiming.Seconds),
            r.GetValue(waveTiming.Json), r.GetValue(waveTiming.Repeat), r.GetValue(waveBatch), r.GetValue(waveCrop)));
        bench.Subcommands.Add(wave);

        var forecastTiming = PeerTiming.Create("Timed steps");
        var forecastBatch = new Option<int>("--batch")
        {
            Description = "Windows per step.", DefaultValueFactory = _ => 128
        };
        var forecastModel = new Option<string>("--model")
        {
            Description = "global: the network correcting Theta; deepar: the DeepAR-style model with a Gaussian head.",
            DefaultValueFactory = _ => "global",
        };
        forecastModel.AcceptOnlyFromAmong("global", "deepar");
        var forecast = new Command("forecast",
            "Training windows per second of a many-series forecaster (M3 quarterly settings) against the same network "
            + "in PyTorch.")
        {
            forecastTiming.Threads, forecastTiming.Seconds, forecastTiming.Json, forecastTiming.Repeat, forecastBatch,
                forecastModel,
        };
        forecast.SetAction(r => r.GetValue(forecastModel) == "deepar"
            ? ForecastBench.RunDeepAr(r.GetValue(forecastTiming.Threads), r.GetValue(forecastTiming.Seconds),
                r.GetValue(forecastTiming.Json), r.GetValue(forecastTiming.Repeat), r.GetValue(forecastBatch))
            : ForecastBench.Run(r.GetValue(forecastTiming.Threads), r.GetValue(forecastTiming.Seconds),
                r.GetValue(forecastTiming.Json), r.GetValue(forecastTiming.Repeat), r.GetValue(forecastBatch)));
        bench.Subcommands.Add(forecast);

        var generateTiming = PeerTiming.Create("Timed generations");
        var generateHidden = new Option<int>("--hidden")
        {
            Description = "Units per LSTM layer.", DefaultValueFactory = _ => 512,
        };
        var generateLayers = new Option<int>("--layers")
        {
            Description = "Stacked LSTM layers.", DefaultValueFactory = _ => 2,
        };
        var generateTokens = new Option<int>("--tokens")
        {
            Description = "Tokens per timed generation.", DefaultValueFactory = _ => 500,
        };
        var generate = new Command("generate",
            "Tokens/s of sampling from a character LSTM language model, float and int8, against PyTorch's (float and "
                + "quantize_dynamic).")
        {
            generateTiming.Threads, generateTiming.Seconds, generateTiming.Json, generateTiming.Repeat,
            generateHidden, generateLayers, generateTokens,
        };
        generate.SetAction(r => GenerateBench.Run(r.GetValue(generateTiming.Threads),
            r.GetValue(generateTiming.Seconds), r.GetValue(generateTiming.Json), r.GetValue(generateTiming.Repeat),
            r.GetValue(generateHidden), r.GetValue(generateLayers), r.GetValue(generateTokens)));
        bench.Subcommands.Add(generate);

        var mem = PeerTiming.Create("Timed passes over 16 batches");
        var memBatch = new Option<int>("--batch")
        {
            Description = "Questions per step.", DefaultValueFactory = _ => 32,
        };
        var memEmbedding = new Option<int>("--embedding")
        {
            Description = "Embedding size d.", DefaultValueFactory = _ => 50,
        };
        var memData = new Option<string>("--data")
        {
            Description = "Folder of the bAbI task files.",
            DefaultValueFactory = _ => Path.Combine("..", "shared", "data", "babi", "tasks_1-20_v1-2", "en"),
        };
        var memnet = new Command("memnet",
            "Training questions per second of the joint bAbI memory network against the same network in PyTorch.")
        {
            memData, mem.Threads, mem.Seconds, mem.Json, mem.Repeat, memBatch, memEmbedding,
        };
        memnet.SetAction(r => CommandErrors.Guard(() => MemnetBench.Run(r.GetValue(memData)!, r.GetValue(mem.Threads),
            r.GetValue(mem.Seconds), r.GetValue(mem.Json), r.GetValue(mem.Repeat), r.GetValue(memBatch),
            r.GetValue(memEmbedding))));
        bench.Subcommands.Add(memnet);

        var cap = PeerTiming.Create("Timed passes over 4 batches");
        var capBatch = new Option<int>("--batch") { Description = "Scenes per step.", DefaultValueFactory = _ => 64 };
        var capDigits = new Option<int>("--max-digits")
        {
            Description = "Digits per scene, 1 to this.", DefaultValueFactory = _ => 5,
        };
        var capMnist = new Option<string>("--mnist")
        {
            Description = "Folder of the MNIST test digits.",
            DefaultValueFactory = _ => Path.Combine("..", "shared", "data", "mnist"),
        };
        var caption = new Command("caption",
            "Training scenes per second of the attention captioner against the same model in PyTorch.")
        {
            capMnist, cap.Threads, cap.Seconds, cap.Json, cap.Repeat, capBatch, capDigits,
        };
        caption.SetAction(r => CommandErrors.Guard(() => CaptionBench.Run(r.GetValue(capMnist)!,
            r.GetValue(cap.Threads), r.GetValue(cap.Seconds), r.GetValue(cap.Json), r.GetValue(cap.Repeat),
            r.GetValue(capBatch), r.GetValue(capDigits))));
        bench.Subcommands.Add(caption);

        var serveModel = new Option<string>("--model")
        {
            Description = "Run folder of `recur lm|classify|tag|translate train` to serve.", Required = true,
        };
        var serveClients = new Option<int[]>("--clients")
        {
            Description = "Concurrent clients, one figure each.", AllowMultipleArgumentsPerToken = true,
            DefaultValueFactory = _ => [1, 8, 32],
        };
        var serveSeconds = new Option<double>("--seconds")
        {
            Description = "Seconds of load per figure.", DefaultValueFactory = _ => 5,
        };
        var serveThreads = new Option<int>("--threads")
        {
            Description = "Kernel threads of the model.", DefaultValueFactory = _ => 2,
        };
        var serveText = new Option<string?>("--text") { Description = "The text (or prompt) every request sends." };
        var serveJson = new Option<bool>("--json") { Description = "Print the figures as JSON." };
        var serve = new Command("serve",
            "Load test of `recur explore`'s POST /predict on loopback: requests/s and p50/p99 latency for N concurrent "
            + "clients, with the server's batching on and off.")
        {
            serveModel, serveClients, serveSeconds, serveThreads, serveText, serveJson,
        };
        serve.SetAction(r => CommandErrors.Guard(() => ServeBench.Run(r.GetValue(serveModel)!,
            r.GetValue(serveClients)!, r.GetValue(serveSeconds), r.GetValue(serveThreads), r.GetValue(serveText),
            r.GetValue(serveJson))));
        bench.Subcommands.Add(serve);

        var memoryChild = new Command("rnn-memory-child",
            "Internal: one LSTM T=1000 forward+backward in a fresh process; prints peak memory.")
        { Hidden = true };
        memoryChild.SetAction(_ => RnnBench.MemoryChild());
        bench.Subcommands.Add(memoryChild);
        return bench;
    }
}

/// <summary>The timing options of a training-step bench that cycles through a few batches against a PyTorch peer:
/// <c>--threads</c> (both sides), <c>--seconds</c>, <c>--json</c> and <c>--repeat</c> (timed passes).</summary>
sealed record PeerTiming(Option<int> Threads, Option<double> Seconds, Option<bool> Json, Option<int> Repeat)
{
    /// <summary>
    /// The four options every peer benchmark takes; <paramref name="timed"/> says what one timed repetition is, and
    /// <paramref name="seconds"/> and <paramref name="repeat"/> are the defaults.
    /// </summary>
    public static PeerTiming Create(string timed, double seconds = 2.0, int repeat = 5) => new(
        new Option<int>("--threads")
        {
            Description = "Threads for both Recur and PyTorch.", DefaultValueFactory = _ => 2,
        },
        new Option<double>("--seconds")
        {
            Description = "Minimum timed seconds per figure.", DefaultValueFactory = _ => seconds,
        },
        new Option<bool>("--json") { Description = "Print the figures as JSON." },
        new Option<int>("--repeat")
        {
            Description = $"{timed} after the warm-up (the median is shown, with the min and max).",
            DefaultValueFactory = _ => repeat,
        });
}

using System.Diagnostics;
using System.Text.Json;
using Recur.Autograd;
using Recur.Export;
using Recur.Kernels;
using Recur.Nn;
using Recur.Nn.Recurrent;
using Spectre.Console;

namespace Recur.Cli.Bench;

/// <summary><c>recur bench rnn</c>: Recur's fused recurrent layers beside PyTorch's, measured in the same
/// run.</summary>
static class RnnBench
{
    sealed record Config(string Mode, int Steps, int Batch, int Input, int Hidden)
    {
        public RecurrentMode RecurMode => Mode switch
        {
            "LSTM" => RecurrentMode.Lstm,
            "GRU" => RecurrentMode.Gru,
            _ => RecurrentMode.RnnTanh
        };
        public int Gates => Mode switch { "LSTM" => 4, "GRU" => 3, _ => 1 };
        /// <summary>Multiply-adds ×2 of the forward pass; backward is counted as twice the forward.</summary>
        public double ForwardFlops => 2.0 * Steps * Batch * Gates * Hidden * ((double)Input + Hidden);
        public string Label => $"{Mode} T={Steps} B={Batch} I={Input} H={Hidden}";

        /// <summary>The layer (<paramref name="config"/>, or this configuration's plain cell) and the input every
        /// figure of this configuration times: the same weights and data for the float, int8 and memory
        /// runs.</summary>
        public (RecurrentLayer Layer, Tensor Input) Build(RecurrentConfig? config = null)
        {
            var random = new RandomGenerator(0);
            var layer = new RecurrentLayer(config ?? new RecurrentConfig(RecurMode, Input, Hidden), random);
            return (layer, Tensor.RandomNormal(random, [Steps, Batch, Input]));
        }
    }

    sealed record PeerTimes(double forward, double train, double forward_min, double forward_max, double train_min,
        double train_max);

    sealed record Row(string Config, string Pass, int Threads, double RecurStepsPerSecond, double RecurGflops,
        string RecurSpread, double? TorchStepsPerSecond, string? TorchSpread, double? Ratio,
        double? OrtStepsPerSecond = null, string? OrtSpread = null, double? OrtRatio = null, double? VsFloat = null,
        StreamingLimit? Limit = null);

    /// <summary>
    /// A batch-1 step against the time its recurrent weights take to stream in: <paramref name="WeightBytes"/> of
    /// W_hh a step, read by <paramref name="Threads"/> threads at the measured <paramref name="GigabytesPerSecond"/>
    /// (each its share, as the small-batch path reads), giving <paramref name="LimitMicroseconds"/> a step;
    /// <paramref name="Fraction"/> is that over Recur's measured time a step.
    /// </summary>
    sealed record StreamingLimit(long WeightBytes, int Threads, double GigabytesPerSecond, double LimitMicroseconds,
        double RecurMicroseconds, double Fraction);

    static readonly Config[] Configs =
    [
        new("LSTM", 100, 64, 128, 256),
        new("GRU", 100, 64, 128, 256),
        new("RNN_TANH", 100, 64, 128, 256),
        new("LSTM", 200, 32, 512, 512),
        new("LSTM", 100, 1, 128, 256),
        new("GRU", 100, 1, 128, 256),
        new("RNN_TANH", 100, 1, 128, 256),
    ];

    sealed record PeerMemory(double baseline_mb, double peak_mb);

    sealed record MemoryRow(string Config, double RecurBaselineMb, double RecurPeakMb, double? TorchBaselineMb,
        double? TorchPeakMb);

    static readonly Config MemoryConfig = new("LSTM", 1000, 64, 128, 256);

    /// <summary>The hidden child verb: one LSTM forward+backward in this fresh process; prints baseline and peak RSS in
    /// MiB.</summary>
    public static int MemoryChild()
    {
        var c = MemoryConfig;
        var (layer, x) = c.Build();
        x.RequiresGrad = true;
        using var process = Process.GetCurrentProcess();
        double baseline = process.PeakWorkingSet64 / 1048576.0;
        layer.Forward(x).Output.Sum().Backward();
        process.Refresh();
        Console.WriteLine(JsonSerializer.Serialize(new PeerMemory(baseline, process.PeakWorkingSet64 / 1048576.0)));
        return 0;
    }

    static MemoryRow MeasureMemory(int threads)
    {
        var c = MemoryConfig;
        // run ourselves again in a fresh process, so earlier measurements do not inflate the peak
        string host = Environment.ProcessPath!;
        var arguments = new List<string>();
        if (Path.GetFileNameWithoutExtension(host) == "dotnet") arguments.Add(typeof(RnnBench).Assembly.Location);
        arguments.AddRange(["bench", "rnn-memory-child"]);
        var start = new ProcessStartInfo(host, arguments) { RedirectStandardOutput = true };
        start.Environment["DOTNET_PROCESSOR_COUNT"] = threads.ToString();
        using var child = Process.Start(start)!;
        string output = child.StandardOutput.ReadToEnd();
        child.WaitForExit();
        var recur = JsonSerializer.Deserialize<PeerMemory>(output)!;
        var torch = PythonPeer.Run<PeerMemory>("rnn.py",
            new { memory = new { steps = c.Steps, batch = c.Batch, input = c.Input, hidden = c.Hidden }, threads },
                threads, out _);
        return new MemoryRow(c.Label, Math.Round(recur.baseline_mb), Math.Round(recur.peak_mb),
            torch is null ? null : Math.Round(torch.baseline_mb), torch is null ? null : Math.Round(torch.peak_mb));
    }

    public static int Run(int threads, double minSeconds, bool json, string? mode = null, int repeat = 5)
    {
        // --mode keeps the configurations of one cell (for profiling); the memory figure comes with the full run only
        var configs = Configs.Where(c => mode is null || c.Mode == mode).ToArray();
        if (configs.Length == 0)
        {
            Console.Error.WriteLine(
            $"recur: --mode {mode} matches no configuration (LSTM, GRU, RNN_TANH)."); return 2;
        }
        var peer = PythonPeer.Run<PeerTimes[]>("rnn.py",
            new
            {
                configs = configs.Select(c => new
                {
                    mode = c.Mode, steps = c.Steps, batch = c.Batch, input = c.Input,
                    hidden = c.Hidden
                }), min_seconds = minSeconds, threads, repeat
            },
            threads, out string? problem);
        if (problem != null) Console.Error.WriteLine($"PyTorch peer unavailable: {problem}");
        using var threadLimit = Parallelism.Limit(threads);
        var rows = new List<Row>();
        var forwardTimes = new Timing[configs.Length];
        for (int i = 0; i < configs.Length; i++)
        {
            var c = configs[i];
            var (forward, train) = Measure(c, minSeconds, repeat);
            forwardTimes[i] = forward;
            double sequenceSteps = (double)c.Steps * c.Batch;
            var p = peer?[i];
            rows.Add(MakeRow(c, "forward", threads, forward, c.ForwardFlops, sequenceSteps,
                p is null ? null : new Timing(p.forward, p.forward_min, p.forward_max, repeat)));
            rows.Add(MakeRow(c, "forward+backward", threads, train, 3 * c.ForwardFlops, sequenceSteps,
                p is null ? null : new Timing(p.train, p.train_min, p.train_max, repeat)));
            // the easier pass cannot honestly take longer than the harder one: say so rather than print it quietly
            if (forward.Median >= train.Median)
                Console.Error.WriteLine(
                    $"warning: {c.Label}: forward ({forward.Median * 1e3:F1} ms) took as long as forward+backward "
                    + $"({train.Median * 1e3:F1} ms); the machine was busy or the measurement is wrong — rerun before "
                        + $"using it.");
        }
        var ort = OnnxRuntimeForward(configs, threads, minSeconds, repeat);
        if (ort != null)
            for (int i = 0; i < configs.Length; i++)
            {
                var c = configs[i];
                int row = rows.FindIndex(r => r.Config == c.Label && r.Pass == "forward");
                rows[row] = rows[row] with
                {
                    OrtStepsPerSecond = Math.Round((double)c.Steps * c.Batch / ort[i].Median),
                    OrtSpread = ort[i].Spread,
                    OrtRatio = Math.Round(ort[i].Median / forwardTimes[i].Median, 2),
                };
            }
        rows.AddRange(Int8Rows(configs, threads, minSeconds, repeat, forwardTimes));
        AddStreamingLimits(configs, rows, threads);
        var memory = mode is null ? MeasureMemory(threads) : null;
        if (json)
        {
            Console.WriteLine(JsonSerializer.Serialize(new
            {
                cpu = CpuModel(), isa = Gemm.BestIsa.ToString(), int8Kernel = Quantization.IntegerKernel, threads,
                repeat, speed = rows, memory
            },
                new JsonSerializerOptions { WriteIndented = true }));
            return 0;
        }
        var table = new Table().Title($"median of ≥ {repeat} runs after warm-up (spread: min/max); {Markup.Escape(
            CpuModel())}, "
                + $"{Gemm.BestIsa}, int8 on {Quantization.IntegerKernel}, {threads} threads")
            .AddColumns("configuration", "pass", "Recur steps/s", "spread", "Recur GFLOP/s", "PyTorch steps/s",
                "spread", "ratio", "ONNX Runtime steps/s", "spread", "ratio");
        foreach (var r in rows)
            table.AddRow(r.Config, r.Pass, $"{r.RecurStepsPerSecond:N0}", r.RecurSpread, $"{r.RecurGflops:F1}",
                r.TorchStepsPerSecond?.ToString("N0") ?? "n/a", r.TorchSpread ?? "", r.Ratio?.ToString("F2") ?? "n/a",
                r.OrtStepsPerSecond?.ToString("N0") ?? (r.Pass == "forward" ? "n/a" : ""), r.OrtSpread ?? "",
                r.OrtRatio?.ToString("F2") ?? "");
        AnsiConsole.Write(table);
        foreach (var r in rows.Where(r => r.VsFloat != null))
            Console.WriteLine($"{r.Config}: int8 forward {r.VsFloat:F2}× Recur's float forward (PyTorch's ratio is "
                + "to its own quantize_dynamic model).");
        foreach (var r in rows.Where(r => r.Limit != null))
        {
            var l = r.Limit!;
            Console.WriteLine($"{r.Config}, {r.Pass}: W_hh is {l.WeightBytes / 1024.0:N0} KiB a step; {l.Threads} "
                + $"thread(s) stream their shares at {l.GigabytesPerSecond:N0} GB/s, {l.LimitMicroseconds:F2} µs a "
                + $"step at the limit; Recur {l.RecurMicroseconds:F2} µs ({l.Fraction * 100:F0}% of the limit).");
        }
        if (memory is null) return 0;
        var memoryTable = new Table().AddColumns("memory, forward+backward", "Recur peak (baseline) MiB",
            "PyTorch peak (baseline) MiB");
        memoryTable.AddRow(memory.Config, $"{memory.RecurPeakMb} ({memory.RecurBaselineMb})",
            memory.TorchPeakMb is null ? "n/a" : $"{memory.TorchPeakMb} ({memory.TorchBaselineMb})");
        AnsiConsole.Write(memoryTable);
        return 0;
    }

    /// <summary>
    /// Dynamic int8 quantisation where it is meant for, one sequence at a time: Recur's quantised layer
    /// (<see cref="RecurrentLayer.QuantizeDynamic"/>) beside PyTorch's <c>quantize_dynamic</c> of the same layer type,
    /// with the speed-up over Recur's own float forward.
    /// </summary>
    static IEnumerable<Row> Int8Rows(Config[] configs, int threads, double minSeconds, int repeat,
        Timing[] floatForward)
    {
        var chosen = configs.Select((c, i) => (c, i)).Where(p => p.c.Batch == 1).ToArray();
        if (chosen.Length == 0) return [];
        var peer = PythonPeer.Run<PeerTimes[]>("rnn.py", new
        {
            configs = chosen.Select(p => new
            {
                mode = p.c.Mode, steps = p.c.Steps, batch = p.c.Batch, input = p.c.Input, hidden = p.c.Hidden,
                int8 = true,
            }),
            min_seconds = minSeconds, threads, repeat,
        }, threads, out string? problem);
        if (problem != null) Console.Error.WriteLine($"PyTorch int8 peer unavailable: {problem}");
        return chosen.Select((p, k) =>
        {
            var c = p.c;
            var (layer, x) = c.Build();
            layer.QuantizeDynamic();
            var int8 = Timing.Measure(() => layer.Forward(x), minSeconds, repeat);
            var torch = peer?[k];
            return MakeRow(c, "forward, int8", threads, int8, c.ForwardFlops, (double)c.Steps * c.Batch,
                torch is null ? null : new Timing(torch.forward, torch.forward_min, torch.forward_max, repeat)) with
            {
                VsFloat = Math.Round(floatForward[p.i].Median / int8.Median, 2),
            };
        }).ToList();
    }

    /// <summary>
    /// Adds the weight-streaming limit to every batch-1 forward row (float and int8): the bytes of W_hh a step (the
    /// input projections of a sequence are one product for many steps, not streamed per step) over the bandwidth
    /// this machine's threads reach reading their shares of them.
    /// </summary>
    static void AddStreamingLimits(Config[] configs, List<Row> rows, int threads)
    {
        for (int i = 0; i < rows.Count; i++)
        {
            var c = configs.FirstOrDefault(c => c.Label == rows[i].Config);
            if (c is null || c.Batch != 1 || rows[i].Pass is not ("forward" or "forward, int8")) continue;
            int bytesPerWeight = rows[i].Pass == "forward, int8" ? 1 : sizeof(float);
            long bytes = (long)c.Gates * c.Hidden * c.Hidden * bytesPerWeight;
            double bandwidth = WeightStreaming.Bandwidth(bytes / threads, threads);
            double limit = bytes / bandwidth * 1e6, recur = 1e6 / rows[i].RecurStepsPerSecond;
            rows[i] = rows[i] with
            {
                Limit = new StreamingLimit(bytes, threads, Math.Round(bandwidth / 1e9, 1), Math.Round(limit, 2),
                    Math.Round(recur, 2), Math.Round(limit / recur, 3)),
            };
        }
    }

    /// <summary>
    /// ONNX Runtime's forward time for each configuration's layer, exported with <see cref="OnnxExport"/> (the same
    /// weights Recur times; full-length sequences, so no <c>sequence_lens</c>); null when the peer cannot run.
    /// </summary>
    static Timing[]? OnnxRuntimeForward(Config[] configs, int threads, double minSeconds, int repeat)
    {
        string folder = Directory.CreateTempSubdirectory("recur-ort-").FullName;
        try
        {
            var models = configs.Select((c, i) =>
            {
                string path = Path.Combine(folder, $"layer{i}.onnx");
                OnnxExport.Save(new RecurrentLayer(new RecurrentConfig(c.RecurMode, c.Input, c.Hidden),
                    new RandomGenerator(0)), path, variableLengths: false);
                return (object)new
                {
                    path, inputs = new[] { new { name = "input", shape = new[] { c.Steps, c.Batch, c.Input },
                        type = "float" } },
                };
            }).ToList();
            var times = OnnxRuntimePeer.Run(models, threads, minSeconds, repeat, out string? problem);
            if (problem != null) Console.Error.WriteLine($"ONNX Runtime peer unavailable: {problem}");
            return times;
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    sealed record CellRow(string Cell, double ForwardMs, double TrainMs, double ForwardVsLstm, double TrainVsLstm,
        double? ForwardVsTorch = null, double? TrainVsTorch = null);

    /// <summary>PyTorch's module for the cells it has (irnn is relu-rnn with another initialisation).</summary>
    static string? TorchMode(string cell) => cell switch
    {
        "lstm" => "LSTM",
        "gru" => "GRU",
        "rnn" => "RNN_TANH",
        "relu-rnn" or "irnn" => "RNN_RELU",
        _ => null,
    };

    /// <summary>
    /// <c>bench rnn --cell a,b</c>: each cell's fused layer at T=100 B=64 I=128 H=256 beside the plain LSTM's, timed in
    /// the same run (best of repeated runs), as milliseconds per pass and as a ratio to the LSTM; cells PyTorch has are
    /// also timed there, and their speed-up over it printed.
    /// </summary>
    public static int RunCells(string cellList, int threads, double minSeconds, bool json, int repeat = 5)
    {
        var cells = cellList.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        foreach (string cell in cells)
            if (!RecurrentCells.Names.Contains(cell))
            {
                Console.Error.WriteLine($"recur: --cell {cell} is not one of {string.Join(", ",
                    RecurrentCells.Names)}.");
                return 2;
            }
        using var threadLimit = Parallelism.Limit(threads);
        var shape = new Config("LSTM", 100, 64, 128, 256);
        (double Forward, double Train) Time(string cell) => Medians(Measure(shape, minSeconds, repeat,
            RecurrentCells.Configure(RecurrentCells.Parse(cell), new RecurrentConfig(RecurrentMode.Lstm, shape.Input,
                shape.Hidden))));
        var lstm = Time("lstm");
        var rows = cells.Select(cell =>
        {
            var (forward, train) = cell == "lstm" ? lstm : Time(cell);
            return new CellRow(cell, Math.Round(forward * 1e3, 2), Math.Round(train * 1e3, 2),
                Math.Round(forward / lstm.Forward, 2),
                Math.Round(train / lstm.Train, 2));
        }).Prepend(new CellRow("lstm", Math.Round(lstm.Forward * 1e3, 2), Math.Round(lstm.Train * 1e3, 2), 1, 1))
            .DistinctBy(r => r.Cell).ToList();
        foreach (string cell in cells)
        {
            // the same cell as recorded tape operations per step, what it ran as before it was fused
            ComposedRecurrentLayer? composed = cell switch
            {
                "peephole-lstm" => new LstmVariantLayer(shape.Input, shape.Hidden, new RandomGenerator(0),
                    peephole: true),
                "cho-gru" => new ChoGruLayer(shape.Input, shape.Hidden, new RandomGenerator(0)),
                "jordan" => new JordanLayer(shape.Input, shape.Hidden, shape.Hidden, new RandomGenerator(0)),
                "ln-lstm" or "ln-gru" => new LayerNormRecurrentLayer(shape.Input, shape.Hidden, new RandomGenerator(0),
                    gru: cell == "ln-gru"),
                "bn-lstm" => new BatchNormLstmLayer(shape.Input, shape.Hidden, shape.Steps, new RandomGenerator(0)),
                _ => null,
            };
            if (composed is null) continue;
            var x = Tensor.RandomNormal(new RandomGenerator(1), [shape.Steps, shape.Batch, shape.Input]);
            double forward = Timing.Measure(() => { using var _ = GradMode.NoGrad(); composed.Forward(x); }, minSeconds,
                repeat).Median;
            var parameters = composed.Parameters();
            double train = Timing.Measure(() =>
            {
                foreach (var p in parameters) p.Grad = null;
                composed.Forward(x).Output.Sum().Backward();
            }, minSeconds, repeat).Median;
            rows.Add(new CellRow($"{cell}, tape-composed", Math.Round(forward * 1e3, 2), Math.Round(train * 1e3,
                2),
                Math.Round(forward / lstm.Forward, 2), Math.Round(train / lstm.Train, 2)));
        }
        var torchCells = rows.Where(r => TorchMode(r.Cell) != null).Select(r => r.Cell).ToList();
        string? problem = null;
        var peer = torchCells.Count == 0 ? null : PythonPeer.Run<PeerTimes[]>("rnn.py", new
        {
            configs = torchCells.Select(cell => new
            {
                mode = TorchMode(cell), steps = shape.Steps, batch = shape.Batch, input = shape.Input,
                hidden = shape.Hidden,
            }),
            min_seconds = minSeconds, threads, repeat,
        }, threads, out problem);
        if (problem != null) Console.Error.WriteLine($"PyTorch peer unavailable: {problem}");
        if (peer != null)
            rows = rows.Select(r => torchCells.IndexOf(r.Cell) is var k and >= 0 ? r with
            {
                ForwardVsTorch = Math.Round(peer[k].forward * 1e3 / r.ForwardMs, 2),
                TrainVsTorch = Math.Round(peer[k].train * 1e3 / r.TrainMs, 2),
            } : r).ToList();
        string cpu = CpuModel();
        if (json)
        {
            Console.WriteLine(JsonSerializer.Serialize(new { cpu, threads, shape = shape.Label[5..], cells = rows },
                new JsonSerializerOptions { WriteIndented = true }));
            return 0;
        }
        var table = new Table().Title($"T=100 B=64 I=128 H=256, {threads} threads, {Markup.Escape(cpu)}")
            .AddColumns("cell", "forward ms", "forward+backward ms", "forward / lstm", "forward+backward / lstm",
                "PyTorch / Recur, forward", "PyTorch / Recur, forward+backward");
        foreach (var r in rows)
            table.AddRow(r.Cell, $"{r.ForwardMs:F2}", $"{r.TrainMs:F2}", $"{r.ForwardVsLstm:F2}",
                $"{r.TrainVsLstm:F2}", r.ForwardVsTorch?.ToString("F2") ?? "n/a",
                r.TrainVsTorch?.ToString("F2") ?? "n/a");
        AnsiConsole.Write(table);
        return 0;
    }

    /// <summary>
    /// The CPU model as the kernel reports it (Linux), with its family and model numbers — a VM may name only "AMD
    /// EPYC", and Zen 4 and Zen 5 halves of the same name differ twofold in vector throughput — for printing beside
    /// every figure.
    /// </summary>
    internal static string CpuModel()
    {
        try
        {
            var lines = File.ReadLines("/proc/cpuinfo").TakeWhile(l => l.Length > 0).ToList();
            string? Field(string name) => lines.FirstOrDefault(l => l.StartsWith(name, StringComparison.Ordinal)
                && l.Split(':', 2)[0].Trim() == name)?.Split(':', 2)[1].Trim();
            string name = Field("model name") ?? "unknown CPU";
            if (!int.TryParse(Field("cpu family"), out int family) || !int.TryParse(Field("model"), out int model))
                return name;
            string? core = Field("vendor_id") == "AuthenticAMD" ? ZenGeneration(family, model) : null;
            return $"{name} (family {family}, model {model}{(core is null ? "" : ", " + core)})";
        }
        catch (IOException) { return "unknown CPU"; }
    }

    /// <summary>The Zen generation of an AMD family/model pair (AMD's published model ranges), or null.</summary>
    internal static string? ZenGeneration(int family, int model) => family switch
    {
        23 => "Zen or Zen 2",
        25 when model is (>= 0x10 and <= 0x1F) or (>= 0x60 and <= 0x7F) or (>= 0xA0 and <= 0xAF) => "Zen 4",
        25 => "Zen 3",
        26 => "Zen 5",
        _ => null,
    };

    static Row MakeRow(Config c, string pass, int threads, Timing recur, double flops, double sequenceSteps,
        Timing? torch) =>
        new(c.Label, pass, threads, Math.Round(sequenceSteps / recur.Median), Math.Round(flops / recur.Median / 1e9, 1),
            recur.Spread,
            torch is null ? null : Math.Round(sequenceSteps / torch.Median), torch?.Spread,
            torch is null ? null : Math.Round(torch.Median / recur.Median, 2));

    static (Timing Forward, Timing Train) Measure(Config c, double minSeconds, int repeat,
        RecurrentConfig? config = null)
    {
        var (layer, x) = c.Build(config);
        var forward = Timing.Measure(() =>
        {
            using var _ = GradMode.NoGrad();
            layer.Forward(x);
        }, minSeconds, repeat);
        var xGrad = x.Clone();
        xGrad.RequiresGrad = true;
        var parameters = layer.Parameters();
        var train = Timing.Measure(() =>
        {
            foreach (var p in parameters) p.Grad?.Zero();
            xGrad.Grad = null;
            layer.Forward(xGrad).Output.Sum().Backward();
        }, minSeconds, repeat);
        return (forward, train);
    }

    static (double Forward, double Train) Medians((Timing Forward, Timing Train) t) => (t.Forward.Median,
        t.Train.Median);
}

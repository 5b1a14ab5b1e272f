using System.CommandLine;
using System.Globalization;
using System.Text.Json.Nodes;
using Recur.Cli.Training;
using Recur.Data;
using Recur.Energy;
using Recur.Figures;
using Spectre.Console;

namespace Recur.Cli;

/// <summary>
/// <c>recur hopfield capacity|store|recall</c>: the storage-capacity experiment, storing patterns (a text file or
/// binarised MNIST digits) and restoring a corrupted one step by step, with pictures.
/// </summary>
static class HopfieldCommand
{
    static readonly string[] Rules = ["hebbian", "storkey"];

    public static Command Create()
    {
        var command = new Command("hopfield",
            "Hopfield networks: capacity experiment, storing patterns and recalling them from corrupted cues.");
        command.Subcommands.Add(Capacity());
        command.Subcommands.Add(Store());
        command.Subcommands.Add(Recall());
        return command;
    }

    static HopfieldRule ParseRule(string rule) => rule == "storkey" ? HopfieldRule.Storkey : HopfieldRule.Hebbian;

    static Command Capacity()
    {
        var neurons = new Option<int>("--neurons") { Description = "Units N.", DefaultValueFactory = _ => 200 };
        var rule = new Option<string[]>("--rule")
        {
            Description = "hebbian, storkey or both (repeat the option).",
            DefaultValueFactory = _ => Rules,
            AllowMultipleArgumentsPerToken = true,
        };
        rule.AcceptOnlyFromAmong(Rules);
        var maxLoad = new Option<double>("--max-load")
        {
            Description = "Largest load P/N tried.",
            DefaultValueFactory = _ => 0.3,
        };
        var points = new Option<int>("--points")
        {
            Description = "Loads tried between 0 and --max-load.",
            DefaultValueFactory = _ => 30,
        };
        var probes = new Option<int>("--probes")
        {
            Description = "Stored patterns probed per load and network.",
            DefaultValueFactory = _ => 20,
        };
        var trials = new Option<int>("--trials")
        {
            Description = "Independent networks averaged.",
            DefaultValueFactory = _ => 2,
        };
        var noise = new Option<double>("--noise")
        {
            Description = "Fraction of units flipped in each probe before recall.",
            DefaultValueFactory = _ => 0,
        };
        var criterion = new Option<double>("--criterion")
        {
            Description = "Final overlap that counts as recalled (0.967: the retrieval state's overlap at the "
                + "theoretical capacity).",
            DefaultValueFactory = _ => 0.967,
        };
        var seed = new Option<ulong>("--seed")
        {
            Description = "Seed for patterns, corruption and update order.",
            DefaultValueFactory = _ => 1,
        };
        var plot = new Option<string>("--plot")
        {
            Description = "Figure path without extension (PNG and SVG).",
            DefaultValueFactory = _ => Path.Combine("recur-hopfield", "capacity"),
        };
        var json = new Option<bool>("--json") { Description = "Print the table as JSON." };
        var command = new Command("capacity",
            "Recall rate against stored random patterns per unit (P/N): Hebbian recall collapses near 0.138·N.")
        {
            neurons, rule, maxLoad, points, probes, trials, noise, criterion, seed, plot, json,
        };
        command.SetAction(r => CommandErrors.Guard(() =>
        {
            int n = r.GetValue(neurons), count = r.GetValue(points);
            double max = r.GetValue(maxLoad);
            if (n < 10 || count < 2 || !(max > 0) || r.GetValue(probes) < 1 || r.GetValue(trials) < 1)
                throw new UsageException("--neurons must be at least 10, --points at least 2, and --max-load, "
                    + "--probes and --trials positive.");
            if (r.GetValue(noise) is < 0 or > 0.5) throw new UsageException("--noise must be in [0, 0.5].");
            var counts = Enumerable.Range(1, count).Select(k => Math.Max(1,
                (int)Math.Round(k * max * n / count))).Distinct().ToArray();
            var series = new List<Series>();
            var results = new JsonObject();
            var table = new Table().Title($"Recall rate, N = {n}, {r.GetValue(trials)} network(s),"
                + $" {r.GetValue(probes)} probes per load").AddColumn(new TableColumn("P").RightAligned())
                .AddColumn(new TableColumn("P/N").RightAligned());
            var measured = new List<(string Rule, IReadOnlyList<CapacityPoint> Points, double? Capacity,
                double? Onset)>();
            foreach (string name in r.GetValue(rule)!.Distinct())
            {
                var curve = HopfieldCapacity.Measure(n, ParseRule(name), counts, new RandomGenerator(r.GetValue(seed)),
                    r.GetValue(trials), r.GetValue(probes),
                    r.GetValue(noise), r.GetValue(criterion));
                measured.Add((name, curve, HopfieldCapacity.EstimateCapacity(curve),
                    HopfieldCapacity.EstimateCapacity(curve, 0.9)));
                table.AddColumn(new TableColumn($"{name} recall").RightAligned()).AddColumn(new TableColumn(
                    $"{name} overlap").RightAligned());
                series.Add(new Series(name, curve.Select(p => p.Load).ToArray(),
                    curve.Select(p => p.RecallRate).ToArray()));
            }
            for (int k = 0; k < counts.Length; k++)
                table.AddRow([counts[k].ToString(CultureInfo.InvariantCulture), F((double)counts[k] / n),
                    .. measured.SelectMany(m => new[] { F(m.Points[k].RecallRate), F(m.Points[k].MeanOverlap) })]);
            var files = Charts.Lines(r.GetValue(plot)!, $"Hopfield capacity, N = {n}", "stored patterns per unit P/N",
                "fraction of patterns recalled",
                series, references: [(0.5, "half recalled"), (0.9, "90% recalled")], legend: LegendCorner.LowerLeft);
            if (r.GetValue(json))
            {
                foreach (var (name, curve, capacity, onset) in measured)
                    results[name] = new JsonObject
                    {
                        ["capacity"] = capacity,
                        ["onset"] = onset,
                        ["points"] = new JsonArray(curve.Select(p
                            => (JsonNode)new JsonObject
                            {
                                ["patterns"] = p.Patterns, ["load"] = p.Load,
                                ["recall"] = p.RecallRate, ["overlap"] = p.MeanOverlap
                            }).ToArray()),
                    };
                Console.WriteLine(results.ToJsonString());
            }
            else
            {
                AnsiConsole.Write(table);
                foreach (var (name, _, capacity, onset) in measured)
                    AnsiConsole.MarkupLine($"{name}: recall falls below 90% at P/N ≈ "
                        + $"[bold]{(onset is double o ? F(o) : "beyond --max-load")}[/] and below one half at "
                            + $"[bold]{(capacity is double c ? F(c) : "beyond --max-load")}[/]" +
                        (name == "hebbian" ? " (theory for N → ∞: a collapse at 0.138, Amit, Gutfreund & Sompolinsky "
                            + "1985; finite networks spread it out)" : ""));
            }
            CliOutput.PrintFiles(files, r.GetValue(json));
            return 0;
        }));
        return command;
    }

    static Command Store()
    {
        var patterns = new Option<string?>("--patterns")
        {
            Description = "Text file of patterns: blocks of lines of # and . separated by blank lines.",
        };
        var mnist = new Option<string?>("--mnist")
        {
            Description = "MNIST folder: store binarised digits (the first test image of each --digits).",
        };
        var digits = new Option<string>("--digits")
        {
            Description = "Comma-separated digits to store from MNIST.",
            DefaultValueFactory = _ => "0,1,2",
        };
        var rule = new Option<string>("--rule")
        {
            Description = "hebbian or storkey.",
            DefaultValueFactory = _ => "storkey",
        };
        rule.AcceptOnlyFromAmong(Rules);
        var output = new Option<string>("--out") { Description = "Network file (safetensors).", Required = true };
        var command = new Command("store", "Store patterns in a new network and save it.") { patterns, mnist, digits,
            rule, output };
        command.SetAction(r => CommandErrors.Guard(() =>
        {
            string? file = r.GetValue(patterns), folder = r.GetValue(mnist);
            if ((file is null) == (folder
                is null)) throw new UsageException("give exactly one of --patterns FILE and --mnist DIR.");
            var (stored, height, width) = file != null ? PatternFile.Read(file) : MnistDigits(folder!,
                r.GetValue(digits)!);
            var network = new HopfieldNetwork(height * width);
            network.Store(stored, ParseRule(r.GetValue(rule)!));
            string path = r.GetValue(output)!;
            network.Save(path, stored, new Dictionary<string, string>
            {
                ["height"] = height.ToString(CultureInfo.InvariantCulture),
                ["width"] = width.ToString(CultureInfo.InvariantCulture), ["rule"] = r.GetValue(rule)!,
            });
            AnsiConsole.MarkupInterpolated($"Stored {stored.Count} patterns of {height}×{width} units ");
            AnsiConsole.MarkupLineInterpolated($"with the {r.GetValue(rule)} rule in {Path.GetFullPath(path)}.");
            for (int k = 0; k < stored.Count; k++)
            {
                var result = network.Recall(stored[k], HopfieldUpdate.Asynchronous, new RandomGenerator(1), 1);
                string stability = result.Flips == 0 ? "a fixed point"
                    : $"not stable ({result.Flips} units flip in one sweep)";
                double energy = network.Energy(stored[k]);
                AnsiConsole.MarkupLineInterpolated($"  pattern {k}: energy {energy:F2}, {stability}");
            }
            return 0;
        }));
        return command;
    }

    /// <summary>The first test image of each digit, thresholded at half intensity: 28×28 patterns.</summary>
    internal static (List<sbyte[]> Patterns, int Height, int Width) MnistDigits(string folder, string digits)
    {
        string images = Path.Combine(folder, "t10k-images-idx3-ubyte.gz"), labels = Path.Combine(folder,
            "t10k-labels-idx1-ubyte.gz");
        if (!File.Exists(images)
            || !File.Exists(labels)) throw new UsageException(
            $"MNIST files not found in {folder} (t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz).");
        var wanted = digits.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(d => int.TryParse(d, CultureInfo.InvariantCulture,
                out int v)
                && v is >= 0 and <= 9 ? v : throw new UsageException($"--digits: '{d}' is not a digit 0–9.")).ToArray();
        var (imageShape, pixels) = Idx.Read(images);
        var (_, labelBytes) = Idx.Read(labels);
        int size = imageShape[1] * imageShape[2];
        var result = new List<sbyte[]>();
        foreach (int digit in wanted)
        {
            int index = Array.IndexOf(labelBytes, (byte)digit);
            result.Add(pixels.AsSpan(index * size,
                size).ToArray().Select(p => p > 127 ? (sbyte)1 : (sbyte)-1).ToArray());
        }
        return (result, imageShape[1], imageShape[2]);
    }

    static Command Recall()
    {
        var network = new Option<string>("--network")
        {
            Description = "Network file written by `recur hopfield store`.",
            Required = true,
        };
        var pattern = new Option<int>("--pattern")
        {
            Description = "Index of the stored pattern to corrupt and recall.",
            DefaultValueFactory = _ => 0,
        };
        var noise = new Option<double>("--noise")
        {
            Description = "Fraction of units flipped.",
            DefaultValueFactory = _ => 0.2,
        };
        var erase = new Option<double>("--erase")
        {
            Description = "Instead of noise, a partial cue: this fraction of the rows (from the bottom) set off.",
            DefaultValueFactory = _ => 0,
        };
        var update = new Option<string>("--update")
        {
            Description = "async (random order) or sync (all units at once).",
            DefaultValueFactory = _ => "async",
        };
        update.AcceptOnlyFromAmong("async", "sync");
        var maxSweeps = new Option<int>("--max-sweeps")
        {
            Description = "Sweeps (or synchronous steps) before giving up.",
            DefaultValueFactory = _ => 50,
        };
        var seed = new Option<ulong>("--seed")
        {
            Description = "Seed for corruption and update order.",
            DefaultValueFactory = _ => 1,
        };
        var plot = new Option<string>("--plot")
        {
            Description = "Figure path without extension: the cue, each sweep and the result.",
            DefaultValueFactory = _ => Path.Combine("recur-hopfield", "recall"),
        };
        var command = new Command("recall",
            "Corrupt a stored pattern and let the network restore it, sweep by sweep.") { network, pattern, noise,
            erase, update, maxSweeps, seed, plot };
        command.SetAction(r => CommandErrors.Guard(() =>
        {
            var (net, patterns, metadata) = HopfieldNetwork.Load(r.GetValue(network)!);
            int k = r.GetValue(pattern);
            if (patterns.Count == 0) throw new InvalidDataException(
                $"{r.GetValue(network)}: the file holds no patterns to corrupt.");
            if (k < 0
                || k >= patterns.Count) throw new UsageException(
                $"--pattern {k}: the network holds patterns 0–{patterns.Count - 1}.");
            if (r.GetValue(noise) is < 0 or > 1
                || r.GetValue(erase) is < 0 or > 1) throw new UsageException("--noise and --erase must be in [0, 1].");
            int height = int.TryParse(metadata.GetValueOrDefault("height"), out int h) ? h : 1;
            int width = int.TryParse(metadata.GetValueOrDefault("width"), out int w) ? w : net.Size;
            var random = new RandomGenerator(r.GetValue(seed));
            var cue = r.GetValue(erase) > 0 ? Erase(patterns[k], height, width,
                r.GetValue(erase)) : HopfieldNetwork.Corrupt(patterns[k], r.GetValue(noise), random);
            var frames = new List<float[]> { Picture(patterns[k]), Picture(cue) };
            var captions = new List<string> { "stored", "cue" };
            var table
                = new Table().Title("Recall").AddColumn("sweep").AddColumn(new TableColumn("energy").RightAligned(
                )).AddColumn(new TableColumn("overlap").RightAligned());
            table.AddRow("cue", F(net.Energy(cue)), F(HopfieldNetwork.Overlap(cue, patterns[k])));
            var mode = r.GetValue(update) == "sync" ? HopfieldUpdate.Synchronous : HopfieldUpdate.Asynchronous;
            var result = net.Recall(cue, mode, random, r.GetValue(maxSweeps), (sweep, state) =>
            {
                frames.Add(Picture(state));
                captions.Add($"sweep {sweep}");
                table.AddRow(sweep.ToString(CultureInfo.InvariantCulture), F(net.Energy(state)),
                    F(HopfieldNetwork.Overlap(state, patterns[k])));
            });
            AnsiConsole.Write(table);
            var (match, inverted, spurious) = HopfieldNetwork.Classify(result.State, patterns);
            string verdict = spurious ? "a spurious state (not a stored pattern)" : match == k
                && !inverted ? $"pattern {k}, restored exactly"
                : $"{(inverted ? "the inverse of " : "")}pattern {match}";
            AnsiConsole.MarkupLineInterpolated(
                $"{result.Outcome} after {result.Sweeps} sweep(s), {result.Flips} flips: {verdict}.");
            var files = Charts.ImageGrid(r.GetValue(plot)!, $"Hopfield recall of pattern {k}", frames, height, width,
                Math.Min(frames.Count, 8), captions);
            CliOutput.PrintFiles(files, false);
            return 0;
        }));
        return command;
    }

    static sbyte[] Erase(sbyte[] pattern, int height, int width, double fraction)
    {
        var cue = pattern.ToArray();
        int rows = (int)Math.Round(fraction * height);
        for (int y = height - rows; y < height; y++) cue.AsSpan(y * width, width).Fill(-1);
        return cue;
    }

    static float[] Picture(ReadOnlySpan<sbyte> state)
    {
        var image = new float[state.Length];
        for (int i = 0; i < image.Length; i++) image[i] = state[i] > 0 ? 1f : 0f;
        return image;
    }

    static string F(double v) => v.ToString("0.###", CultureInfo.InvariantCulture);
}

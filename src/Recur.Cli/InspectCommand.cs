using System.CommandLine;
using System.Globalization;
using Recur.Cli.Training;
using Recur.Kernels;
using Recur.Nn;
using Recur.Nn.Recurrent;
using Recur.Tasks;
using Recur.Training;
using Spectre.Console;

namespace Recur.Cli;

/// <summary>
/// <c>recur inspect gradients|gates|saliency|curves</c>: looks inside recurrent models — trained ones from a checkpoint
/// (<c>--model DIR</c>, on data regenerated from the task in its <c>config.json</c>) or freshly initialised ones on the
/// adding problem (<c>--cells</c>) — prints the numbers as a table and writes PNG and SVG figures.
/// </summary>
static partial class InspectCommand
{
    /// <summary>A model and a sample of its task's data.</summary>
    internal sealed record Subject(string Label, SequenceModel Model, SequenceDataset Data, string Task);

    public static Command Create()
    {
        var command = new Command("inspect", "Look inside recurrent networks: gradient flow through time, gate "
            + "activity, input saliency, training curves.");
        command.Subcommands.Add(Gradients());
        command.Subcommands.Add(Gates());
        command.Subcommands.Add(Saliency());
        command.Subcommands.Add(Curves());
        command.Subcommands.Add(Memory());
        return command;
    }

    sealed class SubjectOptions
    {
        public readonly Option<string[]> Models = new("--model")
        {
            Description = "Checkpoint or run folder(s) of `recur task` (repeatable). Without it, fresh models are "
                + "inspected on the adding problem.",
            AllowMultipleArgumentsPerToken = true,
        };
        public readonly Option<string> Cells = new(
            "--cells")
        {
            Description = $"Comma-separated cells for fresh models ({string.Join(", ",
                Recur.Nn.Recurrent.RecurrentCells.Names)}).", DefaultValueFactory = _ => "rnn,lstm,gru"
        };
        public readonly Option<int> Length = new("--length")
        {
            Description = "Sequence length T of the adding problem for fresh models.", DefaultValueFactory = _ => 100
        };
        public readonly Option<int> Hidden = new("--hidden")
        {
            Description = "Hidden units of fresh models.",
            DefaultValueFactory = _ => 64
        };
        public readonly Option<int> Count = new("--count")
        {
            Description = "Sequences to run.",
            DefaultValueFactory = _ => 32
        };
        public readonly Option<ulong> Seed = new("--seed")
        {
            Description = "Seed for fresh weights and generated data.", DefaultValueFactory = _ => 1
        };
        public readonly Option<string> Data = new("--data")
        {
            Description = "MNIST folder, for models trained on smnist.",
            DefaultValueFactory = _ => Path.Combine("..", "shared", "data", "mnist")
        };
        public readonly Option<bool> Json = new("--json")
        {
            Description = "Print the numbers as JSON instead of a table."
        };
        public readonly Option<int> Threads = new("--threads")
        {
            Description = "Threads for large kernels.",
            DefaultValueFactory = _ => Environment.ProcessorCount
        };

        public void AddTo(Command command)
        {
            foreach (Option o in new Option[] { Models, Cells, Length, Hidden, Count, Seed, Data, Json,
                Threads }) command.Options.Add(o);
        }

        public List<Subject> Read(ParseResult r)
        {
            int count = r.GetValue(Count), length = r.GetValue(Length), hidden = r.GetValue(Hidden);
            if (count < 1 || length < 2 || hidden < 1 || r.GetValue(Threads) < 1)
                throw new UsageException("--count, --hidden and --threads must be positive and --length at least 2.");
            using var threadLimit = Parallelism.Limit(r.GetValue(Threads));
            ulong seed = r.GetValue(Seed);
            var models = r.GetValue(Models) ?? [];
            if (models.Length > 0) return models.Select(m => Load(m, count, seed, r.GetValue(Data)!)).ToList();
            var data = SyntheticTasks.Adding(new RandomGenerator(seed + 1), length, count);
            return Training.CellOption.ParseList(r.GetValue(Cells)!).Select(cell =>
                new Subject($"{cell.Name()} (initial)", new SequenceModel(new SequenceModelConfig(cell, 2, hidden, 1,
                    BatchNormSteps: length), new RandomGenerator(seed)), data, "adding")).ToList();
        }
    }

    /// <summary>Loads a trained model and regenerates a sample of its task from the saved configuration.</summary>
    static Subject Load(string directory, int count, ulong seed, string mnist)
    {
        var model = Checkpoint.Open(directory, c => new SequenceModel(SequenceModelConfig.FromJson(c),
            new RandomGenerator(0)));
        var config = Checkpoint.ReadConfig(Checkpoint.Locate(directory));
        string task = (string?)config["task"]
            ?? throw new InvalidDataException(
            $"{directory}: config.json names no task; inspect reads models trained by `recur task` or `recur demo`.");
        int steps = (int?)config["length"] ?? 0;
        var random = new RandomGenerator(seed + 1);
        var data = task switch
        {
            "adding" => SyntheticTasks.Adding(random, steps, count),
            "copy" => SyntheticTasks.Copy(random, steps - 20, count),
            "reber" => SyntheticTasks.EmbeddedReber(random, count),
            "smnist" => SmnistSample(mnist, count, (ulong?)config["permutation_seed"]),
            _ => throw new InvalidDataException(
                $"{directory}: task '{task}' is not one inspect can regenerate (adding, copy, reber, smnist)."),
        };
        string label = Path.GetFileName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(directory)));
        if (label is "last" or "best") label = Path.GetFileName(Path.GetDirectoryName(Path.GetFullPath(directory)))
            + "/" + label;
        return new Subject(label, model, data, task);
    }

    static SequenceDataset SmnistSample(string folder, int count, ulong? permutation)
    {
        string images = Path.Combine(folder, "t10k-images-idx3-ubyte.gz"), labels = Path.Combine(folder,
            "t10k-labels-idx1-ubyte.gz");
        if (!File.Exists(images)) throw new UsageException($"MNIST files not found in {folder}; pass --data.");
        return SyntheticTasks.SequentialMnist(images, labels, 8000, Math.Min(count, 2000), permutation);
    }

    static Option<string> OutOption(string name)
        => new("--out")
        {
            Description = "Figure path without extension (PNG and SVG are written).",
            DefaultValueFactory = _ => Path.Combine("recur-inspect", name)
        };

    static int SequenceLength(SequenceDataset data, int row) => data.Lengths?[row] ?? data.Steps;

    static string[] TimeLabels(Subject s, int steps) => Enumerable.Range(0,
        steps).Select(t => t.ToString(CultureInfo.InvariantCulture)).ToArray();

    static string[] UnitLabels(int units) => Enumerable.Range(0,
        units).Select(u => u.ToString(CultureInfo.InvariantCulture)).ToArray();

    static string Slug(string label) => new(label.Select(c => char.IsLetterOrDigit(c) ? c : '-').ToArray());

    static string Number(double v) => double.IsNaN(v) ? "–" : v.ToString("G3", CultureInfo.InvariantCulture);

    static string Percent(double v) => v.ToString("P1", CultureInfo.InvariantCulture);
}

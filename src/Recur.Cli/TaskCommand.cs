using System.CommandLine;
using Recur.Cli.Training;
using Recur.Kernels;
using Recur.Nn;
using Recur.Nn.Recurrent;
using Recur.Optim;
using Recur.Tasks;
using Recur.Training;
using Spectre.Console;

namespace Recur.Cli;

/// <summary>
/// <c>recur task adding|multiplication|temporal-order|temporal-order-3|copy|reber|smnist</c>: the classic
/// long-dependency benchmarks, generated from the seed (MNIST
/// from its IDX files), trained with the shared trainer, reported against their memoryless baselines.
/// </summary>
static class TaskCommand
{
    public static Command Create()
    {
        var command = new Command("task", "Train a recurrent network on a classic long-dependency benchmark.");
        command.Subcommands.Add(Verb("adding",
            "Adding problem (Hochreiter & Schmidhuber 1997): sum the two marked numbers; baseline MSE 0.167.", 100, 20,
            2e-3f));
        command.Subcommands.Add(Verb("multiplication", "Multiplication problem (Hochreiter & Schmidhuber 1997): "
            + "multiply the two marked numbers; baseline MSE 0.049.", 100, 20, 2e-3f));
        command.Subcommands.Add(Verb("temporal-order", "Temporal order (Hochreiter & Schmidhuber 1997): classify the "
            + "order of the X/Y at 10–20% and 50–60% of the sequence among distractors; chance 0.25.", 100, 20, 2e-3f));
        command.Subcommands.Add(Verb("temporal-order-3", "3-bit temporal order: the order of three X/Y at 10–20%, "
            + "33–43% and 66–76% of the sequence; chance 0.125.", 100, 20, 2e-3f));
        command.Subcommands.Add(Verb("copy",
            "Copy memory (Arjovsky et al. 2016): reproduce 10 symbols after a delay of --length steps.", 50, 20,
            2e-3f));
        command.Subcommands.Add(Verb("reber",
            "Embedded Reber grammar (Hochreiter & Schmidhuber 1997): predict the possible next symbols.", 0, 30,
            5e-3f));
        command.Subcommands.Add(Verb("smnist", "Sequential MNIST, pixel by pixel (--permuted: permuted MNIST); first "
            + "8,000 digits train, last 2,000 test.", 0, 10, 1e-3f));
        return command;
    }

    static Command Verb(string name, string description, int defaultLength, int defaultEpochs, float defaultLr)
    {
        var cell = CellOption.Create();
        var hidden = new Option<int>("--hidden")
        {
            Description = "Hidden units.",
            DefaultValueFactory = _ => name == "smnist" ? 128 : 64,
        };
        var layers = new Option<int>("--layers")
        {
            Description = "Stacked recurrent layers.",
            DefaultValueFactory = _ => 1,
        };
        var dropout = new Option<float>("--dropout")
        {
            Description = "Dropout between stacked layers and before the output layer.",
            DefaultValueFactory = _ => 0f,
        };
        var trainSize = new Option<int>("--train-size")
        {
            Description = name == "smnist" ? "Training digits (at most the first 8,000)."
                : "Generated training sequences.",
            DefaultValueFactory = _ => name == "smnist" ? 8000 : 10000,
        };
        var validSize = new Option<int>("--valid-size")
        {
            Description = name == "smnist" ? "Test digits (at most the last 2,000)."
                : "Generated validation sequences.",
            DefaultValueFactory = _ => name == "smnist" ? 2000 : 1000,
        };
        var length = new Option<int>("--length")
        {
            Description = name == "copy" ? "Delay T between the symbols and their recall." : "Sequence length T.",
            DefaultValueFactory = _ => defaultLength,
        };
        var permuted = new Option<bool>("--permuted")
        {
            Description = "Permute the pixels with one fixed permutation.",
        };
        var data = new Option<string>("--data")
        {
            Description = "Folder with t10k-images-idx3-ubyte.gz and t10k-labels-idx1-ubyte.gz.",
            DefaultValueFactory = _ => Path.Combine("..", "shared", "data", "mnist"),
        };
        var json = new Option<bool>("--json") { Description = "Print the final metrics as one JSON object." };
        var chrono = new Option<int>("--chrono")
        {
            Description = "LSTM/GRU: chrono initialisation of the gate biases for dependencies up to this many steps "
                + "(Tallec & Ollivier 2018; 0: off, LSTM forget bias 1).",
            DefaultValueFactory = _ => 0,
        };
        var regulariser = new Option<float>("--gradient-regulariser")
        {
            Description = "λ of the vanishing-gradient regulariser of Pascanu et al. (2013) added to the loss "
                + "(one-layer tanh RNN, --cell rnn; 0: off).",
            DefaultValueFactory = _ => 0f,
        };
        var training = new TrainingOptions(defaultEpochs, name == "smnist" ? 64 : 32, defaultLr, hessianFree: true);
        var verb = new Command(name, description) { cell, hidden, layers, dropout, chrono, regulariser };
        if (defaultLength > 0) verb.Options.Add(length);
        verb.Options.Add(trainSize);
        verb.Options.Add(validSize);
        if (name == "smnist") { verb.Options.Add(permuted); verb.Options.Add(data); }
        verb.Options.Add(json);
        training.AddTo(verb);
        verb.SetAction(r => CommandErrors.Guard(() =>
        {
            var s = training.Read(r);
            using var threadLimit = Parallelism.Limit(s.Threads);
            int train = r.GetValue(trainSize), valid = r.GetValue(validSize), t = r.GetValue(length);
            int shortest = name.StartsWith("temporal", StringComparison.Ordinal) ? 10 : 2;
            if (train < 1 || valid < 1 || r.GetValue(hidden) < 1 || r.GetValue(layers) < 1
                || defaultLength > 0 && t < shortest)
                throw new UsageException("--train-size, --valid-size, --hidden and --layers must be positive and "
                    + "--length at least 2 (10 for the temporal-order tasks).");
            if (r.GetValue(dropout) is < 0f
                or >= 1f) throw new UsageException($"--dropout must be in [0, 1), got {r.GetValue(dropout)}.");
            if (r.GetValue(chrono) != 0 && (r.GetValue(chrono) < 3
                || RecurrentCells.Mode(r.GetValue(cell)!) is not (RecurrentMode.Lstm or RecurrentMode.Gru)))
                throw new UsageException("--chrono needs an LSTM or GRU cell and a horizon of at least 3 steps.");
            float lambda = r.GetValue(regulariser);
            var random = new RandomGenerator(s.Seed);
            var dataRandom = new RandomGenerator(s.Seed + 1);
            (SequenceDataset Train, SequenceDataset Valid, string Metric, MetricMode Mode,
                string Baseline) sets = name switch
                {
                    "adding" => (SyntheticTasks.Adding(dataRandom, t, train),
                        SyntheticTasks.Adding(dataRandom, t, valid), "loss", MetricMode.Min,
                        $"always answering 1: MSE {SyntheticTasks.AddingBaseline:F3}"),
                    "multiplication" => (SyntheticTasks.Multiplication(dataRandom, t, train),
                        SyntheticTasks.Multiplication(dataRandom, t, valid), "loss", MetricMode.Min,
                        $"always answering 1/4: MSE {SyntheticTasks.MultiplicationBaseline:F3}"),
                    "temporal-order" or "temporal-order-3" => TemporalOrder(dataRandom, t, train, valid,
                        name.EndsWith("-3", StringComparison.Ordinal) ? 3 : 2),
                    "copy" => (SyntheticTasks.Copy(dataRandom, t, train), SyntheticTasks.Copy(dataRandom, t, valid),
                        "loss", MetricMode.Min,
                        $"memoryless: cross-entropy {SyntheticTasks.CopyBaseline(t):F4}"),
                    "reber" => (SyntheticTasks.EmbeddedReber(dataRandom, train),
                        SyntheticTasks.EmbeddedReber(dataRandom, valid), "sequence_accuracy", MetricMode.Max,
                        "guessing the branch symbol: sequence accuracy 0.5"),
                    _ => Mnist(r.GetValue(data)!, r.GetValue(permuted), s.Seed, Math.Min(train, 8000), Math.Min(valid,
                        2000)),
                };
            var config = new SequenceModelConfig(r.GetValue(cell)!, sets.Train.Features, r.GetValue(hidden),
                sets.Train.Outputs, r.GetValue(layers), Dropout: r.GetValue(dropout),
                PerStep: sets.Train.Kind is TargetKind.ClassPerStep or TargetKind.MultiLabelPerStep,
                ChronoMaxSteps: r.GetValue(chrono), BatchNormSteps: sets.Train.Steps);
            if (lambda > 0f && SequenceTask.RegulariserProblem(config) is { } problem)
                throw new UsageException($"--gradient-regulariser {lambda} needs --cell rnn with one layer and no "
                    + $"dropout (it follows the tanh RNN's Jacobian): {problem}");
            if (s.Optimizer == "hf" && (lambda > 0f ? "it does not take the gradient regulariser."
                    : SequenceCurvature.Problem(config)) is { } unsupported)
                throw new UsageException("--optimizer hf: " + unsupported);
            var model = new SequenceModel(config, random);
            var task = new SequenceTask(model, sets.Train, sets.Valid, s.Batch, new()
            {
                ["task"] = name, ["length"] = sets.Train.Steps,
                ["permutation_seed"] = name == "smnist" && r.GetValue(permuted) ? s.Seed + 7 : null,
                ["gradient_regulariser"] = lambda > 0f ? lambda : null,
            })
            { Regulariser = lambda > 0f ? new GradientRegulariser(lambda) : null };
            var optimizer = TrainingOptions.CreateOptimizer(s, model.Parameters());
            var schedule = TrainingOptions.CreateSchedule(s, task.BatchesPerEpoch, sets.Mode);
            AnsiConsole.MarkupLine($"[bold]{Markup.Escape(name)}[/]: " + Markup.Escape(
                $"{config.Cell.Name()} ×{config.NumLayers}, "
                + $"{config.HiddenSize} units, {sets.Train.Count} sequences of {sets.Train.Steps} steps; "
                + $"baseline — {sets.Baseline}"));
            var result = TrainingOptions.Train(task, optimizer,
                TrainingOptions.CreateTrainerOptions(s, sets.Metric, sets.Mode), schedule, s.Resume);
            var metrics = TrainingOptions.Summary(result);
            TrainingOptions.PrintMetrics(
                $"{name}: {TrainingOptions.Outcome(result)} after {result.Epochs} epochs", metrics,
                r.GetValue(json));
            return result.Outcome == TrainingOutcome.Interrupted ? 130 : 0;
        }));
        return verb;
    }

    static (SequenceDataset, SequenceDataset, string, MetricMode, string) TemporalOrder(RandomGenerator random,
        int length, int train, int valid, int bits) =>
        (SyntheticTasks.TemporalOrder(random, length, train, bits), SyntheticTasks.TemporalOrder(random, length, valid,
            bits), "accuracy", MetricMode.Max, $"chance: accuracy {1.0 / (1 << bits):F3}");

    static (SequenceDataset, SequenceDataset, string, MetricMode, string) Mnist(string folder, bool permuted,
        ulong seed, int train, int valid)
    {
        string images = Path.Combine(folder, "t10k-images-idx3-ubyte.gz"), labels = Path.Combine(folder,
            "t10k-labels-idx1-ubyte.gz");
        if (!File.Exists(images) || !File.Exists(labels)) throw new UsageException($"MNIST files not found "
            + $"in {folder} (expected t10k-images-idx3-ubyte.gz and t10k-labels-idx1-ubyte.gz); pass --data.");
        ulong? permutation = permuted ? seed + 7 : null; // recorded in config.json as permutation_seed
        return (SyntheticTasks.SequentialMnist(images, labels, 0, train, permutation),
            SyntheticTasks.SequentialMnist(images, labels, 8000, valid, permutation),
            "accuracy", MetricMode.Max, "chance: accuracy 0.10");
    }
}

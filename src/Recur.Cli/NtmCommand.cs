using System.CommandLine;
using System.Globalization;
using System.Text.Json.Nodes;
using Recur.Cli.Training;
using Recur.Kernels;
using Recur.Memory;
using Recur.Nn;
using Recur.Nn.Recurrent;
using Recur.Training;
using Spectre.Console;

namespace Recur.Cli;

/// <summary>
/// <c>recur ntm train|eval</c>: the Neural Turing Machine on the copy and associative-recall tasks of Graves et al.
/// (2014), trained on short sequences and tested on longer ones, against an LSTM of the same number of parameters.
/// </summary>
static class NtmCommand
{
    public static Command Create()
    {
        var command = new Command("ntm", "Neural Turing Machine on copy and associative recall, against an LSTM.");
        command.Subcommands.Add(Train());
        command.Subcommands.Add(Eval());
        return command;
    }

    static Option<string> TaskOption() => new("--task")
    {
        Description = "copy (8-bit vectors, lengths 1–20) or recall (associative recall of 3-vector items of 6 bits, "
            + "2–6 items).",
        DefaultValueFactory = _ => "copy",
    };

    static AlgorithmicTask Parse(string task) => task == "recall" ? AlgorithmicTask.AssociativeRecall
        : AlgorithmicTask.Copy;

    static Command Train()
    {
        var cell = new Option<string>("--cell")
        {
            Description = "ntm (LSTM controller), ntm-ff (feed-forward controller) or lstm (the baseline).",
            DefaultValueFactory = _ => "ntm",
        };
        cell.AcceptOnlyFromAmong("ntm", "ntm-ff", "lstm");
        var controller = new Option<int>("--controller")
        {
            Description = "Controller units (ntm).", DefaultValueFactory = _ => 100,
        };
        var slots = new Option<int>("--slots")
        {
            Description = "Memory slots N (ntm).", DefaultValueFactory = _ => 128,
        };
        var slotSize = new Option<int>("--slot-size")
        {
            Description = "Width W of a slot (ntm).", DefaultValueFactory = _ => 20,
        };
        var hidden = new Option<int?>("--hidden")
        {
            Description = "LSTM units (lstm; default: as many parameters as the NTM of the same settings).",
        };
        var task = TaskOption();
        task.AcceptOnlyFromAmong("copy", "recall");
        var maxLength = new Option<int?>("--max-length")
        {
            Description = "Training lengths are drawn up to this (default 20 vectors for copy, 6 items for recall).",
        };
        var perEpoch = new Option<int>("--batches-per-epoch")
        {
            Description = "Fresh batches per epoch.", DefaultValueFactory = _ => 100,
        };
        var json = new Option<bool>("--json") { Description = "Print the final metrics as JSON." };
        var shared = new TrainingOptions(50, 16, 1e-3f, defaultClipNorm: 10f);
        var command = new Command("train",
            "Train on fresh sequences of the task; validation: bit errors at the longest length.")
        {
            task, cell, controller, slots, slotSize, hidden, maxLength, perEpoch, json,
        };
        shared.AddTo(command);
        command.SetAction(r => CommandErrors.Guard(() =>
        {
            var s = shared.Read(r);
            using var threadLimit = Parallelism.Limit(s.Threads);
            if (s.Out is null) throw new UsageException("--out is required: the model and its checkpoints go there.");
            var kind = Parse(r.GetValue(task)!);
            int longest = r.GetValue(maxLength) ?? (kind == AlgorithmicTask.Copy ? 20 : 6);
            if (longest < AlgorithmicTasks.MinLength(kind) || r.GetValue(perEpoch) < 1 || r.GetValue(controller) < 1
                || r.GetValue(slots) < 3 || r.GetValue(slotSize) < 1 || r.GetValue(hidden) is < 1)
                throw new UsageException("--batches-per-epoch, --controller, --slot-size and --hidden must be "
                    + $"positive, --slots at least 3, --max-length at least {AlgorithmicTasks.MinLength(kind)}.");
            var random = new RandomGenerator(s.Seed);
            int bits = AlgorithmicTasks.DefaultBits(kind), inputs = AlgorithmicTasks.Inputs(kind, bits);
            var machineConfig = new NeuralTuringMachineConfig(inputs, bits, r.GetValue(controller), r.GetValue(slots),
                r.GetValue(slotSize), r.GetValue(cell) == "ntm");
            AlgorithmicTraining training;
            if (r.GetValue(cell) == "lstm")
            {
                int units = r.GetValue(hidden) ?? MatchingUnits(new NeuralTuringMachine(machineConfig with
                {
                    LstmController = true,
                }, new RandomGenerator(0)).Parameters().Sum(p => p.Length), inputs, bits);
                var model = new SequenceModel(new SequenceModelConfig(CellKind.Lstm, inputs, units, bits,
                    PerStep: true),
                    random);
                training = AlgorithmicTraining.For(kind, model, longest, s.Batch, r.GetValue(perEpoch));
            }
            else
                training = AlgorithmicTraining.For(kind, new NeuralTuringMachine(machineConfig, random), longest,
                    s.Batch, r.GetValue(perEpoch));
            long parameters = training.Model.Parameters().Sum(p => (long)p.Length);
            AnsiConsole.MarkupLine(Markup.Escape($"ntm: {r.GetValue(task)} of lengths "
                + $"{AlgorithmicTasks.MinLength(kind)}–{longest}, {bits}-bit vectors; {r.GetValue(cell)}, "
                + $"{parameters:N0} parameters."));
            var optimizer = TrainingOptions.CreateOptimizer(s, training.Model.Parameters());
            var schedule = TrainingOptions.CreateSchedule(s, training.BatchesPerEpoch, Optim.MetricMode.Min);
            var options = TrainingOptions.CreateTrainerOptions(s, "bit_errors", Optim.MetricMode.Min);
            var result = TrainingOptions.Train(training, optimizer, options, schedule, s.Resume);
            if (result.Outcome == TrainingOutcome.Interrupted) return 130;
            TrainingOptions.PrintMetrics("ntm: last validation", result.LastEvaluation
                ?? new Dictionary<string, double>(), r.GetValue(json));
            return 0;
        }));
        return command;
    }

    /// <summary>The LSTM width whose parameter count, 4H² + 4H(inputs + 2) + (H + 1)·outputs, is closest to
    /// <paramref name="parameters"/>.</summary>
    static int MatchingUnits(int parameters, int inputs, int outputs)
    {
        double a = 4, b = 4 * (inputs + 2) + outputs, c = outputs - parameters;
        return Math.Max(1, (int)Math.Round((-b + Math.Sqrt(b * b - 4 * a * c)) / (2 * a)));
    }

    static Command Eval()
    {
        var model = new Option<string>("--model") { Description = "Run folder of `recur ntm train`.", Required = true };
        var lengths = new Option<string?>("--lengths")
        {
            Description = "Comma-separated lengths to test (default: 20,40,80,120 for copy, 6,12,20 for recall).",
        };
        var count = new Option<int>("--sequences")
        {
            Description = "Test sequences per length.", DefaultValueFactory = _ => 64,
        };
        var json = new Option<bool>("--json") { Description = "Print the errors as JSON." };
        var command = new Command("eval", "Bit errors per sequence at each test length.")
        {
            model, lengths, count, json,
        };
        command.SetAction(r => CommandErrors.Guard(() =>
        {
            if (!Directory.Exists(r.GetValue(model)))
                throw new UsageException($"{r.GetValue(model)}: no such model folder.");
            var (task, _) = AlgorithmicTraining.Open(r.GetValue(model)!);
            var tested = new JsonObject();
            var table = new Table().AddColumns("length", "bit errors per sequence", "bits answered per sequence");
            string lengthList = r.GetValue(lengths) ?? (task.Task == AlgorithmicTask.Copy ? "20,40,80,120" : "6,12,20");
            foreach (var part in lengthList.Split(',', StringSplitOptions.TrimEntries))
            {
                if (!int.TryParse(part, NumberStyles.None, CultureInfo.InvariantCulture, out int length)
                    || length < AlgorithmicTasks.MinLength(task.Task))
                    throw new UsageException($"--lengths: '{part}' is not a length of {task.Task} (at least "
                    + $"{AlgorithmicTasks.MinLength(task.Task)}).");
                var batch = task.TestBatch(length, r.GetValue(count));
                var (_, errors) = task.Score(batch);
                tested[part] = errors;
                table.AddRow(part, errors.ToString("F2", CultureInfo.InvariantCulture),
                    (batch.Targets.Size(0) * task.Bits).ToString(CultureInfo.InvariantCulture));
            }
            if (r.GetValue(json)) Console.WriteLine(new JsonObject { ["bit_errors"] = tested }.ToJsonString());
            else AnsiConsole.Write(table);
            return 0;
        }));
        return command;
    }
}

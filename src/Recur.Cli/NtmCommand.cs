using System.CommandLine;
using System.Globalization;
using System.Text.Json.Nodes;
using Recur.Cli.Training;
using Recur.Kernels;
using Recur.Memory;
using Recur.Nn;
using Recur.Training;
using Spectre.Console;

namespace Recur.Cli;

/// <summary>
/// <c>recur ntm train|eval</c>: the Neural Turing Machine on the copy task of Graves et al. (2014), trained on lengths
/// 1–20 and tested on longer ones, against an LSTM of about the same number of parameters.
/// </summary>
static class NtmCommand
{
    public static Command Create()
    {
        var command = new Command("ntm", "Neural Turing Machine on the copy task, against an LSTM.");
        command.Subcommands.Add(Train());
        command.Subcommands.Add(Eval());
        return command;
    }

    const int Bits = 8;

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
        var maxLength = new Option<int>("--max-length")
        {
            Description = "Training lengths are drawn from 1 to this.", DefaultValueFactory = _ => 20,
        };
        var perEpoch = new Option<int>("--batches-per-epoch")
        {
            Description = "Fresh batches per epoch.", DefaultValueFactory = _ => 100,
        };
        var json = new Option<bool>("--json") { Description = "Print the final metrics as JSON." };
        var training = new TrainingOptions(50, 16, 1e-3f, defaultClipNorm: 10f);
        var command = new Command("train",
            "Train on fresh copy sequences; validation: bit errors at the longest length.")
        {
            cell, controller, slots, slotSize, hidden, maxLength, perEpoch, json,
        };
        training.AddTo(command);
        command.SetAction(r => CommandErrors.Guard(() =>
        {
            var s = training.Read(r);
            using var threadLimit = Parallelism.Limit(s.Threads);
            if (s.Out is null) throw new UsageException("--out is required: the model and its checkpoints go there.");
            if (r.GetValue(maxLength) < 1 || r.GetValue(perEpoch) < 1 || r.GetValue(controller) < 1
                || r.GetValue(slots) < 3 || r.GetValue(slotSize) < 1 || r.GetValue(hidden) is < 1)
                throw new UsageException("--max-length, --batches-per-epoch, --controller, --slot-size and --hidden "
                    + "must be positive, --slots at least 3.");
            var random = new RandomGenerator(s.Seed);
            CopyTraining task;
            if (r.GetValue(cell) == "lstm")
            {
                int units = r.GetValue(hidden) ?? MatchingUnits(new NeuralTuringMachine(new NeuralTuringMachineConfig(
                    Bits + 1, Bits, r.GetValue(controller), r.GetValue(slots), r.GetValue(slotSize)),
                    new RandomGenerator(0)).Parameters().Sum(p => p.Length));
                var model = new SequenceModel(new SequenceModelConfig("lstm", Bits + 1, units, Bits, PerStep: true),
                    random);
                task = CopyTraining.For(model, r.GetValue(maxLength), s.Batch, r.GetValue(perEpoch));
            }
            else
            {
                var machine = new NeuralTuringMachine(new NeuralTuringMachineConfig(Bits + 1, Bits,
                    r.GetValue(controller), r.GetValue(slots), r.GetValue(slotSize), r.GetValue(cell) == "ntm"),
                    random);
                task = CopyTraining.For(machine, r.GetValue(maxLength), s.Batch, r.GetValue(perEpoch));
            }
            long parameters = task.Model.Parameters().Sum(p => (long)p.Length);
            AnsiConsole.MarkupLine(Markup.Escape($"ntm: copy of 1–{r.GetValue(maxLength)} vectors of {Bits} bits; "
                + $"{r.GetValue(cell)}, {parameters:N0} parameters."));
            var optimizer = TrainingOptions.CreateOptimizer(s, task.Model.Parameters());
            var schedule = TrainingOptions.CreateSchedule(s, task.BatchesPerEpoch, Optim.MetricMode.Min);
            var options = TrainingOptions.CreateTrainerOptions(s, "bit_errors", Optim.MetricMode.Min);
            var result = TrainingOptions.Run((observer, token) =>
            {
                var trainer = new Trainer<SequenceBatch>(task, optimizer, options, schedule, observer);
                if (s.Resume != null) trainer.Resume(s.Resume);
                return trainer.Fit(token);
            });
            if (result.Outcome == TrainingOutcome.Interrupted) return 130;
            TrainingOptions.PrintMetrics("ntm: last validation", result.LastEvaluation
                ?? new Dictionary<string, double>(), r.GetValue(json));
            return 0;
        }));
        return command;
    }

    /// <summary>The LSTM width whose parameter count, 4H² + 4H(inputs + 2) + (H + 1)·outputs, is closest to
    /// <paramref name="parameters"/>.</summary>
    static int MatchingUnits(int parameters)
    {
        double a = 4, b = 4 * (Bits + 1 + 2) + Bits, c = Bits - parameters;
        return Math.Max(1, (int)Math.Round((-b + Math.Sqrt(b * b - 4 * a * c)) / (2 * a)));
    }

    static Command Eval()
    {
        var model = new Option<string>("--model") { Description = "Run folder of `recur ntm train`.", Required = true };
        var lengths = new Option<string>("--lengths")
        {
            Description = "Comma-separated sequence lengths to test.", DefaultValueFactory = _ => "20,40,80,120",
        };
        var count = new Option<int>("--sequences")
        {
            Description = "Test sequences per length.", DefaultValueFactory = _ => 64,
        };
        var json = new Option<bool>("--json") { Description = "Print the errors as JSON." };
        var command = new Command("eval", "Bit errors per sequence at each test length (trained on 1–20).")
        {
            model, lengths, count, json,
        };
        command.SetAction(r => CommandErrors.Guard(() =>
        {
            if (!Directory.Exists(r.GetValue(model)))
                throw new UsageException($"{r.GetValue(model)}: no such model folder.");
            var (task, _) = CopyTraining.Open(r.GetValue(model)!);
            var tested = new JsonObject();
            var table = new Table().AddColumns("length", "bit errors per sequence", "bits per sequence");
            foreach (var part in r.GetValue(lengths)!.Split(',', StringSplitOptions.TrimEntries))
            {
                if (!int.TryParse(part, NumberStyles.None, CultureInfo.InvariantCulture, out int length) || length < 1)
                    throw new UsageException($"--lengths: '{part}' is not a positive length.");
                var batch = CopyTask.Batch(new RandomGenerator(1000 + (ulong)length), length, r.GetValue(count), Bits);
                var (_, errors) = task.Score(batch);
                tested[part] = errors;
                table.AddRow(part, errors.ToString("F2", CultureInfo.InvariantCulture),
                    (length * Bits).ToString(CultureInfo.InvariantCulture));
            }
            if (r.GetValue(json)) Console.WriteLine(new JsonObject { ["bit_errors"] = tested }.ToJsonString());
            else AnsiConsole.Write(table);
            return 0;
        }));
        return command;
    }
}

using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Recur.Autograd;
using Recur.Cli.Data;
using Recur.Cli.Training;
using Recur.Figures;
using Recur.Memory;
using Recur.Training;
using Spectre.Console;

namespace Recur.Cli;

static partial class InspectCommand
{
    static Command Memory()
    {
        var model = new Option<string>("--model")
        {
            Description = "Run folder of `recur memnet train` or `recur ntm train`.", Required = true,
        };
        var story = new Option<string?>("--story")
        {
            Description = "Memory network: the story, one sentence a line, numbered as in bAbI or plain.",
        };
        var task = new Option<int?>("--task") { Description = "Memory network: the per-task model to ask." };
        var length = new Option<int>("--length")
        {
            Description = "Neural Turing Machine: length of the sequence shown (vectors to copy, items to recall "
                + "from).", DefaultValueFactory = _ => 20,
        };
        var question = new Argument<string?>("question")
        {
            Description = "Memory network: the question, e.g. \"Where is Mary?\"", Arity = ArgumentArity.ZeroOrOne,
        };
        var output = OutOption("memory");
        var json = new Option<bool>("--json") { Description = "Print the weights and files as JSON." };
        var command = new Command("memory", "Attention over memory: a memory network's over the story's sentences "
            + "at every hop, or a Neural Turing Machine's write and read weightings over its slots while it copies.")
        {
            model, story, task, length, question, output, json,
        };
        command.SetAction(r => CommandErrors.Guard(() =>
        {
            string folder = r.GetValue(model)!;
            if (!Directory.Exists(folder)) throw new UsageException($"{folder}: no such model folder.");
            // a per-task bAbI run holds task{N}/ folders; any other run one model whose config names it
            string? architecture = TrainedStoryModel.TaskFolders(folder).Count == 0
                ? (string?)Checkpoint.ReadConfig(Checkpoint.Locate(folder))["architecture"] : null;
            if (architecture == "sequence_model")
                throw new UsageException("the model is the LSTM baseline of the copy task: it has no memory to show.");
            bool ntm = architecture == "ntm";
            return ntm ? MachineWeightings(folder, r.GetValue(length), r.GetValue(output)!, r.GetValue(json))
                : StoryAttention(folder, r.GetValue(task), r.GetValue(story)
                    ?? throw new UsageException("--story is required for a memory network."), r.GetValue(question)
                    ?? throw new UsageException("give the question to ask about the story."), r.GetValue(output)!,
                    r.GetValue(json));
        }));
        return command;
    }

    static int StoryAttention(string model, int? task, string story, string question, string output, bool json)
    {
        var asked = StoryQuestions.Ask(model, task, story, question);
        if (asked.Attention.Length == 0)
            throw new UsageException("the model is the LSTM baseline: it has no attention over memories.");
        int sentences = asked.Story.Length, hops = asked.Attention.Length;
        // story order, oldest sentence at the top; the weight on empty slots, if any, in a last row
        bool empty = asked.Empty.Any(w => w > 0);
        var values = new double[sentences + (empty ? 1 : 0), hops];
        for (int h = 0; h < hops; h++)
        {
            for (int i = 0; i < sentences; i++) values[i, h] = asked.Attention[h][sentences - 1 - i];
            if (empty) values[sentences, h] = asked.Empty[h];
        }
        var rowLabels = asked.Story.Select((s, i) => $"{i + 1}: {string.Join(' ', s)}")
            .Concat(empty ? ["(empty slots)"] : []).ToArray();
        var files = Charts.Heatmap(output, $"\"{question}\" → {asked.Answer}", values, "hop", "sentence",
            Enumerable.Range(1, hops).Select(h => h.ToString(CultureInfo.InvariantCulture)).ToArray(), rowLabels);
        if (json)
            Console.WriteLine(JsonSerializer.Serialize(new
            {
                answer = asked.Answer, attention = asked.Attention, empty = asked.Empty, unknown = asked.Unknown,
                png = files.Png, svg = files.Svg,
            }));
        else
        {
            Console.WriteLine($"answer: {asked.Answer}");
            CliOutput.PrintFiles(files, false);
        }
        return 0;
    }

    /// <summary>The write and read weightings of a Neural Turing Machine on one sequence of its task: two heatmaps
    /// of slots (rows) over time steps (columns).</summary>
    static int MachineWeightings(string model, int length, string output, bool json)
    {
        if (length < 1) throw new UsageException($"--length must be positive, got {length}.");
        var (training, opened) = AlgorithmicTraining.Open(model);
        var machine = opened ?? throw new UsageException("the model is not a Neural Turing Machine.");
        if (length < AlgorithmicTasks.MinLength(training.Task))
            throw new UsageException($"--length must be at least {AlgorithmicTasks.MinLength(training.Task)} for "
                + $"{training.Task}.");
        var batch = AlgorithmicTasks.Batch(training.Task, new RandomGenerator(7), length, 1, training.Bits);
        machine.Eval();
        NeuralTuringMachineOutput result;
        using (GradMode.NoGrad()) result = machine.Forward(batch.Inputs);
        int steps = result.WriteWeights.Count, slots = machine.Config.MemorySlots;
        var figures = new List<FigureFiles>();
        var weights = new Dictionary<string, float[][]>();
        foreach (var (name, series) in new[] { ("write", result.WriteWeights), ("read", result.ReadWeights) })
        {
            var values = new double[slots, steps];
            for (int t = 0; t < steps; t++)
            {
                var w = series[t].ToArray();
                for (int i = 0; i < slots; i++) values[i, t] = w[i];
            }
            weights[name] = series.Select(w => w.ToArray()).ToArray();
            figures.Add(Charts.Heatmap($"{output}-{name}", training.Task == AlgorithmicTask.Copy
                ? $"NTM {name} weighting, copying {length} vectors (delimiter at step {length})"
                : $"NTM {name} weighting, recalling from {length} items (answer from step {batch.AnswerStart})",
                values, "time step", "memory slot"));
        }
        var (_, errors) = training.Score(batch);
        if (json)
            Console.WriteLine(JsonSerializer.Serialize(new
            {
                bit_errors = errors, write = weights["write"], read = weights["read"],
                files = figures.SelectMany(f => new[] { f.Png, f.Svg }),
            }));
        else
        {
            Console.WriteLine(FormattableString.Invariant(
                $"bit errors: {errors:F0} of {batch.Targets.Size(0) * training.Bits}"));
            foreach (var f in figures) CliOutput.PrintFiles(f, false);
        }
        return 0;
    }
}

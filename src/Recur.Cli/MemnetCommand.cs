using System.CommandLine;
using System.Globalization;
using System.Text.Json.Nodes;
using Recur.Cli.Data;
using Recur.Cli.Training;
using Recur.Kernels;
using Recur.Memory;
using Recur.Training;
using Spectre.Console;

namespace Recur.Cli;

/// <summary>
/// <c>recur memnet train|eval|answer</c>: end-to-end memory networks (and the LSTM baseline) on the bAbI tasks, one
/// model per task or one for all, with the error of every task and the attention of every hop.
/// </summary>
static class MemnetCommand
{
    public static Command Create()
    {
        var command = new Command("memnet", "End-to-end memory networks answering questions about stories (bAbI).");
        command.Subcommands.Add(Train());
        command.Subcommands.Add(Eval());
        command.Subcommands.Add(Answer());
        return command;
    }

    static Option<string> DataOption() => new("--data")
    {
        Description = "Folder of the bAbI task files (qa1_single-supporting-fact_train.txt, …).",
        DefaultValueFactory = _ => Path.Combine("..", "shared", "data", "babi", "tasks_1-20_v1-2", "en"),
    };

    static Option<string> TasksOption(string? fallback) => new("--tasks")
    {
        Description = "bAbI tasks: numbers and ranges, e.g. 1-20 or 1,2,17." + (fallback is null
            ? " Default: those the model was trained on." : ""),
        DefaultValueFactory = _ => fallback!,
    };

    /// <summary>Task numbers from "1-3,7": each 1–20, each once, in order.</summary>
    internal static int[] ParseTasks(string text)
    {
        var tasks = new SortedSet<int>();
        foreach (var part in text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            var ends = part.Split('-', StringSplitOptions.TrimEntries);
            if (ends.Length > 2 || !ends.All(e => int.TryParse(e, NumberStyles.None, CultureInfo.InvariantCulture,
                out int t) && t is >= 1 and <= 20))
                throw new UsageException($"--tasks: '{part}' is not a task 1–20 or a range like 1-20.");
            int first = int.Parse(ends[0], CultureInfo.InvariantCulture), last = int.Parse(ends[^1],
                CultureInfo.InvariantCulture);
            if (last < first) throw new UsageException($"--tasks: the range '{part}' runs backwards.");
            for (int t = first; t <= last; t++) tasks.Add(t);
        }
        if (tasks.Count == 0) throw new UsageException("--tasks: no tasks given.");
        return [.. tasks];
    }

    static Command Train()
    {
        var data = DataOption();
        var tasks = TasksOption("1-20");
        var joint = new Option<bool>("--joint")
        {
            Description = "One model for all --tasks (default: one model per task, in OUT/task{N}).",
        };
        var architecture = new Option<string>("--architecture")
        {
            Description = "memn2n, or lstm: the baseline reading story and question as one sequence (trained with "
                + "adam at 0.001 unless told otherwise).",
            DefaultValueFactory = _ => "memn2n",
        };
        architecture.AcceptOnlyFromAmong("memn2n", "lstm");
        var hops = new Option<int>("--hops") { Description = "Attention hops (memn2n).", DefaultValueFactory = _ => 3 };
        var embedding = new Option<int>("--embedding")
        {
            Description = "Embedding size d (memn2n; the LSTM's word embedding).", DefaultValueFactory = _ => 20,
        };
        var hidden = new Option<int>("--hidden") { Description = "LSTM units (lstm).", DefaultValueFactory = _ => 100 };
        var encoding = new Option<string>("--encoding")
        {
            Description = "Sentence representation (memn2n): position or bow.", DefaultValueFactory = _ => "position",
        };
        encoding.AcceptOnlyFromAmong("position", "bow");
        var memory = new Option<int>("--memory")
        {
            Description = "Most recent sentences a question sees.", DefaultValueFactory = _ => 50,
        };
        var noTemporal = new Option<bool>("--no-temporal") { Description = "No temporal encoding (memn2n)." };
        var noNoise = new Option<bool>("--no-noise") { Description = "No random time noise in training (memn2n)." };
        var noLinearStart = new Option<bool>("--no-linear-start")
        {
            Description = "Keep the memory softmax from the start (memn2n; default: linear start, see "
                + "--linear-start-epochs).",
        };
        var linearStartEpochs = new Option<int?>("--linear-start-epochs")
        {
            Description = "Epochs of linear start (default 20, with --joint 30, as the paper's code — or the same "
                + "share of --epochs; 0: until the validation loss stops improving).",
        };
        var halveEvery = new Option<int?>("--halve-every")
        {
            Description = "Halve the learning rate every N epochs after linear start, unless --schedule is given "
                + "(default 25, with --joint 15).",
        };
        var json = new Option<bool>("--json") { Description = "Print the final metrics as JSON." };
        // the paper's recipe: plain SGD at 0.005 on the loss summed over 32 questions (0.16 on the mean), gradients
        // clipped to norm 40 of that sum; 100 epochs after linear start (60 joint)
        var training = new TrainingOptions(120, 32, 0.16f, defaultClipNorm: 1.25f, defaultOptimizer: "sgd",
            defaultMomentum: 0f);
        var command = new Command("train", "Train on the bAbI tasks; 10% of each task's training questions choose "
            + "the epoch.")
        {
            data, tasks, joint, architecture, hops, embedding, hidden, encoding, memory, noTemporal, noNoise,
            noLinearStart, linearStartEpochs, halveEvery, json,
        };
        training.AddTo(command);
        command.SetAction(r => CommandErrors.Guard(() =>
        {
            var s = training.Read(r);
            using var threadLimit = Parallelism.Limit(s.Threads);
            if (s.Out is null) throw new UsageException("--out is required: the models and checkpoints go there.");
            var chosen = ParseTasks(r.GetValue(tasks)!);
            bool together = r.GetValue(joint);
            // the paper's code: 20 epochs of linear start and 100 more per task; 30 and 60 joint
            int paperLinear = together ? 30 : 20, paperMain = together ? 60 : 100;
            int? linearGiven = r.GetValue(linearStartEpochs);
            if (!training.Given(r, "--epochs")) s = s with { Epochs = (linearGiven ?? paperLinear) + paperMain };
            bool lstm = r.GetValue(architecture) == "lstm";
            // no linear start for the LSTM, nor when asked, nor when one epoch is all there is
            bool linearStart = !lstm && !r.GetValue(noLinearStart) && (linearGiven != null || s.Epochs > 1);
            int linearEpochs = !linearStart ? 0 : linearGiven
                ?? Math.Clamp((int)Math.Round((double)s.Epochs * paperLinear / (paperLinear + paperMain)), 1,
                    s.Epochs - 1);
            int halve = r.GetValue(halveEvery) ?? (together ? 15 : 25);
            if (linearEpochs < 0 || halve < 1)
                throw new UsageException("--linear-start-epochs cannot be negative; --halve-every must be positive.");
            if (linearStart && linearEpochs >= s.Epochs)
                throw new UsageException($"--linear-start-epochs {linearEpochs} leaves none of the {s.Epochs} epochs "
                    + "for the model with its softmax.");
            if (lstm && !training.Given(r, "--optimizer")) s = s with { Optimizer = "adam" }; // the baseline's own
            if (lstm && !training.Given(r, "--lr")) s = s with { LearningRate = 1e-3f };
            if (r.GetValue(memory) < 1 || r.GetValue(hops) is < 1 or > 10
                || r.GetValue(embedding) < 1
                || r.GetValue(hidden) < 1)
                throw new UsageException("--memory, --embedding and --hidden must be positive, --hops 1–10.");
            var groups = together ? [chosen] : chosen.Select(t => new[] { t }).ToArray();
            if (s.Resume != null && groups.Length > 1)
                throw new UsageException("--resume continues one run: give --joint, or one task in --tasks.");
            var results = new List<(int[] Tasks, IReadOnlyDictionary<string, double> Metrics)>();
            foreach (var group in groups)
            {
                string folder = groups.Length == 1 ? s.Out
                    : Path.Combine(s.Out, TrainedStoryModel.TaskFolderPrefix + group[0]);
                var split = BabiReader.Load(r.GetValue(data)!, group, r.GetValue(memory));
                var seen = split.Train.Concat(split.Validation).ToList();
                var vocabulary = StoryEncoding.Vocabulary(split.Train);
                EncodedQuestion[] Encode(List<BabiQuestion> set) =>
                    set.Select(q => StoryEncoding.Encode(q, vocabulary)).ToArray();
                IStoryModel model = lstm
                    ? new StoryLstm(new StoryLstmConfig(vocabulary.Count, r.GetValue(embedding), r.GetValue(hidden),
                        r.GetValue(memory)), new RandomGenerator(s.Seed))
                    : new MemoryNetwork(new MemoryNetworkConfig(vocabulary.Count,
                        StoryEncoding.SentenceLength(seen), r.GetValue(embedding), r.GetValue(hops),
                        // as the authors' code: as many slots as the longest story needs, at most --memory
                        Math.Max(1, seen.Max(q => q.Story.Count)),
                        r.GetValue(encoding) == "bow"
                            ? SentenceEncoding.BagOfWords : SentenceEncoding.Position, !r.GetValue(noTemporal),
                        !r.GetValue(noNoise)), new RandomGenerator(s.Seed));
                var task = new StoryTask(model, Encode(split.Train), Encode(split.Validation), s.Batch,
                    linearStart, new JsonObject
                    {
                        ["tasks"] = new JsonArray(group.Select(t => (JsonNode)t).ToArray()),
                        ["vocabulary"] = new JsonArray(vocabulary.Words.Select(w => (JsonNode)w).ToArray()),
                    }, linearEpochs > 0 ? linearEpochs : null);
                long parameters = model.Module.Parameters().Sum(p => (long)p.Length);
                AnsiConsole.MarkupLine(Markup.Escape($"memnet: task{(group.Length > 1 ? "s" : "")} "
                    + $"{string.Join(",", group)}: {split.Train.Count} questions, {split.Validation.Count} for "
                    + $"validation; {(lstm ? "LSTM baseline" : $"{r.GetValue(hops)}-hop memory network")}, "
                    + $"{vocabulary.Count} words, {parameters:N0} parameters → {folder}"));
                var settings = s with { Out = folder };
                if (folder != s.Out) RunFolder.CheckNew(folder, s.Overwrite);
                var optimizer = TrainingOptions.CreateOptimizer(settings, model.Module.Parameters());
                var schedule = training.Given(r, "--schedule")
                    ? TrainingOptions.CreateSchedule(settings, task.BatchesPerEpoch, Optim.MetricMode.Max)
                    : Halving(s.LearningRate, linearEpochs, halve, s.Epochs);
                var options = TrainingOptions.CreateTrainerOptions(settings, "accuracy", Optim.MetricMode.Max);
                var result = TrainingOptions.Train(task, optimizer, options, schedule, s.Resume);
                if (result.Outcome == TrainingOutcome.Interrupted) return 130;
                var metrics = new Dictionary<string, double>(result.LastEvaluation ?? new Dictionary<string, double>())
                {
                    ["best_accuracy"] = result.BestMetric ?? double.NaN, ["epochs"] = result.Epochs,
                };
                results.Add((group, metrics));
            }
            if (results.Count == 1)
                TrainingOptions.PrintMetrics("memnet: last validation", results[0].Metrics, r.GetValue(json));
            else
            {
                var mean = new Dictionary<string, double>
                {
                    ["best_accuracy"] = results.Average(x => x.Metrics["best_accuracy"]),
                    ["tasks"] = results.Count,
                };
                TrainingOptions.PrintMetrics("memnet: mean over the per-task models (validation)", mean,
                    r.GetValue(json));
            }
            return 0;
        }));
        return command;
    }

    /// <summary>The paper's schedule: the rate halves every <paramref name="every"/> epochs after
    /// <paramref name="start"/>.</summary>
    static Optim.LearningRateSchedule Halving(float rate, int start, int every, int epochs)
    {
        var milestones = Enumerable.Range(1, epochs).Select(i => (long)(start + i * every)).TakeWhile(m => m < epochs)
            .ToArray();
        return milestones.Length == 0 ? new Optim.ConstantSchedule(rate)
            : new Optim.MultiStepSchedule(rate, milestones, 0.5);
    }

    static Option<string> ModelOption() => new("--model")
    {
        Description = "Run folder of `recur memnet train` (one model, or one per task in task{N}/).",
        Required = true,
    };

    static Command Eval()
    {
        var model = ModelOption();
        var data = DataOption();
        var tasks = TasksOption(null);
        var json = new Option<bool>("--json") { Description = "Print the errors as JSON." };
        var command = new Command("eval", "Test error of every bAbI task, their mean and the tasks failed (> 5%).")
        {
            model, data, tasks, json,
        };
        command.SetAction(r => CommandErrors.Guard(() =>
        {
            if (!Directory.Exists(r.GetValue(model)))
                throw new UsageException($"{r.GetValue(model)}: no such model folder.");
            var models = TrainedStoryModel.OpenRun(r.GetValue(model)!);
            int[]? wanted = r.GetValue(tasks) is { } t ? ParseTasks(t) : null;
            var errors = new SortedDictionary<int, double>();
            foreach (var m in models)
            {
                var evaluate = wanted is null ? m.Tasks : m.Tasks.Intersect(wanted).ToArray();
                if (evaluate.Length == 0) continue;
                var test = BabiReader.Load(r.GetValue(data)!, evaluate, m.MemorySize, 0).Test
                    .Select(q => StoryEncoding.Encode(q, m.Vocabulary)).ToArray();
                foreach (var (task, error) in StoryTask.Report(m.Model, test).ErrorByTask) errors[task] = error;
            }
            if (errors.Count == 0) throw new UsageException("--tasks: the model was trained on none of them.");
            double mean = errors.Values.Average();
            int failed = errors.Values.Count(e => e > 0.05);
            if (r.GetValue(json))
            {
                var byTask = new JsonObject();
                foreach (var (task, error) in errors) byTask[task.ToString(CultureInfo.InvariantCulture)] = error;
                Console.WriteLine(new JsonObject
                {
                    ["mean_error"] = mean, ["failed_tasks"] = failed, ["errors"] = byTask,
                }.ToJsonString());
                return 0;
            }
            var table = new Table().AddColumns("task", "name", "test error");
            foreach (var (task, error) in errors)
                table.AddRow(task.ToString(CultureInfo.InvariantCulture), BabiReader.TaskNames[task - 1],
                    (100 * error).ToString("F1", CultureInfo.InvariantCulture) + "%");
            table.AddRow("mean", $"{failed} of {errors.Count} failed (> 5%)",
                (100 * mean).ToString("F1", CultureInfo.InvariantCulture) + "%");
            AnsiConsole.Write(table);
            return 0;
        }));
        return command;
    }

    static Command Answer()
    {
        var model = ModelOption();
        var story = new Option<string>("--story")
        {
            Description = "The story: one sentence a line, numbered as in bAbI or plain.", Required = true,
        };
        var task = new Option<int?>("--task") { Description = "The per-task model to ask (for a per-task run)." };
        var question = new Argument<string>("question") { Description = "The question, e.g. \"Where is the ring?\"" };
        var command = new Command("answer", "Answer a question about a story; show the sentences each hop attends to.")
        {
            model, story, task, question,
        };
        command.SetAction(r => CommandErrors.Guard(() =>
        {
            var asked = StoryQuestions.Ask(r.GetValue(model)!, r.GetValue(task), r.GetValue(story)!,
                r.GetValue(question)!);
            Console.WriteLine(asked.Answer);
            if (asked.Unknown.Length > 0)
                Console.Error.WriteLine($"note: words the model never saw in training: {string.Join(", ",
                    asked.Unknown)}");
            for (int hop = 0; hop < asked.Attention.Length; hop++)
            {
                Console.WriteLine(asked.Empty[hop] >= 0.005f
                    ? FormattableString.Invariant($"hop {hop + 1} ({asked.Empty[hop]:F2} on empty slots):")
                    : $"hop {hop + 1}:");
                foreach (var (i, weight) in asked.Attention[hop].Select((w, i) => (i, w)).OrderByDescending(x => x.w)
                    .Take(3))
                    Console.WriteLine(FormattableString.Invariant($"  {weight,5:F2}  {asked.Story.Length - i}: ")
                        + string.Join(' ', asked.Story[asked.Story.Length - 1 - i]));
            }
            return 0;
        }));
        return command;
    }
}

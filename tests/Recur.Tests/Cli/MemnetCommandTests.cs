using System.Text.Json;
using Recur.Training;

namespace Recur.Tests.Cli;

/// <summary><c>recur memnet</c> end to end on small generated bAbI-format tasks.</summary>
[Collection("cli")]
public sealed class MemnetCommandTests : IDisposable
{
    readonly string folder = Directory.CreateTempSubdirectory("recur-memnet-").FullName;

    public void Dispose() => Directory.Delete(folder, recursive: true);

    static readonly string[] People = ["mary", "john", "sandra"];
    static readonly string[] Places = ["kitchen", "garden", "office", "hallway"];

    /// <summary>Stories in bAbI format: people move, and every second line a question asks where one of them
    /// is.</summary>
    static IEnumerable<string> Lines(int stories, ulong seed)
    {
        var random = new RandomGenerator(seed);
        for (int s = 0; s < stories; s++)
        {
            var where = new Dictionary<string, (string Place, int Line)>();
            int line = 0;
            for (int i = 0; i < 4; i++)
            {
                string person = People[random.NextInt(People.Length)], place = Places[random.NextInt(Places.Length)];
                yield return $"{++line} {char.ToUpperInvariant(person[0])}{person[1..]} went to the {place}.";
                where[person] = (place, line);
                var asked = where.Keys.ElementAt(random.NextInt(where.Count));
                yield return $"{++line} Where is {asked}? \t{where[asked].Place}\t{where[asked].Line}";
            }
        }
    }

    string Data()
    {
        string data = Path.Combine(folder, "babi");
        Directory.CreateDirectory(data);
        foreach (var (task, name) in new[] { (1, "single-supporting-fact"), (2, "two-supporting-facts") })
        {
            File.WriteAllLines(Path.Combine(data, $"qa{task}_{name}_train.txt"), Lines(40, (ulong)task));
            File.WriteAllLines(Path.Combine(data, $"qa{task}_{name}_test.txt"), Lines(10, (ulong)task + 10));
        }
        return data;
    }

    /// <summary>Runs the CLI, capturing standard output and error.</summary>
    internal static (int Code, string Output, string Error) Run(params string[] args)
    {
        var output = new StringWriter();
        var saved = Console.Out;
        Console.SetOut(output);
        try
        {
            var (code, error) = RunSafetyTests.RunCapturingErrors(args);
            return (code, output.ToString(), error);
        }
        finally { Console.SetOut(saved); }
    }

    [Fact]
    public void PerTaskModelsTrainEvaluateAndAnswerWithTheirAttention()
    {
        string data = Data(), run = Path.Combine(folder, "run");
        Assert.Equal(0, Run("memnet", "train", "--data", data, "--tasks", "1-2", "--out", run, "--epochs", "3",
            "--embedding", "8", "--threads", "1").Code);
        Assert.True(File.Exists(Path.Combine(run, "task1", "best", Checkpoint.ModelFile)));
        Assert.True(File.Exists(Path.Combine(run, "task2", "best", Checkpoint.ModelFile)));
        var (code, output, _) = Run("memnet", "eval", "--model", run, "--data", data, "--json");
        Assert.Equal(0, code);
        var report = JsonDocument.Parse(output).RootElement;
        Assert.Equal(2, report.GetProperty("errors").EnumerateObject().Count());
        double mean = report.GetProperty("errors").EnumerateObject().Average(e => e.Value.GetDouble());
        Assert.Equal(mean, report.GetProperty("mean_error").GetDouble(), 9);
        string story = Path.Combine(folder, "story.txt");
        File.WriteAllLines(story, ["1 Mary went to the garden.", "2 John went to the office."]);
        (code, output, _) = Run("memnet", "answer", "--model", run, "--task", "1", "--story", story,
            "Where is Mary?");
        Assert.Equal(0, code);
        var lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Contains(lines[0].Trim(), new[] { "kitchen", "garden", "office", "hallway", "mary", "john" }
            .Concat(["sandra", "went", "to", "the", "where", "is", "<unk>", "<pad>"]));
        Assert.Equal(["hop 1", "hop 2", "hop 3"], lines.Where(l => l.StartsWith("hop")).Select(l => l[..5]).ToArray());
        Assert.Contains(lines, l => l.Contains("2: john went to the office"));
        var (refused, _, error) = Run("memnet", "answer", "--model", run, "--story", story, "Where is Mary?");
        Assert.Equal(2, refused);
        Assert.Contains("--task", error);
        string figure = Path.Combine(folder, "attention");
        (code, output, _) = Run("inspect", "memory", "--model", run, "--task", "2", "--story", story,
            "Where is John?", "--out", figure, "--json");
        Assert.Equal(0, code);
        var inspected = JsonDocument.Parse(output).RootElement;
        Assert.Equal(3, inspected.GetProperty("attention").GetArrayLength());
        var empty = inspected.GetProperty("empty").EnumerateArray().Select(w => w.GetDouble()).ToArray();
        Assert.All(inspected.GetProperty("attention").EnumerateArray(), (hop, h) =>
            Assert.Equal(1.0, hop.EnumerateArray().Sum(w => w.GetDouble()) + empty[h], 4));
        Assert.True(new FileInfo(figure + ".png").Length > 1000);
        Assert.True(File.Exists(figure + ".svg"));
    }

    [Fact]
    public void AJointModelNamesWordsItNeverSawAndTheLstmBaselineTrains()
    {
        string data = Data(), run = Path.Combine(folder, "joint");
        Assert.Equal(0, Run("memnet", "train", "--data", data, "--tasks", "1,2", "--joint", "--out", run,
            "--epochs", "2", "--embedding", "8", "--threads", "1", "--linear-start-epochs", "1").Code);
        string ring = Path.Combine(folder, "ring.txt");
        File.WriteAllLines(ring, ["1 Bilbo travelled to the cave.", "2 Gollum dropped the ring there."]);
        var (code, _, error) = Run("memnet", "answer", "--model", run, "--story", ring, "Where is the ring?");
        Assert.Equal(0, code);
        Assert.Contains("never saw in training: bilbo, travelled, cave, gollum, dropped, ring, there", error);
        string lstm = Path.Combine(folder, "lstm");
        Assert.Equal(0, Run("memnet", "train", "--data", data, "--tasks", "1", "--architecture", "lstm", "--out",
            lstm, "--epochs", "1", "--hidden", "8", "--threads", "1").Code);
        Assert.Equal(0, Run("memnet", "eval", "--model", lstm, "--data", data, "--json").Code);
        var (noAttention, _, message) = Run("inspect", "memory", "--model", lstm, "--story", ring, "Where is it?",
            "--out", Path.Combine(folder, "none"));
        Assert.Equal(2, noAttention);
        Assert.Contains("no attention", message);
        Assert.False(File.Exists(Path.Combine(folder, "none.png")));
    }

    [Fact]
    public void BadInputIsNamed()
    {
        string data = Data();
        File.AppendAllLines(Path.Combine(data, "qa2_two-supporting-facts_train.txt"), ["7 Where is Mary?\tgarden"]);
        var (code, _, error) = Run("memnet", "train", "--data", data, "--tasks", "2", "--out",
            Path.Combine(folder, "bad"), "--epochs", "1");
        Assert.Equal(1, code);
        Assert.Contains("qa2_two-supporting-facts_train.txt, line 321", error);
        (code, _, error) = Run("memnet", "train", "--data", data, "--tasks", "0-3", "--out",
            Path.Combine(folder, "bad2"));
        Assert.Equal(2, code);
        Assert.Contains("--tasks", error);
        (code, _, error) = Run("memnet", "train", "--data", data, "--tasks", "3", "--out", Path.Combine(folder, "b3"));
        Assert.Equal(1, code);
        Assert.Contains("qa3_*_train.txt", error);
    }
}

/// <summary><c>recur ntm</c> end to end with a tiny machine.</summary>
[Collection("cli")]
public sealed class NtmCommandTests : IDisposable
{
    readonly string folder = Directory.CreateTempSubdirectory("recur-ntm-").FullName;

    public void Dispose() => Directory.Delete(folder, recursive: true);

    [Theory]
    [InlineData("ntm", "copy")]
    [InlineData("lstm", "copy")]
    [InlineData("ntm", "recall")]
    public void TrainsAndReportsBitErrorsAtEveryTestLength(string cell, string task)
    {
        string run = Path.Combine(folder, cell + task);
        var (code, _, error) = Run("ntm", "train", "--task", task, "--cell", cell, "--controller", "8", "--slots",
            "6", "--slot-size", "4", "--hidden", "8", "--max-length", "3", "--batches-per-epoch", "3", "--epochs",
            "1", "--batch", "4", "--threads", "1", "--out", run);
        Assert.True(code == 0, error);
        (code, var output, error) = Run("ntm", "eval", "--model", run, "--lengths", "3,6", "--sequences", "4",
            "--json");
        Assert.True(code == 0, error);
        var errors = JsonDocument.Parse(output).RootElement.GetProperty("bit_errors");
        int answered = task == "copy" ? 8 : 3 * 6; // bits answered at length 3: 3 × 8 or one item of 3 × 6
        Assert.InRange(errors.GetProperty("3").GetDouble(), 0, 3 * answered);
        Assert.InRange(errors.GetProperty("6").GetDouble(), 0, 6 * answered);
        (code, _, error) = Run("ntm", "eval", "--model", run, "--lengths", "0");
        Assert.Equal(2, code);
        Assert.Contains("--lengths", error);
        string figure = Path.Combine(folder, cell + task + "-memory");
        (code, output, error) = Run("inspect", "memory", "--model", run, "--length", "3", "--out", figure, "--json");
        if (task == "recall")
        {
            Assert.True(code == 0, error);
            Assert.Equal(3 * 4 + 3 + 2 + 3, JsonDocument.Parse(output).RootElement.GetProperty("write")
                .GetArrayLength());
            return;
        }
        if (cell == "lstm")
        {
            Assert.Equal(2, code);
            Assert.Contains("no memory", error);
            return;
        }
        Assert.True(code == 0, error);
        var shown = JsonDocument.Parse(output).RootElement;
        Assert.Equal(7, shown.GetProperty("write").GetArrayLength()); // 3 vectors, the delimiter, 3 answers
        Assert.All(shown.GetProperty("read").EnumerateArray(), step =>
            Assert.Equal(1.0, step.EnumerateArray().Sum(w => w.GetDouble()), 4));
        Assert.True(File.Exists(figure + "-write.png") && File.Exists(figure + "-read.png"));
    }

    static (int Code, string Output, string Error) Run(params string[] args) => MemnetCommandTests.Run(args);
}

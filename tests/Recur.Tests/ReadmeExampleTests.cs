using System.Text.RegularExpressions;
using Recur.Nn;
using Recur.Nn.Recurrent;
using Recur.Optim;
using Recur.Tasks;
using Recur.Training;

namespace Recur.Tests;

/// <summary>The C# example on README's front page, run as written, so that it cannot rot.</summary>
public sealed class ReadmeExampleTests
{
    static double Example(TextWriter console)
    {
        // README:begin
        var random = new RandomGenerator(seed: 1);
        var train = SyntheticTasks.Adding(random, length: 20, count: 4000);   // the adding problem, T = 20
        var valid = SyntheticTasks.Adding(random, length: 20, count: 500);
        var config = new SequenceModelConfig(CellKind.Lstm, InputSize: 2, HiddenSize: 32, OutputSize: 1,
            ChronoMaxSteps: 20);
        var model = new SequenceModel(config, random);
        var task = new SequenceTask(model, train, valid, batchSize: 32);
        var options = new TrainerOptions { MaxSteps = 600, ClipNorm = 1f, ValidateEvery = 200 };
        var result = new Trainer<int[]>(task, new Adam(model.Parameters(), 3e-3f), options).Fit();
        double mse = result.LastEvaluation!["loss"];
        console.WriteLine($"validation MSE {mse:F4} after {result.Steps} steps (baseline 0.167)");
        // README:end
        return mse;
    }

    [Fact]
    [Trait("Category", "slow")] // learns to a threshold
    public void TheExampleLearnsTheAddingProblem()
    {
        var output = new StringWriter();
        double mse = Example(output);
        Assert.True(mse < 0.05, $"validation MSE {mse}");
        Assert.StartsWith("validation MSE", output.ToString());
    }

    [Fact]
    public void ReadmeShowsTheExampleAsItIsHere()
    {
        string root = SharedData.Repository();
        string source = File.ReadAllText(Path.Combine(root, "tests", "Recur.Tests", "ReadmeExampleTests.cs"));
        var lines = Regex.Match(source, @"// README:begin\r?\n(.*?)\r?\n\s*// README:end",
            RegexOptions.Singleline).Groups[1].Value
            .Split('\n').Select(l => l.TrimEnd('\r').Length >= 8 ? l.TrimEnd('\r')[8..] : l.Trim())
            .Select(l => l.Replace("console.WriteLine", "Console.WriteLine", StringComparison.Ordinal));
        string readme = File.ReadAllText(Path.Combine(root, "README.md")).Replace("\r\n", "\n");
        Assert.Contains(string.Join("\n", lines), readme);
    }

    /// <summary>README stays a front page (about 12,000 characters; the details live in docs/) whose links to files
    /// of the repository all lead somewhere.</summary>
    [Fact]
    public void ReadmeIsAFrontPageWhoseLinksResolve()
    {
        string root = SharedData.Repository();
        string readme = File.ReadAllText(Path.Combine(root, "README.md"));
        Assert.True(readme.Length <= 12_000, $"README.md has {readme.Length:N0} characters; move details to docs/");
        var links = Regex.Matches(readme, @"\]\((?!https?:|\.\./)([^)#]+)").Select(m => m.Groups[1].Value).ToList();
        Assert.NotEmpty(links);
        Assert.All(links, link => Assert.True(File.Exists(Path.Combine(root, link))
            || Directory.Exists(Path.Combine(root, link)), $"README links to {link}, which is not there"));
    }
}

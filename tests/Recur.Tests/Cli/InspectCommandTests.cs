using Recur.Cli;
using Recur.Tests.Figures;
using Recur.Training;

namespace Recur.Tests.Cli;

/// <summary>`recur inspect` end to end on tiny sizes: exit codes, and figures that are valid files with the expected
/// series.</summary>
[Collection("cli")]
public sealed class InspectCommandTests : IDisposable
{
    readonly string folder = Directory.CreateTempSubdirectory("recur-inspect-").FullName;

    public void Dispose() => Directory.Delete(folder, recursive: true);

    string At(string name) => Path.Combine(folder, name);

    [Fact]
    public void GradientsOfFreshModelsDrawOneLinePerCell()
    {
        Assert.Equal(0, RecurCommand.Run("inspect", "gradients", "--cells", "rnn,gru", "--length", "12", "--hidden",
            "6", "--count", "4", "--out", At("flow"), "--threads", "1"));
        FigureFiles.AssertPng(At("flow.png"));
        FigureFiles.AssertSvg(At("flow.svg"), "rnn (initial)", "gru (initial)", "Gradient flow through time");
    }

    [Fact]
    public void TrainedModelIsInspectedOnItsRegeneratedTask()
    {
        string run = At("run");
        Assert.Equal(0, RecurCommand.Run("task", "adding", "--length", "8", "--epochs", "2", "--train-size", "64",
            "--valid-size", "16",
            "--hidden", "4", "--batch", "16", "--out", run, "--threads", "1"));
        Assert.Equal(0, RecurCommand.Run("inspect", "gradients", "--model", Path.Combine(run, "last"), "--count", "4",
            "--out", At("g")));
        FigureFiles.AssertSvg(At("g.svg"), "run/last");

        Assert.Equal(0, RecurCommand.Run("inspect", "gates", "--model", Path.Combine(run, "last"), "--count", "4",
            "--units", "3", "--out", At("gates")));
        foreach (var gate in new[] { "input", "forget", "cell", "output", "hidden" })
        {
            FigureFiles.AssertPng(At($"gates-{gate}.png"));
            FigureFiles.AssertSvg(At($"gates-{gate}.svg"), "sequence 0");
        }

        Assert.Equal(0, RecurCommand.Run("inspect", "saliency", "--model", Path.Combine(run, "last"), "--show", "3",
            "--out", At("saliency")));
        FigureFiles.AssertSvg(At("saliency.svg"), "saliency");

        Assert.Equal(0, RecurCommand.Run("inspect", "curves", run, "--out", At("curves")));
        FigureFiles.AssertSvg(At("curves.svg"), "run train loss", "run valid loss");
        FigureFiles.AssertNoTemporaries(folder);
    }

    [Fact]
    public void MultistepScheduleDropsTheRateAtItsMilestonesAndDropoutAndAveragingAreSaved()
    {
        string run = At("multistep");
        Assert.Equal(0, RecurCommand.Run("task", "adding", "--length", "6", "--epochs", "3", "--train-size", "32",
            "--valid-size", "8", "--hidden", "4",
            "--batch", "16", "--lr", "0.01", "--schedule", "multistep", "--milestones", "1,2", "--gamma", "0.5",
                "--log-every", "1", "--dropout", "0.3",
            "--swa-start", "2", "--out", run, "--threads", "1"));
        var rates = File.ReadLines(Path.Combine(run,
            "metrics.jsonl")).Select(l => System.Text.Json.JsonDocument.Parse(l).RootElement)
            .Where(e => e.GetProperty("type").GetString() == "train")
            .GroupBy(e => e.GetProperty("epoch").GetInt32()).ToDictionary(g => g.Key,
                g => g.Select(e => e.GetProperty("lr").GetDouble()).Distinct().Single());
        Assert.Equal(0.01, rates[1], 6);
        Assert.Equal(0.005, rates[2], 6);
        Assert.Equal(0.0025, rates[3], 6);
        Assert.Contains("\"dropout\": 0.3", File.ReadAllText(Path.Combine(run, "last", "config.json")));
        Assert.True(File.Exists(Path.Combine(run, "last",
            Recur.Training.Checkpoint.TrainingWeightsFile))); // --swa-start: averaged weights saved
        Assert.Contains("uniform from epoch 2", File.ReadAllText(Path.Combine(run, "last",
            Recur.Training.Checkpoint.TrainerFile)));
        // usage errors: milestones without the multistep schedule, multistep without milestones, milestones out of
        // order
        string[] common = ["task", "adding", "--length", "6", "--epochs", "1", "--train-size", "8", "--valid-size",
            "4", "--out", At("bad")];
        Assert.Equal(2, RecurCommand.Run([.. common, "--milestones", "2"]));
        Assert.Equal(2, RecurCommand.Run([.. common, "--schedule", "multistep"]));
        Assert.Equal(2, RecurCommand.Run([.. common, "--schedule", "multistep", "--milestones", "3,2"]));
        Assert.Equal(2, RecurCommand.Run([.. common, "--dropout", "1"]));
        Assert.Equal(2, RecurCommand.Run([.. common, "--ema", "1"]));
        Assert.Equal(2, RecurCommand.Run([.. common, "--swa-start", "2"])); // after the last epoch
        Assert.Equal(2, RecurCommand.Run([.. common, "--ema", "0.99", "--swa-start", "1"]));
        Assert.False(Directory.Exists(At("bad")));
    }

    [Fact]
    public void BadInputsFailWithAnExitCodeInsteadOfACrash()
    {
        Assert.Equal(1, RecurCommand.Run("inspect", "curves", At("missing"), "--out", At("c")));
        File.WriteAllText(At("metrics.jsonl"), "{\"type\":\"train\",\"epoch\":1,\"step\":1,\"loss\":0.5}\nnot "
            + "json\n{\"type\":\"train\",\"epoch\":1,\"step\":2,\"loss\":0.4}\n");
        Assert.Equal(1, RecurCommand.Run("inspect", "curves", At("metrics.jsonl"), "--out", At("c")));
        Assert.Equal(1, RecurCommand.Run("inspect", "gates", "--model", At("missing"), "--out", At("c")));
        Assert.Equal(2, RecurCommand.Run("inspect", "gradients", "--cells", "transformer", "--out", At("c")));
        Assert.False(File.Exists(At("c.png")));
    }
}

public sealed class MetricsLogTests : IDisposable
{
    readonly string file = Path.GetTempFileName();

    public void Dispose() => File.Delete(file);

    [Fact]
    public void ReadsRecordsAndNamesTheBadLine()
    {
        File.WriteAllText(file, "{\"type\":\"train\",\"epoch\":1,\"step\":5,\"loss\":0.5,"
            + "\"grad_norm\":null}\n\n{\"type\":\"eval\",\"epoch\":1,\"step\":5,\"loss\":0.4,\"accuracy\":0.9}\n");
        var entries = MetricsLog.Read(file);
        Assert.Equal(2, entries.Count);
        Assert.Equal(0.5, entries[0].Values["loss"]);
        Assert.False(entries[0].Values.ContainsKey("grad_norm"));
        Assert.Equal(0.9, entries[1].Values["accuracy"]);

        File.WriteAllText(file, "{\"type\":\"train\",\"epoch\":1,\"step\":5,\"loss\":0.5}\n[1,2]\n{\"type\":\"train\","
            + "\"epoch\":1,\"step\":6,\"loss\":0.5}\n");
        Assert.Contains("line 2", Assert.Throws<InvalidDataException>(() => MetricsLog.Read(file)).Message);

        // a last line cut short by an interrupted write is skipped
        File.WriteAllText(file, "{\"type\":\"train\",\"epoch\":1,\"step\":5,\"loss\":0.5}\n{\"type\":\"tra");
        Assert.Single(MetricsLog.Read(file));
    }
}

/// <summary>`recur demo` on a tiny budget: the table runs and both kinds of figure are written with every
/// series.</summary>
[Collection("cli")]
public sealed class DemoCommandTests : IDisposable
{
    readonly string folder = Directory.CreateTempSubdirectory("recur-demo-").FullName;

    public void Dispose() => Directory.Delete(folder, recursive: true);

    [Fact]
    public void WritesLearningCurvesAndGradientFlow()
    {
        Assert.Equal(0, RecurCommand.Run("demo", "--lengths", "6,9", "--cells", "rnn,gru", "--steps", "30", "--hidden",
            "4", "--batch", "8",
            "--threads", "1", "--out", folder));
        foreach (int t in new[] { 6, 9 })
        {
            FigureFiles.AssertPng(Path.Combine(folder, $"curves-T{t}.png"));
            FigureFiles.AssertSvg(Path.Combine(folder, $"curves-T{t}.svg"), "rnn", "gru", "baseline 0.167", $"T = {t}");
        }
        FigureFiles.AssertPng(Path.Combine(folder, "gradient-flow.png"));
        FigureFiles.AssertSvg(Path.Combine(folder, "gradient-flow.svg"), "rnn initial", "rnn trained", "gru initial",
            "gru trained", "T = 9");
    }
}

/// <summary>`recur task smnist` on a few digits of the shared MNIST copy, permuted, then inspected.</summary>
[Collection("cli")]
public sealed class SmnistCommandTests : IDisposable
{
    readonly string folder = Directory.CreateTempSubdirectory("recur-smnist-").FullName;

    public void Dispose() => Directory.Delete(folder, recursive: true);

    [SharedDataFact("mnist")]
    public void TrainsOnAFewDigitsAndIsInspectedOnItsRegeneratedData()
    {
        string run = Path.Combine(folder, "run");
        Assert.Equal(0, RecurCommand.Run("task", "smnist", "--data", SharedData.Folder("mnist"), "--permuted",
            "--train-size", "32", "--valid-size", "16",
            "--hidden", "8", "--epochs", "1", "--batch", "16", "--out", run, "--threads", "1", "--chrono", "784"));
        Assert.Contains("\"chrono_max_steps\": 784", File.ReadAllText(Path.Combine(run, "last", "config.json")));
        Assert.Equal(2, RecurCommand.Run("task", "smnist", "--data", SharedData.Folder("mnist"), "--cell", "rnn",
            "--chrono", "784", "--out", Path.Combine(folder, "bad")));
        Assert.Equal(0, RecurCommand.Run("inspect", "saliency", "--model", Path.Combine(run, "last"), "--data",
            SharedData.Folder("mnist"), "--count", "4",
            "--show", "2", "--out", Path.Combine(folder, "saliency")));
        FigureFiles.AssertSvg(Path.Combine(folder, "saliency.svg"), "saliency");
    }
}

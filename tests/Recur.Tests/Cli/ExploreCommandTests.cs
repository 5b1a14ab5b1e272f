using System.Globalization;
using System.Net.Http.Json;
using Recur.Cli;
using Recur.Cli.Training;
using Recur.Explore;
using Recur.Tests.Explore;

namespace Recur.Tests.Cli;

/// <summary><c>recur explore</c> finds the kind of model a run folder holds and serves it; what it cannot serve it
/// refuses with the folder's name.</summary>
[Collection("cli")]
public sealed class ExploreCommandTests : IDisposable
{
    readonly string folder = Path.Combine(Path.GetTempPath(), "recur-explore-cli-" + Guid.NewGuid().ToString("N"));

    public ExploreCommandTests() => Directory.CreateDirectory(folder);

    public void Dispose() => Directory.Delete(folder, true);

    string At(string name) => Path.Combine(folder, name);

    [Fact]
    public async Task EachTrainingVerbsRunFolderIsServedAsItsKind()
    {
        File.WriteAllText(At("text.txt"), string.Concat(Enumerable.Repeat(ExploreModels.Text + "\n", 20)));
        Assert.Equal(0, RecurCommand.Run("lm", "train", "--text", At("text.txt"), "--hidden", "8", "--embed", "4",
            "--layers", "1", "--bptt", "16", "--batch", "4", "--epochs", "1", "--out", At("lm"), "--threads", "1"));
        var lm = TrainedModels.Subject(At("lm"));
        Assert.IsType<LanguageModelSubject>(lm);
        Assert.Equal("lm", lm.Name);
        // with int8 weights the served model's next-token distribution stays close to the float one's
        var quantised = TrainedModels.Subject(At("lm"), int8: true);
        await using (var floatHost = await ExploreHost.Start(lm))
        await using (var int8Host = await ExploreHost.Start(quantised))
        {
            var a = (await floatHost.Post("/predict", new { prompt = "to be or", top = 3 }))["next"]!.AsArray();
            var b = (await int8Host.Post("/predict", new { prompt = "to be or", top = 3 }))["next"]!.AsArray();
            Assert.Equal((double)a[0]!["probability"]!, (double)b[0]!["probability"]!, 0.05);
        }

        var lines = new List<string> { "label\tsentence" };
        for (int i = 0; i < 40; i++) lines.Add(i % 2 == 0 ? $"1\ta lovely film {i}" : $"0\ta dull story {i}");
        File.WriteAllLines(At("reviews.tsv"), lines);
        Assert.Equal(0, RecurCommand.Run("classify", "train", "--data", At("reviews.tsv"), "--model", "nb",
            "--out", At("nb")));
        var classifier = TrainedModels.Subject(At("nb"));
        Assert.IsType<ClassifierSubject>(classifier);
        Assert.Equal("each word's weight towards the class", (string?)classifier.Describe()["explainsBy"]);
        await using (var host = await ExploreHost.Start(classifier))
        {
            var answer = await host.Post("/predict", new { texts = new[] { "a lovely film", "a dull story" } });
            Assert.Equal(["1", "0"], answer["predictions"]!.AsArray().Select(p => (string)p!["label"]!));
            var why = await host.Post("/explain", new { text = "a lovely film" });
            var weights = why["blocks"]![0]!["words"]!.AsArray().ToDictionary(w => (string)w!["word"]!,
                w => (double)w!["weight"]!);
            Assert.True(weights["lovely"] > weights["a"], "the telling word weighs most for its class");
        }

        // a network that pools without attention is explained by saliency
        Assert.Equal(0, RecurCommand.Run("classify", "train", "--data", At("reviews.tsv"), "--pooling", "max",
            "--epochs", "1", "--embed", "4", "--hidden", "4", "--no-baselines", "--out", At("max"), "--threads", "1"));
        var pooled = TrainedModels.Subject(At("max"));
        Assert.StartsWith("saliency", (string?)pooled.Describe()["explainsBy"], StringComparison.Ordinal);
        await using (var host = await ExploreHost.Start(pooled))
        {
            var why = await host.Post("/explain", new { text = "a lovely film", label = "1" });
            var words = why["blocks"]![0]!["words"]!.AsArray();
            Assert.Equal(["a", "lovely", "film"], words.Select(w => (string)w!["word"]!));
            Assert.All(words, w => Assert.True((double)w!["weight"]! > 0));
        }
        Assert.Equal(0, RecurCommand.Run("classify", "predict", "--model", At("max"), "a lovely film", "--explain",
            At("why")));
        Assert.True(File.Exists(At("why") + "-1.png"));

        var series = Enumerable.Range(0, 60).Select(t => 10 + 3 * Math.Sin(2 * Math.PI * t / 12)).ToArray();
        File.WriteAllLines(At("series.csv"), ["month,value", .. series.Select((v, t) =>
            $"m{t},{v.ToString(CultureInfo.InvariantCulture)}")]);
        Assert.Equal(0, RecurCommand.Run("forecast", "train", "--csv", At("series.csv"), "--target", "value",
            "--window", "6", "--horizon", "3", "--test-size", "6", "--epochs", "2", "--hidden", "4", "--ensemble", "2",
            "--out", At("forecast"), "--threads", "1"));
        var forecaster = TrainedModels.Subject(At("forecast"));
        Assert.IsType<ForecasterSubject>(forecaster);
        await using (var host = await ExploreHost.Start(forecaster))
        {
            var answer = await host.Post("/predict", new { history = series, steps = 3 });
            // an ensemble's forecast is its members' mean
            var each = new[] { "member-1", "member-2" }.Select(m =>
                TrainedModels.ForecasterMember(Path.Combine(At("forecast"), m)).Forecast(series, 3)).ToArray();
            var served = answer["forecast"]!.AsArray().Select(v => (double)v!).ToArray();
            for (int k = 0; k < 3; k++) Assert.Equal((each[0][k] + each[1][k]) / 2, served[k], 12);
            Assert.Equal(3, answer["lower"]!.AsArray().Count);
        }
    }

    string TrainAdding()
    {
        Assert.Equal(0, RecurCommand.Run("task", "adding", "--length", "6", "--epochs", "2", "--train-size", "32",
            "--valid-size", "8", "--hidden", "4", "--out", At("adding"), "--threads", "1"));
        return At("adding");
    }

    [Fact]
    public async Task AnyOtherRunIsShownByItsTrainingCurves()
    {
        var subject = TrainedModels.Subject(TrainAdding());
        Assert.IsType<TrainingRunSubject>(subject);
        await using var host = await ExploreHost.Start(subject, new ExploreOptions { RunFolder = At("adding") });
        var info = await host.Client.GetFromJsonAsync<System.Text.Json.Nodes.JsonObject>("/info");
        Assert.Equal("run", (string?)info!["kind"]);
        Assert.True((bool)info["hasMetrics"]!);
        var metrics = await host.Client.GetFromJsonAsync<System.Text.Json.Nodes.JsonArray>("/metrics");
        Assert.Contains(metrics!, m => (string?)m!["type"] == "eval");
        using var predict = await host.Client.PostAsync("/predict", new StringContent("{}"));
        Assert.Equal(System.Net.HttpStatusCode.NotFound, predict.StatusCode);
    }

    [BrowserFact]
    public async Task AnyOtherRunsPageIsItsTrainingCurves()
    {
        string run = TrainAdding();
        await using var host = await ExploreHost.Start(TrainedModels.Subject(run),
            new ExploreOptions { RunFolder = run });
        using var driver = Browser.Start();
        Browser.Open(driver, host.Address);
        Browser.Done(driver, d => d.FindElement(OpenQA.Selenium.By.Id("curves")).GetAttribute("data-metrics")
            is { Length: > 0 });
        Assert.True(driver.FindElement(OpenQA.Selenium.By.Id("view-training")).Displayed);
        Assert.False(driver.FindElement(OpenQA.Selenium.By.Id("tabs")).Displayed);
    }

    [Fact]
    public void WhatCannotBeServedIsRefusedWithTheFolder()
    {
        var (code, _, error) = MemnetCommandTests.Run("explore", "--model", At("missing"));
        Assert.Equal(2, code);
        Assert.Contains("no such model folder", error, StringComparison.Ordinal);
        Directory.CreateDirectory(At("empty"));
        (code, _, error) = MemnetCommandTests.Run("explore", "--model", At("empty"));
        Assert.Equal(2, code);
        Assert.Contains("not a run folder explore serves", error, StringComparison.Ordinal);
        (code, _, error) = MemnetCommandTests.Run("explore", "--model", At("empty"), "--port", "70000");
        Assert.Equal(2, code);
        Assert.Contains("port must be 0–65535", error, StringComparison.Ordinal);
        (code, _, error) = MemnetCommandTests.Run("explore", "--model", At("empty"), "--timeout", "0");
        Assert.Equal(2, code);
        Assert.Contains("--timeout must be positive", error, StringComparison.Ordinal);
    }
}

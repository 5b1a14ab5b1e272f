using System.Text.Json;
using Recur.Classification;
using Recur.Text;

namespace Recur.Tests.Classification;

/// <summary>
/// Naive Bayes, logistic regression and NBSVM against Debian's python3-sklearn on the same features
/// (Fixtures/make_classification_baselines.py), hand-worked values, and their file format.
/// </summary>
public sealed class LinearClassifierTests
{
    static readonly JsonElement Root = JsonDocument.Parse(File.ReadAllText(Path.Combine(AppContext.BaseDirectory,
        "Fixtures", "classification_sklearn.json"))).RootElement;

    static readonly WordTokenizer Tokenizer = new();

    static IReadOnlyList<string>[] Tokens(JsonElement texts) =>
        texts.EnumerateArray().Select(t => (IReadOnlyList<string>)Tokenizer.Tokenize(t.GetString()!)).ToArray();

    static double[][] Rows(JsonElement e) =>
        e.EnumerateArray().Select(r => r.EnumerateArray().Select(v => v.GetDouble()).ToArray()).ToArray();

    static (IReadOnlyList<string>[] Train, int[] Labels, IReadOnlyList<string>[] Test, int Classes) Case(string name)
    {
        var c = Root.GetProperty(name);
        return (Tokens(c.GetProperty("train_texts")),
            c.GetProperty("train_labels").EnumerateArray().Select(v => v.GetInt32()).ToArray(),
            Tokens(c.GetProperty("test_texts")), c.GetProperty("classes").GetInt32());
    }

    static void Near(double[][] expected, double[][] actual, double tolerance, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
            for (int k = 0; k < expected[i].Length; k++)
                Assert.True(Math.Abs(expected[i][k] - actual[i][k]) <= tolerance * Math.Max(1,
                    Math.Abs(expected[i][k])),
                    $"{what}[{i}][{k}]: scikit-learn {expected[i][k]}, Recur {actual[i][k]}");
    }

    [Theory]
    [InlineData("binary")]
    [InlineData("multiclass")]
    public void NaiveBayesMatchesMultinomialNbOnBinaryBigramCounts(string name)
    {
        var (train, labels, test, classes) = Case(name);
        var model = LinearTextClassifier.Train(LinearModelKind.NaiveBayes, train, labels, classes);
        Assert.Equal(Root.GetProperty(name).GetProperty("features").GetInt32(), model.Features.Count);
        var logs = model.PredictProbabilities(test).Select(p => p.Select(v => Math.Log(v)).ToArray()).ToArray();
        Near(Rows(Root.GetProperty(name).GetProperty("nb_log_probabilities")), logs, 1e-9, "log p");
    }

    [Fact]
    public void TfIdfFeaturesMatchTfidfVectorizer()
    {
        var (train, _, test, _) = Case("binary");
        var features = BagOfWords.Build(train);
        var row = features.Transform(test[0]);
        var expected = Root.GetProperty("binary").GetProperty("tfidf_first_test_row");
        var terms = expected.GetProperty("terms").EnumerateArray().Select(t => t.GetString()!).ToArray();
        var values = expected.GetProperty("values").EnumerateArray().Select(v => v.GetDouble()).ToArray();
        var actual = row.Indices.Select((f, k) => (Term: features.Term(f), Value: row.Values[k]))
            .ToDictionary(p => p.Term, p => p.Value);
        Assert.Equal(terms.Order(StringComparer.Ordinal), actual.Keys.Order(StringComparer.Ordinal));
        for (int k = 0; k < terms.Length; k++) Assert.Equal(values[k], actual[terms[k]], 12);
    }

    [Theory]
    [InlineData("binary")]
    [InlineData("multiclass")]
    public void LogisticRegressionMatchesScikitLearnLbfgs(string name)
    {
        var (train, labels, test, classes) = Case(name);
        double c = Root.GetProperty(name).GetProperty("logreg_regularization").GetDouble();
        var model = LinearTextClassifier.Train(LinearModelKind.LogisticRegression, train, labels, classes,
            new LinearModelOptions { Regularization = c });
        Near(Rows(Root.GetProperty(name).GetProperty("logreg_probabilities")), model.PredictProbabilities(test), 1e-6,
            "p");
    }

    [Theory]
    [InlineData("binary")]
    [InlineData("multiclass")]
    public void NbSvmMatchesLinearSvcOnRatioScaledFeatures(string name)
    {
        var (train, labels, test, classes) = Case(name);
        var model = LinearTextClassifier.Train(LinearModelKind.NbSvm, train, labels, classes);
        var margins = Rows(Root.GetProperty(name).GetProperty("nbsvm_margins"));
        // binary: one SVM whose margin is class 1's score minus class 0's; more classes: one margin per class
        var actual = margins.Length == 1
            ? [test.Select(t => model.Scores(t)[1] - model.Scores(t)[0]).ToArray()]
            : Enumerable.Range(0, classes).Select(k => test.Select(t => model.Scores(t)[k]).ToArray()).ToArray();
        Near(margins, actual, 1e-6, "margin");
    }

    [Fact]
    public void NaiveBayesByHand()
    {
        // class 0: "good film", class 1: "bad film"; unigrams only → features bad, film, good; α = 1
        IReadOnlyList<string>[] train = [["good", "film"], ["bad", "film"]];
        var model = LinearTextClassifier.Train(LinearModelKind.NaiveBayes, train, [0, 1], 2,
            new LinearModelOptions { NGrams = 1 });
        // θ_0 = (bad 1/5, film 2/5, good 2/5), θ_1 = (2/5, 2/5, 1/5); priors ½: "good" → p(0) = (2/5)/(2/5 + 1/5)
        Assert.Equal(2.0 / 3, model.PredictProbabilities([["good"]])[0][0], 12);
        Assert.Equal(0.5, model.PredictProbabilities([["film", "unseen"]])[0][0], 12);
        Assert.Equal("good", model.TopTerms(0, 1)[0].Term);
        Assert.Equal("bad", model.TopTerms(1, 1)[0].Term);
    }

    [Fact]
    public void LbfgsFindsTheMinimumOfRosenbrock()
    {
        double Rosenbrock(double[] x, double[] g)
        {
            g[0] = -2 * (1 - x[0]) - 400 * x[0] * (x[1] - x[0] * x[0]);
            g[1] = 200 * (x[1] - x[0] * x[0]);
            return (1 - x[0]) * (1 - x[0]) + 100 * (x[1] - x[0] * x[0]) * (x[1] - x[0] * x[0]);
        }
        var (point, value, _) = Lbfgs.Minimise(Rosenbrock, [-1.2, 1], tolerance: 1e-10);
        Assert.True(value < 1e-14, $"f = {value}");
        Assert.Equal(1, point[0], 6);
        Assert.Equal(1, point[1], 6);
    }

    [Fact]
    public void FilesOfEarlierVersionsLoadAndKeepTheirFormat()
    {
        // written before probability_scale existed: it reads as 1, and saving adds it before the extra fields
        const string earlier = "{\"architecture\":\"linear_text_classifier\",\"kind\":\"nb\",\"classes\":2,"
            + "\"features\":{\"n_grams\":1,\"weighting\":\"binary\",\"normalize\":false,\"min_document_frequency\":1,"
            + "\"terms\":[\"bad\",\"good\"],\"idf\":null},\"weights\":[[-0.5,-2],[-2,-0.5]],\"bias\":[-0.7,-0.7],";
        var json = (System.Text.Json.Nodes.JsonObject)System.Text.Json.Nodes.JsonNode.Parse(
            earlier + "\"labels\":[\"neg\",\"pos\"]}")!;
        var model = LinearTextClassifier.FromJson(json, "earlier.json");
        Assert.Equal(LinearModelKind.NaiveBayes, model.Kind);
        Assert.Equal(1, model.ProbabilityScale);
        var p = model.PredictProbabilities([["good"], ["bad"]]);
        Assert.True(p[0][1] > 0.5 && p[1][0] > 0.5);
        Assert.Equal(earlier + "\"probability_scale\":1,\"labels\":[\"neg\",\"pos\"]}",
            model.ToJson(new() { ["labels"] = json["labels"]!.DeepClone() }).ToJsonString());
        json["features"]!["normalize"] = "no";
        string message = Assert.Throws<InvalidDataException>(() => LinearTextClassifier.FromJson(json, "earlier.json"))
            .Message;
        Assert.Contains("earlier.json", message);
        Assert.Contains("'features.normalize'", message);
    }

    [Fact]
    public void SavedModelsPredictTheSameAndBadFilesNameThemselves()
    {
        var (train, labels, test, classes) = Case("multiclass");
        string folder = Directory.CreateTempSubdirectory("recur-linear").FullName;
        try
        {
            foreach (var kind in Enum.GetValues<LinearModelKind>())
            {
                var model = LinearTextClassifier.Train(kind, train, labels, classes);
                string path = Path.Combine(folder, LinearTextClassifier.Name(kind) + ".json");
                model.Save(path, new() { ["labels"] = "x" });
                var (loaded, json) = LinearTextClassifier.Load(path);
                Assert.Equal(kind, loaded.Kind);
                Assert.Equal("x", (string?)json["labels"]);
                Assert.Equal(model.PredictProbabilities(test), loaded.PredictProbabilities(test));
            }
            string broken = Path.Combine(folder, "broken.json");
            File.WriteAllText(broken, File.ReadAllText(Path.Combine(folder, "nb.json")).Replace("\"bias\":[",
                "\"bias\":[1,"));
            var error = Assert.Throws<InvalidDataException>(() => LinearTextClassifier.Load(broken));
            Assert.Contains(broken, error.Message);
            File.WriteAllText(broken, "{\"architecture\":");
            Assert.Contains(broken, Assert.Throws<InvalidDataException>(() =>
                LinearTextClassifier.Load(broken)).Message);
        }
        finally { Directory.Delete(folder, true); }
    }

    [Fact]
    public void BadTrainingInputIsRefusedWithTheReason()
    {
        IReadOnlyList<string>[] train = [["a"], ["b"]];
        Assert.Contains("outside", Assert.Throws<ArgumentException>(() =>
            LinearTextClassifier.Train(LinearModelKind.NaiveBayes, train, [0, 2], 2)).Message);
        Assert.Contains("class 1", Assert.Throws<ArgumentException>(() =>
            LinearTextClassifier.Train(LinearModelKind.NbSvm, train, [0, 0], 2)).Message);
        Assert.Throws<ArgumentException>(() => LinearTextClassifier.Train(LinearModelKind.LogisticRegression, train,
            [0, 1], 2, new LinearModelOptions { Regularization = 0 }));
    }

    [Fact]
    public void CalibrationLowersHeldOutLossWithoutChangingADecision()
    {
        // fit on the first 60 training texts, calibrate on the other 20
        var (all, allLabels, _, classes) = Case("multiclass");
        var (train, labels, test, testLabels) = (all[..60], allLabels[..60], all[60..], allLabels[60..]);
        foreach (var kind in Enum.GetValues<LinearModelKind>())
        {
            var model = LinearTextClassifier.Train(kind, train, labels, classes);
            var calibrated = model.Calibrate(test, testLabels);
            double Loss(LinearTextClassifier m) => m.PredictProbabilities(test)
                .Select((p, i) => -Math.Log(p[testLabels[i]])).Average();
            Assert.True(Loss(calibrated) <= Loss(model) + 1e-12, $"{kind}: {Loss(calibrated)} > {Loss(model)}");
            Assert.Equal(model.Predict(test), calibrated.Predict(test));
            Assert.NotEqual(1.0, calibrated.ProbabilityScale);
            // the temperature is a minimum: a little more or less does no better
            var json = calibrated.ToJson();
            foreach (double factor in new[] { 0.9, 1.1 })
            {
                json["probability_scale"] = calibrated.ProbabilityScale * factor;
                Assert.True(Loss(LinearTextClassifier.FromJson(json, "x")) >= Loss(calibrated) - 1e-12);
            }
        }
    }
}

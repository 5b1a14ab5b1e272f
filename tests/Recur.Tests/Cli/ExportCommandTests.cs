using Recur.Cli;
using Recur.Export;
using Recur.Nn;
using Recur.Tests.Export;
using Recur.Training;

namespace Recur.Tests.Cli;

/// <summary><c>recur export onnx</c>: a trained run becomes a file that ONNX Runtime runs as Recur does.</summary>
[Collection("cli")]
public sealed class ExportCommandTests : IDisposable
{
    readonly string folder = Directory.CreateTempSubdirectory("recur-export-").FullName;

    public void Dispose() => Directory.Delete(folder, recursive: true);

    [Fact]
    public void ATrainedTaskRunExportsAndRunsInOnnxRuntimeAsInRecur()
    {
        string run = Path.Combine(folder, "adding"), path = Path.Combine(folder, "adding.onnx");
        Assert.Equal(0, RecurCommand.Run("task", "adding", "--cell", "gru", "--length", "12", "--epochs", "1",
            "--train-size", "64", "--valid-size", "16", "--hidden", "5", "--threads", "1", "--out", run));
        Assert.Equal(0, RecurCommand.Run("export", "onnx", "--model", run, "--out", path));

        var model = Checkpoint.Open(run, c => new SequenceModel(SequenceModelConfig.FromJson(c), new(0)));
        model.Eval();
        var input = Tensor.RandomUniform(new RandomGenerator(2), [12, 4, 2]);
        var outputs = OnnxExportTests.Run(path, new OnnxExportTests.Input("input", input.ToArray(), [12, 4, 2]));
        Close.Values(model.Forward(input).Span, outputs["output"].Values, "exported output", 1e-5, 1e-5);
    }

    [Fact]
    public void AForecastRunExportsWithItsPreprocessingAndForecastsAsInRecur()
    {
        string csv = Path.Combine(folder, "series.csv"), run = Path.Combine(folder, "forecast");
        var series = Enumerable.Range(0, 60).Select(t => 100 + t + 20 * Math.Sin(t * Math.PI / 6)).ToArray();
        File.WriteAllLines(csv, ["month,value", .. series.Select((v, t) => FormattableString.Invariant($"m{t},{v}"))]);
        Assert.Equal(0, RecurCommand.Run("forecast", "train", "--csv", csv, "--target", "value", "--window", "6",
            "--horizon", "3", "--test-size", "6", "--epochs", "2", "--hidden", "4", "--log", "--difference", "1",
            "--out", run, "--threads", "1"));
        string path = Path.Combine(folder, "forecast.onnx");
        Assert.Equal(0, RecurCommand.Run("export", "onnx", "--model", run, "--out", path));

        string checkpoint = Checkpoint.Locate(run);
        var forecaster = Recur.Forecasting.Forecaster.FromConfig(Checkpoint.ReadConfig(checkpoint));
        Checkpoint.LoadModel(checkpoint, forecaster.Network);
        var history = series[^7..];
        var outputs = OnnxExportTests.Run(path, new OnnxExportTests.Input("history",
            history.Select(v => (float)v).ToArray(), [1, 7]));
        Close.Values(forecaster.Forecast(history, 3).Select(v => (float)v).ToArray(), outputs["forecast"].Values,
            "forecast", 1e-5, 1e-5);
    }

    [Fact]
    public void ATranslationRunExportsItsEncoderAndDecoderStepBesideTheNameGiven()
    {
        var random = new Random(3);
        string[] english = ["i", "am", "you", "are", "cold"], french = ["je", "suis", "tu", "es", "froid"];
        string pairs = Path.Combine(folder, "pairs.txt"), run = Path.Combine(folder, "translate");
        File.WriteAllLines(pairs, Enumerable.Range(0, 60).Select(_ =>
        {
            var words = Enumerable.Range(0, random.Next(1, 4)).Select(_ => random.Next(english.Length)).ToArray();
            string Sentence(string[] vocabulary) => string.Join(' ', words.Select(i => vocabulary[i])) + ".";
            return $"{Sentence(english)}\t{Sentence(french)}";
        }));
        Assert.Equal(0, RecurCommand.Run("translate", "train", "--pairs", pairs, "--embed", "8", "--hidden", "8",
            "--epochs", "1", "--held-out", "0.1", "--out", run, "--threads", "1"));
        var output = new StringWriter();
        var previous = Console.Out;
        Console.SetOut(output);
        try
        {
            Assert.Equal(0, RecurCommand.Run("export", "onnx", "--model", run, "--out",
                Path.Combine(folder, "translator.onnx")));
        }
        finally { Console.SetOut(previous); }
        string encoder = Path.Combine(folder, "translator.encoder.onnx");
        string decoder = Path.Combine(folder, "translator.decoder.onnx");
        Assert.Contains(encoder, output.ToString());
        Assert.Contains(decoder, output.ToString());
        Assert.False(File.Exists(Path.Combine(folder, "translator.onnx")));
        var encoded = OnnxExportTests.Run(encoder, new OnnxExportTests.Input("source", new long[] { 4, 5 }, [2, 1]),
            new OnnxExportTests.Input("source_lengths", new[] { 2 }, [1]));
        Assert.Equal([2L, 1L, 16L], encoded["memory"].Shape); // bidirectional, 8 units each way
        using var session = new Microsoft.ML.OnnxRuntime.InferenceSession(decoder);
        Assert.Contains("previous", session.InputNames);
        Assert.Contains("logits", session.OutputNames);
    }

    [TorchTheory]
    [InlineData("lstm")]
    [InlineData("rnn")]
    public void ATrainedTaskRunExportsToPyTorchAndRunsThereAsInRecur(string cell)
    {
        string run = Path.Combine(folder, "adding-" + cell), export = Path.Combine(folder, "torch-" + cell);
        Assert.Equal(0, RecurCommand.Run("task", "adding", "--cell", cell, "--length", "12", "--epochs", "1",
            "--train-size", "64", "--valid-size", "16", "--hidden", "5", "--threads", "1", "--out", run));
        Assert.Equal(0, RecurCommand.Run("export", "pytorch", "--model", run, "--out", export));
        Assert.True(File.Exists(Path.Combine(export, "model.py")) && File.Exists(Path.Combine(export, "load.py")));

        var model = Checkpoint.Open(run, c => new SequenceModel(SequenceModelConfig.FromJson(c), new(0)));
        model.Eval();
        var input = Tensor.RandomUniform(new RandomGenerator(2), [12, 4, 2]);
        var outputs = PyTorchExportTests.RunTorch(export, new
        {
            kind = "sequence", input = input.ToArray(), shape = new[] { 12, 4, 2 },
        });
        Close.Values(model.Forward(input).Span, outputs["output"], "exported output", 1e-5, 1e-5);
    }

    [Theory]
    [InlineData("onnx", "hmm.onnx")]
    [InlineData("pytorch", "hmm-torch")]
    public void AKindWithoutAnExportIsAClearErrorAndWritesNothing(string format, string target)
    {
        string run = Path.Combine(folder, "hmm");
        Directory.CreateDirectory(run);
        File.WriteAllText(Path.Combine(run, Checkpoint.ConfigFile), "{\"architecture\": \"hmm\"}");
        string path = Path.Combine(folder, target);
        var (code, error) = RunSafetyTests.RunCapturingErrors(["export", format, "--model", run, "--out", path]);
        Assert.Equal(1, code);
        Assert.Contains($"'hmm' has no {(format == "onnx" ? "ONNX" : "PyTorch")} export", error);
        Assert.Contains(string.Join(", ", format == "onnx" ? OnnxExport.Kinds : PyTorchExport.Kinds), error);
        Assert.False(File.Exists(path) || Directory.Exists(path));
    }

    [Fact]
    public void AMissingModelFolderIsAUsageError()
    {
        var (code, error) = RunSafetyTests.RunCapturingErrors(["export", "onnx", "--model",
            Path.Combine(folder, "none"), "--out", Path.Combine(folder, "none.onnx")]);
        Assert.Equal(2, code);
        Assert.Contains("no such model folder", error);
    }
}

using Recur.Classification;
using Recur.Cli;
using Recur.Language;
using Recur.Nn;
using Recur.Nn.Recurrent;
using Recur.Training;

namespace Recur.Tests.Cli;

/// <summary>One cell vocabulary: every model configuration takes every fused cell; verbs refuse the others
/// clearly.</summary>
[Collection("cli")]
public sealed class CellVocabularyTests : IDisposable
{
    readonly string folder = Directory.CreateTempSubdirectory("recur-cells-").FullName;

    public void Dispose() => Directory.Delete(folder, recursive: true);

    [Fact]
    public void EveryModelConfigurationBuildsEveryFusedCell()
    {
        foreach (string cell in RecurrentCells.Names)
        {
            var random = new RandomGenerator(1);
            var sequence = new SequenceModel(new SequenceModelConfig(RecurrentCells.Parse(cell), 2, 4, 1,
                ChronoMaxSteps: 10), random);
            var classifier = new TextClassifier(new TextClassifierConfig(12, 4, 4, 2,
                Cell: RecurrentCells.Parse(cell)), random);
            bool peephole = cell == "peephole-lstm", normalised = cell.StartsWith("ln-", StringComparison.Ordinal);
            Module[] models = RecurrentCells.Stepwise.Contains(RecurrentCells.Parse(cell))
                ? [sequence, new LanguageModel(new LanguageModelConfig(12, 4, 4, Cell: RecurrentCells.Parse(cell)),
                    random), classifier]
                : [sequence, classifier];
            foreach (Module model in models)
            {
                var names = model.NamedParameters().Select(p => p.Name).ToList();
                Assert.Equal(peephole, names.Any(name => name.Contains("weight_ci_l0", StringComparison.Ordinal)));
                Assert.Equal(normalised, names.Any(name => name.Contains("ln_hh_l0.weight", StringComparison.Ordinal)));
                Assert.Equal(cell == "ln-lstm", names.Any(name => name.Contains("ln_c_l0.bias",
                    StringComparison.Ordinal)));
                Assert.Equal(cell == "bn-lstm", names.Any(name => name.Contains("bn_c_l0.weight",
                    StringComparison.Ordinal)));
            }
            Assert.Equal(RecurrentCells.Mode(RecurrentCells.Parse(cell)), sequence.Config.Recurrent.Mode);
        }
        Assert.Equal(RecurrentInit.Identity, new SequenceModelConfig(CellKind.Irnn, 2, 4, 1).Recurrent.Init);
        Assert.Contains("unknown cell 'elman'", Assert.Throws<ArgumentException>(()
            => RecurrentCells.Parse("elman")).Message);
        Assert.Contains("whole sequences", Assert.Throws<ArgumentException>(()
            => new LanguageModelConfig(12, 4, 4, Cell: CellKind.BnLstm).Recurrent).Message);
        Assert.Equal(100, new SequenceModelConfig(CellKind.BnLstm, 2, 4, 1).Recurrent.BatchNormSteps);
    }

    [Theory]
    [InlineData("peephole-lstm", "weight_co_l0")]
    [InlineData("ln-lstm", "ln_c_l0.weight")]
    [InlineData("ln-gru", "ln_hh_l0.bias")]
    [InlineData("cho-gru", "weight_hh_l0")]
    [InlineData("jordan", "bias_hr_l0")]
    [InlineData("bn-lstm", "bn_ih_l0.running_var")]
    public void AVariantCellTrainsFromTheCommandLineAndReloads(string cell, string parameter)
    {
        string run = Path.Combine(folder, cell);
        string[] chrono = RecurrentCells.Mode(RecurrentCells.Parse(cell)) is RecurrentMode.Lstm or RecurrentMode.Gru
            ? ["--chrono", "8"] : [];
        Assert.Equal(0, RecurCommand.Run(["task", "adding", "--cell", cell, .. chrono, "--length", "8",
            "--epochs", "2",
            "--train-size", "64", "--valid-size", "16", "--hidden", "4", "--batch", "16", "--threads", "1", "--out",
                run]));
        Assert.Contains(Recur.Serialization.SafeTensors.Load(Path.Combine(run, "best", Checkpoint.ModelFile)).Keys,
            name => name.EndsWith(parameter, StringComparison.Ordinal));
        Assert.Equal(0, RecurCommand.Run("inspect", "gradients", "--model", Path.Combine(run, "best"), "--count", "4",
            "--out", Path.Combine(folder, "flow")));
        if (cell != "bn-lstm") return;
        // ONNX: the running statistics of every step, as the trained model evaluates
        string onnx = Path.Combine(folder, "bn.onnx");
        Assert.Equal(0, RecurCommand.Run("export", "onnx", "--model", run, "--out", onnx));
        var model = Checkpoint.Open(run, c => new SequenceModel(SequenceModelConfig.FromJson(c), new(0)));
        model.Eval();
        var input = Tensor.RandomUniform(new RandomGenerator(2), [8, 3, 2]);
        var outputs = Export.OnnxExportTests.Run(onnx, new Export.OnnxExportTests.Input("input", input.ToArray(),
            [8, 3, 2]));
        Close.Values(model.Forward(input).Span, outputs["output"].Values, "bn-lstm in ONNX Runtime", 1e-5, 1e-5);
        // torch has no such cell: a clear refusal, and no folder
        var (code, error) = RunSafetyTests.RunCapturingErrors(["export", "pytorch", "--model", run, "--out",
            Path.Combine(folder, "bn-torch")]);
        Assert.NotEqual(0, code);
        Assert.Contains("no batch-normalised cells", error);
        Assert.False(Directory.Exists(Path.Combine(folder, "bn-torch")));
    }

    [Theory]
    [InlineData("task", "elman", "unknown")]
    [InlineData("lm", "bn-lstm", "bn-lstm needs whole sequences")]
    [InlineData("task", "ntm", "recur ntm train --task copy|recall")]
    [InlineData("translate", "peephole-lstm", "runs lstm, gru only")]
    public void ACellAVerbCannotUseIsAUsageErrorThatSaysWhy(string verb, string cell, string expected)
    {
        string[] args = verb switch
        {
            "task" => ["task", "adding", "--cell", cell, "--out", Path.Combine(folder, "x")],
            "lm" => ["lm", "train", "--text", "none.txt", "--cell", cell, "--out", Path.Combine(folder, "x")],
            _ => ["translate", "train", "--pairs", "none.tsv", "--cell", cell, "--out", Path.Combine(folder, "x")],
        };
        var (code, error) = RunSafetyTests.RunCapturingErrors(args);
        Assert.Equal(2, code);
        Assert.Contains(expected, error);
    }
}

using Recur.Classification;
using Recur.Cli;
using Recur.Cli.Training;
using Recur.Nn;
using Recur.Nn.Recurrent;
using Recur.Serialization;
using Recur.Text;
using Recur.Training;

namespace Recur.Tests.Cli;

/// <summary><c>recur quantize</c>: an int8 copy of a run that every inference verb runs as the float run
/// quantised in memory.</summary>
[Collection("cli")]
public sealed class QuantizeCommandTests : IDisposable
{
    readonly string folder = Directory.CreateTempSubdirectory("recur-quantize-").FullName;

    public void Dispose() => Directory.Delete(folder, recursive: true);

    string At(string name) => Path.Combine(folder, name);

    string Corpus()
    {
        var random = new RandomGenerator(4);
        string[] filler = ["the", "film", "was", "a", "story"], good = ["lovely", "great"], bad = ["dull", "awful"];
        var lines = new List<string> { "label\tsentence" };
        for (int i = 0; i < 120; i++)
        {
            bool positive = random.NextInt(2) == 1;
            var words = Enumerable.Range(0, 3).Select(_ => filler[random.NextInt(filler.Length)])
                .Append((positive ? good : bad)[random.NextInt(2)]);
            lines.Add($"{(positive ? 1 : 0)}\t{string.Join(' ', words)}");
        }
        File.WriteAllLines(At("train.tsv"), lines);
        return At("train.tsv");
    }

    [Fact]
    public void AnEnsembleRunBecomesAnInt8RunThatLoadsAndPredictsAsTheFloatOneQuantised()
    {
        string tsv = Corpus(), run = At("run"), int8 = At("run-int8");
        Assert.Equal(0, RecurCommand.Run("classify", "train", "--data", tsv, "--valid", tsv, "--epochs", "1",
            "--embed", "8", "--hidden", "16", "--ensemble", "2", "--out", run, "--threads", "1"));
        Assert.Equal(0, RecurCommand.Run("quantize", "--model", run, "--out", int8));

        // the run's files beside the members, each member one int8 checkpoint (best/) without optimizer state
        Assert.True(File.Exists(Path.Combine(int8, "vocab.json")));
        foreach (string member in new[] { "member-1", "member-2" })
        {
            string checkpoint = Path.Combine(int8, member, "best");
            Assert.True(File.Exists(Path.Combine(checkpoint, Checkpoint.ManifestFile)));
            Assert.False(File.Exists(Path.Combine(checkpoint, Checkpoint.OptimizerFile)));
            Assert.False(Directory.Exists(Path.Combine(int8, member, "last")));
            SafeTensors.Load(Path.Combine(checkpoint, Checkpoint.ModelFile), out _, out var dtypes);
            Assert.Equal("I8", dtypes["encoder.weight_hh_l0"]);
        }

        var (floats, vocabulary, _) = TrainedModels.Classifiers(run);
        foreach (var model in floats) Quantization.QuantizeDynamic(model);
        var (loaded, _, _) = TrainedModels.Classifiers(int8);
        Assert.All(loaded, m => Assert.True(m.NamedModules().Select(n => n.Value).OfType<RecurrentLayer>()
            .All(l => l.IsQuantized)));
        var ids = TrainedModels.Encode(["the film was lovely", "a story was awful", "great"], new WordTokenizer(),
            vocabulary);
        Assert.Equal(ClassificationTask.Probabilities(floats, ids), ClassificationTask.Probabilities(loaded, ids));
        Assert.Equal(0, RecurCommand.Run("classify", "eval", "--model", int8, "--data", tsv));
        Assert.Equal(0, RecurCommand.Run("classify", "eval", "--model", int8, "--data", tsv, "--int8"));

        // an existing folder is never written into
        var (code, error) = RunSafetyTests.RunCapturingErrors(["quantize", "--model", run, "--out", int8]);
        Assert.Equal(1, code);
        Assert.Contains("exists already", error);
    }

    [Fact]
    public void ARunWithoutANetworkIsRefusedAndLeavesNothing()
    {
        string tsv = Corpus(), run = At("nbsvm"), int8 = At("nbsvm-int8");
        Assert.Equal(0, RecurCommand.Run("classify", "train", "--data", tsv, "--model", "nbsvm", "--out", run));
        var (code, error) = RunSafetyTests.RunCapturingErrors(["quantize", "--model", run, "--out", int8]);
        Assert.Equal(1, code);
        Assert.Contains("no checkpoint", error);
        Assert.False(Directory.Exists(int8));
        Assert.Empty(Directory.GetDirectories(folder, "nbsvm-int8*"));
    }
}

using Recur.Classification;
using Recur.Export;
using Recur.Language;
using Recur.Memory;
using Recur.Nn;
using Recur.Training;

namespace Recur.Tests.Export;

/// <summary><see cref="SavedModel"/> builds the kind a folder's config.json names, with its weights, and refuses a
/// folder of another kind by name.</summary>
public sealed class SavedModelTests : IDisposable
{
    readonly string folder = Path.Combine(Path.GetTempPath(), "recur-saved-" + Guid.NewGuid().ToString("N"));

    public SavedModelTests() => Directory.CreateDirectory(folder);

    public void Dispose() => Directory.Delete(folder, true);

    static void AssertSameWeights(Module expected, Module actual)
    {
        var a = expected.StateDict();
        var b = actual.StateDict();
        Assert.Equal(a.Keys.Order(), b.Keys.Order());
        foreach (var (name, tensor) in a) Assert.Equal(tensor.ToArray(), b[name].ToArray());
    }

    [Fact]
    public void EachKindComesBackAsItself()
    {
        var classifier = new TextClassifier(new TextClassifierConfig(20, 4, 3, 2), new RandomGenerator(1));
        var lm = new LanguageModel(new LanguageModelConfig(9, 4, 5, 1), new RandomGenerator(2));
        var ntm = new NeuralTuringMachine(new NeuralTuringMachineConfig(4, 3, ControllerSize: 6, MemorySlots: 8,
            SlotSize: 5), new RandomGenerator(3));
        Checkpoint.Save(Path.Combine(folder, "classifier", "best"), classifier, classifier.Config.ToJson());
        Checkpoint.Save(Path.Combine(folder, "lm"), lm, lm.Config.ToJson());
        Checkpoint.Save(Path.Combine(folder, "ntm", "last"), ntm, ntm.Config.ToJson());

        AssertSameWeights(classifier, SavedModel.Load<TextClassifier>(Path.Combine(folder, "classifier")));
        AssertSameWeights(lm, Assert.IsType<LanguageModel>(SavedModel.Load(Path.Combine(folder, "lm"))));
        AssertSameWeights(ntm, SavedModel.Load<Module>(Path.Combine(folder, "ntm")));
        Assert.Equal(typeof(NeuralTuringMachine), SavedModel.Kinds["ntm"]);

        var wrong = Assert.Throws<InvalidDataException>(() => SavedModel.Load<LanguageModel>(
            Path.Combine(folder, "classifier")));
        Assert.Contains("holds a model of kind 'text_classifier' (TextClassifier), not a LanguageModel",
            wrong.Message, StringComparison.Ordinal);

        var odd = lm.Config.ToJson();
        odd["architecture"] = "transformer";
        Checkpoint.Save(Path.Combine(folder, "odd"), lm, odd);
        var unknown = Assert.Throws<NotSupportedException>(() => SavedModel.Load(Path.Combine(folder, "odd")));
        Assert.Contains("'transformer'", unknown.Message, StringComparison.Ordinal);
        Assert.Contains("text_classifier", unknown.Message, StringComparison.Ordinal);
    }
}

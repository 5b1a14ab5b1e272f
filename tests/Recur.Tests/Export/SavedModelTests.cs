using Recur.Captioning;
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
    /// <summary>A run folder of each conv or memory kind exports through <c>SaveRun</c>, as <c>recur export</c> calls
    /// it: the kind is read from config.json and the files are written (two for a captioner).</summary>
    [Fact]
    public void ConvAndMemoryRunsExportByTheirKind()
    {
        var speech = ExportCases.Speech(1, "gru", true).Model;
        var wavenet = ExportCases.WaveNet(3, 0).Model;
        var memory = ExportCases.MemoryNetwork(SentenceEncoding.Position, true, true, false).Model;
        var captioner = new Captioner(new CaptionerConfig(CaptionDecoder.Attention, 10, Height: 16, Width: 24,
            Channels: 2, HiddenSize: 5, EmbeddingSize: 4, JointSize: 6), new RandomGenerator(4));
        var runs = new (string Kind, Module Model, System.Text.Json.Nodes.JsonObject Config, bool Torch)[]
        {
            ("wavenet", wavenet, wavenet.Config.ToJson(), true),
            ("speech_recognizer", speech, speech.Config.ToJson(), true),
            ("memn2n", memory, memory.Config.ToJson(), true),
            ("captioner", captioner, captioner.Config.ToJson(), true),
        };
        foreach (var (kind, model, config, torch) in runs)
        {
            string run = Path.Combine(folder, kind);
            Checkpoint.Save(Path.Combine(run, "best"), model, config);
            var (exported, files) = OnnxExport.SaveRun(run, Path.Combine(folder, kind + ".onnx"));
            Assert.Equal(kind, exported);
            Assert.Equal(kind == "captioner" ? 2 : 1, files.Count);
            Assert.All(files, file => Assert.True(new FileInfo(file).Length > 0, file));
            if (!torch) continue;
            Assert.Equal(kind, PyTorchExport.SaveRun(run, Path.Combine(folder, kind + "-torch")));
            Assert.True(File.Exists(Path.Combine(folder, kind + "-torch", "model.safetensors")));
        }
    }

    /// <summary>Runs of the story LSTM and the NTM export to PyTorch and to ONNX by their kind.</summary>
    [Fact]
    public void StoryLstmAndNtmRunsExportByTheirKind()
    {
        var story = new StoryLstm(new StoryLstmConfig(12, 4, 5), new RandomGenerator(1));
        var machine = new NeuralTuringMachine(new NeuralTuringMachineConfig(4, 3, 6, 5, 3), new RandomGenerator(2));
        foreach (var (kind, model, config) in new (string, Module, System.Text.Json.Nodes.JsonObject)[]
                 { ("story_lstm", story, story.Config.ToJson()), ("ntm", machine, machine.Config.ToJson()) })
        {
            string run = Path.Combine(folder, kind);
            Checkpoint.Save(Path.Combine(run, "best"), model, config);
            Assert.Equal(kind, PyTorchExport.SaveRun(run, Path.Combine(folder, kind + "-torch")));
            Assert.True(File.Exists(Path.Combine(folder, kind + "-torch", "model.py")));
            string onnx = Path.Combine(folder, kind + ".onnx");
            var (exported, files) = OnnxExport.SaveRun(run, onnx);
            Assert.Equal(kind, exported);
            Assert.Equal([onnx], files);
            Assert.True(new FileInfo(onnx).Length > 0);
        }
    }
}

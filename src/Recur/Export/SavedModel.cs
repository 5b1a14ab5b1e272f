using Recur.Captioning;
using Recur.Classification;
using Recur.Forecasting;
using Recur.Language;
using Recur.Memory;
using Recur.Nn;
using Recur.Speech;
using Recur.Tagging;
using Recur.Training;
using Recur.Translation;
using Recur.WaveNet;

namespace Recur.Export;

/// <summary>
/// Loads the trained model of a run or checkpoint folder as the kind its <c>config.json</c> names (its
/// <c>architecture</c>), with no need to know the kind beforehand — the loader both exporters use, and the one for C#:
/// <c>var classifier = SavedModel.Load&lt;TextClassifier&gt;("runs/sst2");</c>. A run folder means its <c>best/</c>
/// checkpoint, else <c>last/</c>; every file is checked against the checkpoint's manifest before a model is built.
/// </summary>
public static class SavedModel
{
    /// <summary>The kinds (<c>architecture</c> values) <see cref="Load(string)"/> builds, and their types.</summary>
    public static IReadOnlyDictionary<string, Type> Kinds { get; } = new Dictionary<string, Type>
    {
        ["sequence_model"] = typeof(SequenceModel), ["text_classifier"] = typeof(TextClassifier),
        ["language_model"] = typeof(LanguageModel), ["sequence_tagger"] = typeof(SequenceTagger),
        ["seq2seq"] = typeof(Seq2Seq), ["forecaster"] = typeof(Forecaster),
        ["speech_recognizer"] = typeof(SpeechRecognizer), ["captioner"] = typeof(Captioner),
        ["memn2n"] = typeof(MemoryNetwork), ["story_lstm"] = typeof(StoryLstm), ["ntm"] = typeof(NeuralTuringMachine),
        ["wavenet"] = typeof(WaveNetModel), ["sample_lstm"] = typeof(SampleLstm),
    };

    /// <summary>The model in <paramref name="path"/>, of whichever kind its <c>config.json</c> names (see
    /// <see cref="Kinds"/>; a <see cref="Forecaster"/> is not a <see cref="Module"/>, hence <c>object</c>).</summary>
    /// <exception cref="NotSupportedException">A kind this loader does not build, named with those it does.
    /// </exception>
    public static object Load(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        return Open(path, [.. Kinds.Keys], "loader").Model;
    }

    /// <summary>The model in <paramref name="path"/> as a <typeparamref name="T"/>; a folder holding another kind is
    /// refused, naming the kind it holds, before any weights are read.</summary>
    public static T Load<T>(string path) where T : class
    {
        ArgumentNullException.ThrowIfNull(path);
        var kinds = Kinds.Where(k => typeof(T).IsAssignableFrom(k.Value)).Select(k => k.Key).ToArray();
        string held = (string?)Checkpoint.ReadConfig(Checkpoint.Locate(path))["architecture"] ?? "";
        if (!kinds.Contains(held))
            throw new InvalidDataException($"{path}: holds a model of kind '{held}'"
                + (Kinds.TryGetValue(held, out var type) ? $" ({type.Name})" : "") + $", not a {typeof(T).Name}.");
        return (T)Open(path, kinds, "loader").Model;
    }

    /// <summary>
    /// The model in <paramref name="modelFolder"/> (its <c>best/</c> checkpoint, else <c>last/</c>) and its kind, for
    /// the kinds in <paramref name="kinds"/>; another kind gets a <see cref="NotSupportedException"/> naming it and
    /// <paramref name="kinds"/>, before any weights are read.
    /// </summary>
    internal static (string Kind, object Model) Open(string modelFolder, IReadOnlyList<string> kinds, string format)
    {
        string folder = Checkpoint.Locate(modelFolder);
        var config = Checkpoint.ReadConfig(folder);
        string kind = (string?)config["architecture"] ?? "";
        if (!kinds.Contains(kind))
            throw new NotSupportedException($"{modelFolder}: a model of kind '{kind}' has no {format} export yet; "
                + $"exported kinds: {string.Join(", ", kinds)}.");
        object model = kind switch
        {
            "sequence_model" => Checkpoint.Open(folder, c => new SequenceModel(SequenceModelConfig.FromJson(c),
                new(0))),
            "text_classifier" =>
                Checkpoint.Open(folder, c => new TextClassifier(TextClassifierConfig.FromJson(c), new(0))),
            "language_model" =>
                Checkpoint.Open(folder, c => new LanguageModel(LanguageModelConfig.FromJson(c), new(0))),
            "sequence_tagger" =>
                Checkpoint.Open(folder, c => new SequenceTagger(SequenceTaggerConfig.FromJson(c), new(0))),
            "seq2seq" => Checkpoint.Open(folder, c => new Seq2Seq(Seq2SeqConfig.FromJson(c), new(0))),
            "forecaster" => OpenForecaster(folder, config),
            "speech_recognizer" =>
                Checkpoint.Open(folder, c => new SpeechRecognizer(SpeechRecognizerConfig.FromJson(c), new(0))),
            "captioner" => Checkpoint.Open(folder, c => new Captioner(CaptionerConfig.FromJson(c), new(0))),
            "memn2n" => Checkpoint.Open(folder, c => new MemoryNetwork(MemoryNetworkConfig.FromJson(c), new(0))),
            "story_lstm" => Checkpoint.Open(folder, c => new StoryLstm(StoryLstmConfig.FromJson(c), new(0))),
            "ntm" => Checkpoint.Open(folder,
                c => new NeuralTuringMachine(NeuralTuringMachineConfig.FromJson(c), new(0))),
            "wavenet" => Checkpoint.Open(folder, c => new WaveNetModel(WaveNetConfig.FromJson(c), new(0))),
            "sample_lstm" => Checkpoint.Open(folder, c => new SampleLstm(SampleLstmConfig.FromJson(c), new(0))),
            _ => throw new NotSupportedException($"{modelFolder}: no loader for the kind '{kind}'."),
        };
        return (kind, model);
    }

    static Forecaster OpenForecaster(string folder, System.Text.Json.Nodes.JsonObject config)
    {
        var forecaster = Forecaster.FromConfig(config);
        Checkpoint.LoadModel(folder, forecaster.Network);
        return forecaster;
    }
}

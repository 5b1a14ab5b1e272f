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
            "forecaster" => OpenForecaster(folder),
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

    /// <summary>A forecaster built from its verified configuration, its network's weights loaded.</summary>
    static Forecaster OpenForecaster(string folder)
    {
        Forecaster? forecaster = null;
        Checkpoint.Open(folder, config => (forecaster = Forecaster.FromConfig(config)).Network);
        return forecaster!;
    }

    /// <summary>
    /// Writes an int8 copy of the trained model in <paramref name="modelFolder"/> to <paramref name="output"/> (a new
    /// folder): every recurrent and linear layer that has an int8 path quantised dynamically
    /// (<see cref="Quantization.QuantizeDynamic"/>) and saved as I8 with its row scales, about a quarter of the float
    /// weights' bytes. A run folder's other files (vocabularies, tokenizer, settings, training log) and folders are
    /// copied, its model becomes the one checkpoint <c>best/</c> (from its <c>best/</c>, else <c>last/</c>; no
    /// optimizer state: the copy is for inference), and an ensemble's members (<c>member-*/</c>) each likewise; a
    /// checkpoint folder becomes a checkpoint folder. Every loader of Recur then runs the copy in int8 as it runs the
    /// original. Nothing is written unless all of it succeeds. Returns the quantised modules' names per checkpoint.
    /// </summary>
    /// <exception cref="IOException"><paramref name="output"/> exists already.</exception>
    /// <exception cref="NotSupportedException">A model with no layer that has an int8 path (a convolutional
    /// model, normalised or projected recurrent layers only).</exception>
    public static IReadOnlyDictionary<string, IReadOnlyList<string>> Quantize(string modelFolder, string output)
    {
        ArgumentNullException.ThrowIfNull(modelFolder);
        ArgumentNullException.ThrowIfNull(output);
        string target = Path.GetFullPath(output).TrimEnd(Path.DirectorySeparatorChar);
        if (Directory.Exists(target) || File.Exists(target))
            throw new IOException($"{output} exists already; choose a new folder for the int8 model.");
        if (!Directory.Exists(modelFolder)) throw new DirectoryNotFoundException($"{modelFolder}: no such folder.");
        string staging = $"{target}.tmp-{Environment.ProcessId}-{Guid.NewGuid():N}";
        var done = new Dictionary<string, IReadOnlyList<string>>(StringComparer.Ordinal);
        try
        {
            QuantizeFolder(modelFolder, staging, "", done);
            Directory.Move(staging, target);
        }
        catch
        {
            if (Directory.Exists(staging)) Directory.Delete(staging, recursive: true);
            throw;
        }
        return done;
    }

    static void QuantizeFolder(string source, string destination, string relative,
        Dictionary<string, IReadOnlyList<string>> done)
    {
        bool checkpoint = File.Exists(Path.Combine(source, Checkpoint.ConfigFile))
            || File.Exists(Path.Combine(source, Checkpoint.ManifestFile));
        if (checkpoint)
        {
            done[relative.Length == 0 ? "." : relative] = QuantizeCheckpoint(source, destination);
            return;
        }
        Directory.CreateDirectory(destination);
        var members = Directory.GetDirectories(source, "member-*").Order(StringComparer.Ordinal).ToArray();
        foreach (string file in Directory.GetFiles(source))
            if (Path.GetFileName(file) != RunFolder.IncompleteMarker)
                File.Copy(file, Path.Combine(destination, Path.GetFileName(file)));
        foreach (string folder in Directory.GetDirectories(source).Order(StringComparer.Ordinal))
        {
            string name = Path.GetFileName(folder);
            if (name is "best" or "last" || name.Contains(".tmp-") || name.Contains(".old-")) continue;
            string into = Path.Combine(destination, name);
            if (members.Contains(folder)) QuantizeFolder(folder, into, Path.Join(relative, name), done);
            else CopyTree(folder, into);
        }
        if (members.Length == 0)
        {
            string best = Path.Join(relative, "best");
            done[best] = QuantizeCheckpoint(Checkpoint.Locate(source), Path.Combine(destination, "best"));
        }
    }

    static IReadOnlyList<string> QuantizeCheckpoint(string source, string destination)
    {
        var (kind, loaded) = Open(source, [.. Kinds.Keys], "int8");
        var model = loaded as Module ?? ((Forecaster)loaded).Network;
        var quantised = Quantization.QuantizeDynamic(model);
        if (quantised.Count == 0)
            throw new NotSupportedException($"{source}: no layer of this {kind} has an int8 path (recurrent layers "
                + "without layer or batch normalisation, projection or Cho's GRU, and linear layers have one).");
        Checkpoint.Save(destination, model, Checkpoint.ReadConfig(source));
        return quantised;
    }

    static void CopyTree(string source, string destination)
    {
        Directory.CreateDirectory(destination);
        foreach (string file in Directory.GetFiles(source))
            File.Copy(file, Path.Combine(destination, Path.GetFileName(file)));
        foreach (string folder in Directory.GetDirectories(source))
            CopyTree(folder, Path.Combine(destination, Path.GetFileName(folder)));
    }
}

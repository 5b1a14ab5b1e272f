using Recur.Classification;
using Recur.Forecasting;
using Recur.Language;
using Recur.Nn;
using Recur.Tagging;
using Recur.Training;
using Recur.Translation;

namespace Recur.Export;

/// <summary>
/// The trained model of a run or checkpoint folder, built as the kind its <c>config.json</c> names — the one loader
/// both exporters use.
/// </summary>
internal static class SavedModel
{
    /// <summary>
    /// The model in <paramref name="modelFolder"/> (its <c>best/</c> checkpoint, else <c>last/</c>) and its kind, for
    /// the kinds in <paramref name="kinds"/>; another kind gets a <see cref="NotSupportedException"/> naming it and
    /// <paramref name="kinds"/>, before any weights are read.
    /// </summary>
    public static (string Kind, object Model) Open(string modelFolder, IReadOnlyList<string> kinds, string format)
    {
        string folder = Checkpoint.Locate(modelFolder);
        var config = Checkpoint.ReadConfig(folder);
        string kind = (string?)config["architecture"] ?? "";
        if (!kinds.Contains(kind))
            throw new NotSupportedException($"{modelFolder}: a model of kind '{kind}' has no {format} export yet; "
                + $"exported kinds: {string.Join(", ", kinds)}.");
        object model = kind switch
        {
            "sequence_model" => Checkpoint.Open(folder, c => new SequenceModel(SequenceModelConfig.FromJson(c), new(0))),
            "text_classifier" =>
                Checkpoint.Open(folder, c => new TextClassifier(TextClassifierConfig.FromJson(c), new(0))),
            "language_model" =>
                Checkpoint.Open(folder, c => new LanguageModel(LanguageModelConfig.FromJson(c), new(0))),
            "sequence_tagger" =>
                Checkpoint.Open(folder, c => new SequenceTagger(SequenceTaggerConfig.FromJson(c), new(0))),
            "seq2seq" => Checkpoint.Open(folder, c => new Seq2Seq(Seq2SeqConfig.FromJson(c), new(0))),
            "forecaster" => OpenForecaster(folder, config),
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

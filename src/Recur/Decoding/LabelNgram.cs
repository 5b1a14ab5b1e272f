using System.Text.Json.Serialization;
using Recur.Serialization;

namespace Recur.Decoding;

/// <summary>
/// A language model over label sequences for shallow fusion in <see cref="CtcDecoder.Beam(ReadOnlySpan{float}, int,
/// int, int, int, LanguageModelFusion?)"/>: the log-probability of the next label given the labels so far, or of the
/// end of the sequence.
/// </summary>
public interface ILabelLanguageModel
{
    /// <summary>log P(<paramref name="label"/> | <paramref name="history"/>); <paramref name="label"/> is
    /// <see cref="LabelNgram.End"/> for the end of the sequence.</summary>
    double LogProbability(ReadOnlySpan<int> history, int label);
}

/// <summary>
/// How a language model joins the acoustic scores in the beam: every label a prefix adds scores
/// <paramref name="Weight"/> · log P_LM(label | prefix) + <paramref name="InsertionBonus"/>, and a finished hypothesis
/// adds <paramref name="Weight"/> · log P_LM(end | labels) (Hannun et al. 2014, with the bonus per label).
/// </summary>
public sealed record LanguageModelFusion(ILabelLanguageModel Model, double Weight = 0.5, double InsertionBonus = 0);

/// <summary>
/// An n-gram model of label sequences (characters of transcripts) with interpolated Witten–Bell smoothing down to a
/// uniform distribution, so every label keeps some probability. Trained in one pass; saved as JSON.
/// </summary>
public sealed class LabelNgram : ILabelLanguageModel
{
    /// <summary>The end-of-sequence label.</summary>
    public const int End = -1;

    const int Start = -2;
    readonly Dictionary<string, Dictionary<int, int>> counts; // context "a,b" → next label → count

    /// <summary>The model's order (labels of context + 1).</summary>
    public int Order { get; }

    /// <summary>Labels 0..Vocabulary−1 (plus the end).</summary>
    public int Vocabulary { get; }

    LabelNgram(int order, int vocabulary, Dictionary<string, Dictionary<int, int>> counts) =>
        (Order, Vocabulary, this.counts) = (order, vocabulary, counts);

    /// <summary>Counts every n-gram of order 1..<paramref name="order"/> in <paramref name="sequences"/>.</summary>
    public static LabelNgram Train(IEnumerable<int[]> sequences, int order, int vocabulary)
    {
        if (order < 1) throw new ArgumentException($"LabelNgram: order must be positive, got {order}.");
        if (vocabulary < 1) throw new ArgumentException($"LabelNgram: vocabulary must be positive, got {vocabulary}.");
        var counts = new Dictionary<string, Dictionary<int, int>>();
        foreach (var sequence in sequences)
        {
            var padded = Enumerable.Repeat(Start, order - 1).Concat(sequence).Append(End).ToArray();
            for (int i = order - 1; i < padded.Length; i++)
            {
                int label = padded[i];
                if (label != End && (uint)label >= (uint)vocabulary)
                    throw new ArgumentException($"LabelNgram: label {label} is outside 0..{vocabulary - 1}.");
                for (int n = 0; n < order; n++) // context of n labels
                {
                    string key = Key(padded.AsSpan(i - n, n));
                    if (!counts.TryGetValue(key, out var next)) counts[key] = next = [];
                    next[label] = next.GetValueOrDefault(label) + 1;
                }
            }
        }
        return new(order, vocabulary, counts);
    }

    static string Key(ReadOnlySpan<int> context)
    {
        var parts = new string[context.Length];
        for (int i = 0; i < context.Length; i++) parts[i] = context[i].ToString(
            System.Globalization.CultureInfo.InvariantCulture);
        return string.Join(',', parts);
    }

    /// <inheritdoc/>
    public double LogProbability(ReadOnlySpan<int> history, int label)
    {
        if (label != End && (uint)label >= (uint)Vocabulary)
            throw new ArgumentException($"LabelNgram: label {label} is outside 0..{Vocabulary - 1}.");
        int n = Order - 1;
        var context = new int[n];
        for (int i = 0; i < n; i++)
        {
            int position = history.Length - n + i;
            context[i] = position >= 0 ? history[position] : Start;
        }
        double p = 1.0 / (Vocabulary + 1); // uniform over the labels and the end
        for (int k = 0; k <= n; k++) // from the empty context up to the longest
        {
            if (!counts.TryGetValue(Key(context.AsSpan(n - k, k)), out var next)) continue;
            int total = 0;
            foreach (int c in next.Values) total += c;
            int types = next.Count;
            p = (next.GetValueOrDefault(label) + types * p) / (total + types);
        }
        return Math.Log(p);
    }

    const string Format = "recur-label-ngram";

    /// <summary>Writes the model as JSON (atomically).</summary>
    public void Save(string path)
    {
        var sorted = counts.OrderBy(c => c.Key, StringComparer.Ordinal).ToDictionary(c => c.Key,
            c => c.Value.OrderBy(v => v.Key).ToDictionary(v => v.Key, v => v.Value));
        ConfigJson.WriteFile(path, new LabelNgramFile(Format, Order, Vocabulary, sorted),
            DecodingJson.Default.LabelNgramFile, architecture: null);
    }

    /// <summary>Reads a model written by <see cref="Save"/>; a file that is not one is an error naming it.</summary>
    public static LabelNgram Load(string path)
    {
        var file = ConfigJson.ReadFile(path, DecodingJson.Default.LabelNgramFile, architecture: null, f =>
        {
            if (f.Format != Format) throw new ArgumentException($"format is '{f.Format}', not '{Format}'.");
            if (f.Order < 1 || f.Vocabulary < 1)
                throw new ArgumentException($"order {f.Order} and vocabulary {f.Vocabulary} must be positive.");
        });
        return new(file.Order, file.Vocabulary, file.Counts);
    }
}

/// <summary>A <see cref="LabelNgram"/> on disk: each context ("a,b") with its next labels' counts.</summary>
sealed record LabelNgramFile(string Format, int Order, int Vocabulary,
    Dictionary<string, Dictionary<int, int>> Counts);

/// <summary>The files of <c>Recur.Decoding</c> in JSON, generated at compile time.</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower,
    RespectRequiredConstructorParameters = true, RespectNullableAnnotations = true)]
[JsonSerializable(typeof(LabelNgramFile))]
sealed partial class DecodingJson : JsonSerializerContext;

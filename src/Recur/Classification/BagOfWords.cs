using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using Recur.Serialization;

namespace Recur.Classification;

/// <summary>How a <see cref="BagOfWords"/> weighs the n-grams of a text.</summary>
public enum TermWeighting
{
    /// <summary>How often the n-gram occurs in the text.</summary>
    Count,
    /// <summary>1 if the n-gram occurs in the text, else 0 (what naive Bayes and NBSVM work best with).</summary>
    Binary,
    /// <summary>Count × inverse document frequency, idf = ln((1 + n) / (1 + df)) + 1 (scikit-learn's smoothed
    /// idf).</summary>
    TfIdf,
}

/// <summary>A text as the sorted indices of its n-grams and their weights (a row of a sparse matrix).</summary>
/// <param name="Indices">Feature indices, ascending, each once.</param>
/// <param name="Values">The weight of each feature.</param>
public sealed record SparseVector(int[] Indices, double[] Values)
{
    /// <summary>The dot product with a dense vector of feature weights.</summary>
    public double Dot(ReadOnlySpan<double> weights)
    {
        double sum = 0;
        for (int k = 0; k < Indices.Length; k++) sum += weights[Indices[k]] * Values[k];
        return sum;
    }
}

/// <summary>
/// The features of the classical text classifiers: every word n-gram (n = 1 … <see cref="NGrams"/>) of the
/// training texts seen in at least <see cref="MinDocumentFrequency"/> of them, indexed in ordinal order, weighted by
/// <see cref="Weighting"/> and optionally scaled to unit Euclidean length. N-grams never seen in training are dropped.
/// With TF-IDF and unit length it computes the same features as scikit-learn's <c>TfidfVectorizer</c> on the same
/// tokens.
/// </summary>
public sealed class BagOfWords
{
    readonly Dictionary<string, int> index;
    readonly string[] terms;
    readonly double[]? inverseFrequency;

    /// <summary>The longest n-gram.</summary>
    public int NGrams { get; }

    /// <summary>How the n-grams of a text are weighted.</summary>
    public TermWeighting Weighting { get; }

    /// <summary>Whether each text's feature vector is scaled to unit Euclidean length.</summary>
    public bool Normalize { get; }

    /// <summary>The fewest training texts an n-gram had to occur in to become a feature.</summary>
    public int MinDocumentFrequency { get; }

    /// <summary>Number of features.</summary>
    public int Count => terms.Length;

    /// <summary>The n-gram of a feature (words joined by one space).</summary>
    public string Term(int feature) => terms[feature];

    BagOfWords(string[] terms, double[]? inverseFrequency, int nGrams, TermWeighting weighting, bool normalize,
        int minDocumentFrequency)
    {
        this.terms = terms;
        this.inverseFrequency = inverseFrequency;
        index = new Dictionary<string, int>(terms.Length, StringComparer.Ordinal);
        for (int i = 0; i < terms.Length; i++) index.Add(terms[i], i);
        NGrams = nGrams;
        Weighting = weighting;
        Normalize = normalize;
        MinDocumentFrequency = minDocumentFrequency;
    }

    /// <summary>Collects the n-grams of tokenised training texts.</summary>
    public static BagOfWords Build(IReadOnlyList<IReadOnlyList<string>> documents, int nGrams = 2,
        TermWeighting weighting = TermWeighting.TfIdf, bool normalize = true, int minDocumentFrequency = 1)
    {
        ArgumentNullException.ThrowIfNull(documents);
        if (nGrams < 1) throw new ArgumentOutOfRangeException(nameof(nGrams), nGrams, "must be at least 1");
        if (minDocumentFrequency < 1)
            throw new ArgumentOutOfRangeException(nameof(minDocumentFrequency), minDocumentFrequency,
                "must be positive");
        var frequency = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var document in documents)
            foreach (var term in Distinct(document, nGrams))
                frequency[term] = frequency.GetValueOrDefault(term) + 1;
        var terms = frequency.Where(p => p.Value >= minDocumentFrequency).Select(p => p.Key)
            .Order(StringComparer.Ordinal).ToArray();
        double[]? idf = null;
        if (weighting == TermWeighting.TfIdf)
            idf = terms.Select(t => Math.Log((1.0 + documents.Count) / (1.0 + frequency[t])) + 1).ToArray();
        return new BagOfWords(terms, idf, nGrams, weighting, normalize, minDocumentFrequency);
    }

    /// <summary>The weighted features of one tokenised text.</summary>
    public SparseVector Transform(IReadOnlyList<string> tokens)
    {
        ArgumentNullException.ThrowIfNull(tokens);
        var counts = new Dictionary<int, double>();
        foreach (var term in NGramsOf(tokens, NGrams))
            if (index.TryGetValue(term, out int feature)) counts[feature] = counts.GetValueOrDefault(feature) + 1;
        var indices = counts.Keys.Order().ToArray();
        var values = new double[indices.Length];
        for (int k = 0; k < indices.Length; k++)
            values[k] = Weighting switch
            {
                TermWeighting.Binary => 1,
                TermWeighting.TfIdf => counts[indices[k]] * inverseFrequency![indices[k]],
                _ => counts[indices[k]],
            };
        if (Normalize)
        {
            double norm = Math.Sqrt(values.Sum(v => v * v));
            if (norm > 0)
                for (int k = 0; k < values.Length; k++) values[k] /= norm;
        }
        return new SparseVector(indices, values);
    }

    /// <summary>The n-grams of a token list, in order (unigrams, then bigrams, …), repeats kept.</summary>
    static IEnumerable<string> NGramsOf(IReadOnlyList<string> tokens, int nGrams)
    {
        for (int n = 1; n <= nGrams; n++)
            for (int start = 0; start + n <= tokens.Count; start++)
                yield return n == 1 ? tokens[start] : string.Join(' ', Enumerable.Range(start, n).Select(i =>
                    tokens[i]));
    }

    static IEnumerable<string> Distinct(IReadOnlyList<string> tokens, int nGrams) =>
        NGramsOf(tokens, nGrams).Distinct(StringComparer.Ordinal);

    /// <summary>The features as saved beside a trained linear classifier.</summary>
    public JsonObject ToJson() => JsonSerializer.SerializeToNode(ToFile(), ClassificationJson.Default.BagOfWordsFile)!
        .AsObject();

    internal BagOfWordsFile ToFile() =>
        new(NGrams, Weighting, Normalize, MinDocumentFrequency, terms, inverseFrequency);

    /// <summary>Reads features written by <see cref="ToJson"/>; <paramref name="source"/> names the file in
    /// errors.</summary>
    public static BagOfWords FromJson(JsonObject json, string source)
    {
        try
        {
            return FromFile(ConfigJson.Read(json, ClassificationJson.Default.BagOfWordsFile, architecture: null));
        }
        catch (Exception e) when (e is InvalidDataException or ArgumentException)
        {
            throw new InvalidDataException($"{source}: the bag-of-words features are not readable: {e.Message}", e);
        }
    }

    internal static BagOfWords FromFile(BagOfWordsFile file)
    {
        if (file.Weighting == TermWeighting.TfIdf && file.Idf?.Length != file.Terms.Length)
            throw new InvalidDataException($"{file.Terms.Length} terms but {file.Idf?.Length ?? 0} idf values.");
        if (file.Terms.Distinct(StringComparer.Ordinal).Count() != file.Terms.Length)
            throw new InvalidDataException("a term is listed twice.");
        if (file.NGrams < 1 || file.MinDocumentFrequency < 1)
            throw new InvalidDataException($"n_grams {file.NGrams} and min_document_frequency "
                + $"{file.MinDocumentFrequency} must be positive.");
        return new BagOfWords(file.Terms, file.Idf, file.NGrams, file.Weighting, file.Normalize,
            file.MinDocumentFrequency);
    }
}

/// <summary>A <see cref="BagOfWords"/> on disk: its settings, the n-grams in feature order and their idf (TF-IDF
/// only).</summary>
sealed record BagOfWordsFile(
    [property: JsonPropertyName("n_grams")] int NGrams,
    [property: JsonConverter(typeof(LowerCaseEnumConverter<TermWeighting>))] TermWeighting Weighting,
    bool Normalize, int MinDocumentFrequency, string[] Terms, double[]? Idf);

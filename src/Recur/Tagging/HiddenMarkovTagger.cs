using System.Text;
using Recur.Serialization;

namespace Recur.Tagging;

/// <summary>
/// The pre-neural baseline for sequence labelling: a first-order hidden Markov model estimated by counting (transitions
/// with add-one smoothing, start and end included; emissions with add-α smoothing), decoded by Viterbi. A word never
/// seen in training is emitted through its shape class (capitals, lower case, digits and other characters, runs
/// collapsed: "Blackburn" → "Xx", "1996-08-22" → "d-d-d"), whose distribution per tag is estimated from the words seen
/// once — the usual stand-in for unknown words.
/// </summary>
public sealed class HiddenMarkovTagger
{
    readonly string[] tags;
    readonly double[] start, end; // log P(tag | start), log P(end | tag)
    readonly double[,] transition; // log P(to | from)
    readonly Dictionary<string, double[]> emission; // log P(word | tag)
    readonly Dictionary<string, double[]> shapeEmission; // log P(unknown, shape | tag)
    readonly double[] unknownShape; // log P(unknown, unseen shape | tag)

    /// <summary>The tags, by index.</summary>
    public IReadOnlyList<string> Tags => tags;

    HiddenMarkovTagger(string[] tags, double[] start, double[] end, double[,] transition, Dictionary<string,
        double[]> emission,
        Dictionary<string, double[]> shapeEmission, double[] unknownShape) =>
        (this.tags, this.start, this.end, this.transition, this.emission, this.shapeEmission,
            this.unknownShape) = (tags, start, end, transition, emission, shapeEmission, unknownShape);

    /// <summary>The shape class of a word.</summary>
    public static string Shape(string word)
    {
        var shape = new StringBuilder();
        foreach (char c in word)
        {
            char s = char.IsUpper(c) ? 'X' : char.IsLower(c) ? 'x' : char.IsDigit(c) ? 'd' : c;
            if (shape.Length == 0 || shape[^1] != s) shape.Append(s);
        }
        return shape.ToString();
    }

    /// <summary>Estimates the model from tagged sentences (tags in whatever scheme they are; the model predicts in
    /// it).</summary>
    public static HiddenMarkovTagger Train(IReadOnlyList<TaggedSentence> sentences, double alpha = 0.1)
    {
        if (sentences.Count == 0) throw new ArgumentException("HMM: no training sentences.");
        if (!(alpha > 0)) throw new ArgumentException($"HMM: the emission smoothing α must be positive, got {alpha}.");
        var tagNames = sentences.SelectMany(s => s.Tags).Distinct().Order(StringComparer.Ordinal).ToArray();
        var index = tagNames.Select((t, i) => (t, i)).ToDictionary(p => p.t, p => p.i, StringComparer.Ordinal);
        int k = tagNames.Length;
        var startCounts = new double[k];
        var endCounts = new double[k];
        var transitions = new double[k, k];
        var tagCounts = new double[k];
        var wordCounts = new Dictionary<string, double[]>(StringComparer.Ordinal);
        foreach (var s in sentences)
        {
            if (s.Tokens.Length != s.Tags.Length
                || s.Tokens.Length == 0) throw new ArgumentException(
                "HMM: a sentence is empty or has as many tags as tokens.");
            startCounts[index[s.Tags[0]]]++;
            endCounts[index[s.Tags[^1]]]++;
            for (int i = 0; i < s.Tokens.Length; i++)
            {
                int t = index[s.Tags[i]];
                tagCounts[t]++;
                if (!wordCounts.TryGetValue(s.Tokens[i],
                    out var counts)) wordCounts[s.Tokens[i]] = counts = new double[k];
                counts[t]++;
                if (i > 0) transitions[index[s.Tags[i - 1]], t]++;
            }
        }
        var startLog = startCounts.Select(c => Math.Log((c + 1) / (sentences.Count + k))).ToArray();
        var endLog = new double[k];
        var transitionLog = new double[k, k];
        for (int i = 0; i < k; i++)
        {
            double outgoing = endCounts[i] + Enumerable.Range(0, k).Sum(j => transitions[i, j]);
            endLog[i] = Math.Log((endCounts[i] + 1) / (outgoing + k + 1));
            for (int j = 0; j < k; j++) transitionLog[i, j] = Math.Log((transitions[i, j] + 1) / (outgoing + k + 1));
        }
        // words seen once stand for the unknown ones: their share per tag, and their shapes
        var rare = new double[k];
        var shapes = new Dictionary<string, double[]>(StringComparer.Ordinal);
        foreach (var (word, counts) in wordCounts)
        {
            if (counts.Sum() != 1) continue;
            int t = Array.FindIndex(counts, c => c > 0);
            rare[t]++;
            string shape = Shape(word);
            if (!shapes.TryGetValue(shape, out var perTag)) shapes[shape] = perTag = new double[k];
            perTag[t]++;
        }
        int vocabulary = wordCounts.Count + 1;
        var emission = wordCounts.ToDictionary(w => w.Key, w => Enumerable.Range(0,
            k).Select(t => Math.Log((w.Value[t] + alpha) / (tagCounts[t] + alpha * vocabulary))).ToArray(),
            StringComparer.Ordinal);
        // P(unknown, shape | tag) = P(unknown | tag) · P(shape | rare, tag), both add-one smoothed
        var unknownLog = Enumerable.Range(0,
            k).Select(t => Math.Log((rare[t] + alpha) / (tagCounts[t] + alpha * vocabulary))).ToArray();
        var shapeLog = shapes.ToDictionary(s => s.Key, s => Enumerable.Range(0,
            k).Select(t => unknownLog[t] + Math.Log((s.Value[t] + 1) / (rare[t] + shapes.Count + 1))).ToArray(),
            StringComparer.Ordinal);
        var unseenShape = Enumerable.Range(0,
            k).Select(t => unknownLog[t] + Math.Log(1 / (rare[t] + shapes.Count + 1))).ToArray();
        return new HiddenMarkovTagger(tagNames, startLog, endLog, transitionLog, emission, shapeLog, unseenShape);
    }

    double[] Emission(string word) => emission.TryGetValue(word,
        out var e) ? e : shapeEmission.TryGetValue(Shape(word), out var s) ? s : unknownShape;

    /// <summary>The most likely tags of <paramref name="tokens"/> (Viterbi).</summary>
    public string[] Tag(IReadOnlyList<string> tokens)
    {
        int n = tokens.Count, k = tags.Length;
        if (n == 0) return [];
        var delta = new double[k];
        var next = new double[k];
        var back = new int[n, k];
        var e0 = Emission(tokens[0]);
        for (int j = 0; j < k; j++) delta[j] = start[j] + e0[j];
        for (int t = 1; t < n; t++)
        {
            var e = Emission(tokens[t]);
            for (int j = 0; j < k; j++)
            {
                int best = 0;
                double bestScore = double.NegativeInfinity;
                for (int i = 0; i < k; i++)
                    if (delta[i] + transition[i, j] > bestScore) (bestScore, best) = (delta[i] + transition[i, j], i);
                next[j] = bestScore + e[j];
                back[t, j] = best;
            }
            (delta, next) = (next, delta);
        }
        int tag = 0;
        for (int j = 1; j < k; j++) if (delta[j] + end[j] > delta[tag] + end[tag]) tag = j;
        var path = new string[n];
        for (int t = n - 1; t >= 0; t--)
        {
            path[t] = tags[tag];
            tag = back[t, tag];
        }
        return path;
    }

    /// <summary>Writes the model as JSON (log-probabilities), atomically.</summary>
    public void Save(string path)
    {
        int k = tags.Length;
        var rows = Enumerable.Range(0, k).Select(i => Enumerable.Range(0, k).Select(j => transition[i, j]).ToArray())
            .ToArray();
        ConfigJson.WriteFile(path, new HmmFile(tags, start, end, rows, emission, shapeEmission, unknownShape),
            TaggingJson.Default.HmmFile, Architecture);
    }

    /// <summary>Reads a model written by <see cref="Save"/>; errors name the file.</summary>
    public static HiddenMarkovTagger Load(string path)
    {
        var file = ConfigJson.ReadFile(path, TaggingJson.Default.HmmFile, Architecture, f =>
        {
            int k = f.Tags.Length;
            if (k < 1) throw new ArgumentException("field 'tags' is empty.");
            var rows = new[] { ("start", f.Start), ("end", f.End), ("unknown_shape", f.UnknownShape) }
                .Concat(f.Transition.Select(r => ("transition", r)))
                .Concat(f.Emission.Select(e => ("emission", e.Value)))
                .Concat(f.ShapeEmission.Select(e => ("shape_emission", e.Value)));
            string? field = f.Transition.Length != k ? "transition"
                : rows.FirstOrDefault(r => r.Item2.Length != k).Item1;
            if (field != null)
                throw new ArgumentException($"field '{field}' does not hold one value per tag ({k} tags).");
        });
        var transition = new double[file.Tags.Length, file.Tags.Length];
        for (int i = 0; i < file.Tags.Length; i++)
            for (int j = 0; j < file.Tags.Length; j++) transition[i, j] = file.Transition[i][j];
        return new HiddenMarkovTagger(file.Tags, file.Start, file.End, transition,
            new(file.Emission, StringComparer.Ordinal), new(file.ShapeEmission, StringComparer.Ordinal),
            file.UnknownShape);
    }

    const string Architecture = "hmm";
}

/// <summary>A <see cref="HiddenMarkovTagger"/> on disk: log-probabilities, the transitions as rows by tag, the
/// emissions by word and by shape.</summary>
sealed record HmmFile(string[] Tags, double[] Start, double[] End, double[][] Transition,
    Dictionary<string, double[]> Emission, Dictionary<string, double[]> ShapeEmission, double[] UnknownShape);

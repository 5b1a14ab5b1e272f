using System.Text.Json.Nodes;
using Recur.Decoding;
using Recur.Nn;
using Recur.Text;
using Recur.Training;

namespace Recur.Translation;

/// <summary>Source and target tokenizers of a translation model (word-level, punctuation split off).</summary>
public sealed class TranslationVocabulary(WordLevelTokenizer source, WordLevelTokenizer target)
{
    /// <summary>The source side.</summary>
    public WordLevelTokenizer Source { get; } = source;

    /// <summary>The target side.</summary>
    public WordLevelTokenizer Target { get; } = target;

    /// <summary>Builds both from training pairs (words seen at least <paramref name="minFrequency"/> times).</summary>
    public static TranslationVocabulary Build(IReadOnlyList<SentencePair> pairs, int minFrequency = 1) =>
        new(WordLevelTokenizer.Build(string.Join('\n', pairs.Select(p => p.Source)), WordSplitting.Words,
            minFrequency: minFrequency),
            WordLevelTokenizer.Build(string.Join('\n', pairs.Select(p => p.Target)), WordSplitting.Words,
                minFrequency: minFrequency));

    /// <summary>Source ids of a sentence (never empty: an empty one becomes <c>&lt;unk&gt;</c>).</summary>
    public int[] EncodeSource(string text) => Source.Encode(text.Replace('\n',
        ' ')) is { Length: > 0 } ids ? ids : [Tokenizers.Unknown];

    /// <summary>Target ids of a sentence.</summary>
    public int[] EncodeTarget(string text) => Target.Encode(text.Replace('\n', ' '));

    /// <summary>Writes <c>source/</c> and <c>target/</c> into <paramref name="folder"/>.</summary>
    public void Save(string folder)
    {
        Source.Save(Path.Combine(folder, "source"));
        Target.Save(Path.Combine(folder, "target"));
    }

    /// <summary>Reads what <see cref="Save"/> wrote.</summary>
    public static TranslationVocabulary Load(string folder) =>
        new((WordLevelTokenizer)Tokenizers.Load(Path.Combine(folder, "source")),
            (WordLevelTokenizer)Tokenizers.Load(Path.Combine(folder, "target")));
}

/// <summary>
/// Trains a <see cref="Seq2Seq"/> model with the shared trainer: batches of similar source lengths, teacher forcing at
/// the trainer's scheduled ratio (scheduled sampling when it falls below 1), validation by corpus BLEU of greedy
/// translations of the held-out pairs (metric <c>bleu</c>).
/// </summary>
public sealed class TranslationTask : ITrainingTask<int[]>
{
    readonly Seq2Seq model;
    readonly TranslationVocabulary vocabulary;
    readonly int[][] sources, targets;
    readonly List<SentencePair>? valid;
    readonly int batchSize;
    readonly JsonObject? extraConfig;

    /// <summary>Sets up training on <paramref name="train"/>; <paramref name="valid"/> is translated after each
    /// epoch.</summary>
    public TranslationTask(Seq2Seq model, TranslationVocabulary vocabulary, IReadOnlyList<SentencePair> train,
        IReadOnlyList<SentencePair>? valid, int batchSize, JsonObject? extraConfig = null)
    {
        (this.model, this.vocabulary, this.batchSize, this.extraConfig) = (model, vocabulary, batchSize, extraConfig);
        sources = train.Select(p => vocabulary.EncodeSource(p.Source)).ToArray();
        targets = train.Select(p => vocabulary.EncodeTarget(p.Target)).ToArray();
        this.valid = valid?.ToList();
    }

    /// <inheritdoc/>
    public Module Model => model;

    /// <inheritdoc/>
    public JsonObject Config => model.Config.ToJson().With(extraConfig);

    /// <inheritdoc/>
    public int BatchesPerEpoch => (sources.Length + batchSize - 1) / batchSize;

    /// <inheritdoc/>
    public IEnumerable<int[]> Batches(int epoch,
        RandomGenerator shuffle) => Batching.BucketedByLength(sources.Select(s => s.Length).ToArray(), batchSize,
        shuffle);

    /// <inheritdoc/>
    public int Count(int[] batch) => batch.Length;

    /// <inheritdoc/>
    public Tensor Loss(int[] batch, TrainingContext context) =>
        model.Loss(batch.Select(i => sources[i]).ToList(), batch.Select(i => targets[i]).ToList(),
            context.TeacherForcingRatio, context.Random);

    /// <inheritdoc/>
    public IReadOnlyDictionary<string, double>? Evaluate()
    {
        if (valid is null) return null;
        var score = Score(model, vocabulary, valid);
        return new Dictionary<string, double>
        {
            ["bleu"] = score.Score, ["bleu_1"] = score.Precisions[0],
            ["brevity_penalty"] = score.BrevityPenalty
        };
    }

    /// <summary>
    /// Translations of <paramref name="sentences"/>, in batches of <paramref name="batchSize"/> sentences: greedy, or
    /// beam search of width <paramref name="beam"/> &gt; 1.
    /// </summary>
    public static List<Translated> Translate(Seq2Seq model, TranslationVocabulary vocabulary,
        IReadOnlyList<string> sentences, int beam = 1, int maxLength = 50, int batchSize = 128)
    {
        var encoded = sentences.Select(vocabulary.EncodeSource).ToList();
        var result = new List<Translated>(encoded.Count);
        for (int start = 0; start < encoded.Count; start += batchSize)
        {
            var batch = encoded.Skip(start).Take(batchSize).ToList();
            result.AddRange(beam > 1 ? model.BeamSearch(batch, beam, maxLength) : model.Greedy(batch, maxLength));
        }
        return result;
    }

    /// <summary>Corpus BLEU of the model's translations of <paramref name="pairs"/> against their targets.</summary>
    public static BleuScore Score(Seq2Seq model, TranslationVocabulary vocabulary, IReadOnlyList<SentencePair> pairs,
        int beam = 1)
    {
        var translated = Translate(model, vocabulary, pairs.Select(p => p.Source).ToList(), beam);
        return Bleu.Corpus(translated.Select(t => Detokenize(vocabulary.Target.Decode(t.Tokens))).ToList(),
            pairs.Select(p => p.Target).ToList());
    }

    /// <summary>
    /// Text of decoded tokens as it would be written: hyphens rejoin the words around them ("peut - être" →
    /// "peut-être"), which the tokenizer splits but BLEU's 13a tokenisation keeps whole.
    /// </summary>
    public static string Detokenize(string text) => System.Text.RegularExpressions.Regex.Replace(text,
        @"(\w) - (?=\w)", "$1-");
}

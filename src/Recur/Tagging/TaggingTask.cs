using System.Text.Json.Nodes;
using Recur.Nn;
using Recur.Text;
using Recur.Training;

namespace Recur.Tagging;

/// <summary>
/// Trains a <see cref="SequenceTagger"/> with the shared trainer: length-bucketed batches, singleton words replaced by
/// <c>&lt;unk&gt;</c> with probability ½ while training (so that the unknown-word embedding is learned, Lample et al.
/// 2016) and, optionally, every other word with a smaller probability (word dropout, which makes the tagger lean on the
/// characters and the context as it must for words it has never seen), validation by conlleval F1 (metric <c>f1</c>),
/// precision, recall and token accuracy.
/// </summary>
public sealed class TaggingTask : ITrainingTask<int[]>
{
    readonly SequenceTagger model;
    readonly List<EncodedSentence> train;
    readonly List<int[]> trainTags;
    readonly List<TaggedSentence>? valid;
    readonly TaggingVocabulary vocabulary;
    readonly HashSet<int> singletons;
    readonly int batchSize;
    readonly float unknownReplacement, wordDropout;

    /// <summary>
    /// Sets up training; <paramref name="train"/> tags must be in the model's scheme, <paramref name="valid"/> in any.
    /// Singleton words become <c>&lt;unk&gt;</c> with probability <paramref name="unknownReplacement"/>, the others
    /// with
    /// <paramref name="wordDropout"/>.
    /// </summary>
    public TaggingTask(SequenceTagger model, TaggingVocabulary vocabulary, IReadOnlyList<TaggedSentence> train,
        IReadOnlyList<TaggedSentence>? valid, int batchSize, float unknownReplacement = 0.5f, float wordDropout = 0f)
    {
        if (unknownReplacement is < 0 or > 1 || wordDropout is < 0 or >= 1)
            throw new ArgumentOutOfRangeException(nameof(wordDropout), $"TaggingTask: the unknown-word replacement "
                + $"must be in [0, 1] and the word dropout in [0, 1), got {unknownReplacement} and {wordDropout}.");
        (this.model, this.vocabulary, this.valid, this.batchSize, this.unknownReplacement, this.wordDropout) = (model,
            vocabulary, valid?.ToList(), batchSize, unknownReplacement, wordDropout);
        var tagIds = model.Config.Tags.Select((t, i) => (t, i)).ToDictionary(p => p.t, p => p.i,
            StringComparer.Ordinal);
        this.train = train.Select(s => vocabulary.Encode(s.Tokens)).ToList();
        trainTags = train.Select((s, n) => s.Tags.Select(t => tagIds.TryGetValue(t, out int id) ? id
            : throw new InvalidDataException(
                $"training sentence {n + 1}: tag '{t}' is not among the model's tags.")).ToArray()).ToList();
        var counts = new Dictionary<int, int>();
        foreach (var s in this.train) foreach (int w in s.Words) counts[w] = counts.GetValueOrDefault(w) + 1;
        singletons = counts.Where(c => c.Value == 1).Select(c => c.Key).ToHashSet();
    }

    /// <inheritdoc/>
    public Module Model => model;

    /// <inheritdoc/>
    public JsonObject Config => model.Config.ToJson();

    /// <inheritdoc/>
    public int BatchesPerEpoch => (train.Count + batchSize - 1) / batchSize;

    /// <inheritdoc/>
    public IEnumerable<int[]> Batches(int epoch,
        RandomGenerator shuffle) => Batching.BucketedByLength(train.Select(s => s.Words.Length).ToArray(), batchSize,
        shuffle);

    /// <inheritdoc/>
    public int Count(int[] batch) => batch.Length;

    /// <inheritdoc/>
    public Tensor Loss(int[] batch, TrainingContext context)
    {
        var sentences = batch.Select(i => WithUnknowns(i, context.Random)).ToList();
        return model.Loss(sentences, batch.Select(i => trainTags[i]).ToList());
    }

    /// <summary>Training sentence <paramref name="index"/> with words replaced by <c>&lt;unk&gt;</c> as the replacement
    /// probabilities say.</summary>
    internal EncodedSentence WithUnknowns(int index, RandomGenerator random)
    {
        var s = train[index];
        if (unknownReplacement == 0 && wordDropout == 0) return s;
        var words = s.Words.Select(w => (singletons.Contains(w) ? unknownReplacement : wordDropout) is float p && p > 0
            && random.NextFloat() < p ? WordVocabulary.Unknown : w).ToArray();
        return s with { Words = words };
    }

    /// <inheritdoc/>
    public IReadOnlyDictionary<string, double>? Evaluate()
    {
        if (valid is null) return null;
        var score = Score(model, vocabulary, valid);
        return new Dictionary<string, double>
        {
            ["f1"] = score.Overall.F1 * 100, ["precision"] = score.Overall.Precision * 100,
            ["recall"] = score.Overall.Recall * 100, ["accuracy"] = score.TokenAccuracy * 100,
        };
    }

    /// <summary>conlleval scores of <paramref name="model"/> on <paramref name="sentences"/> (gold tags in any
    /// scheme).</summary>
    public static ConllEvaluation Score(SequenceTagger model, TaggingVocabulary vocabulary,
        IReadOnlyList<TaggedSentence> sentences)
    {
        // predictions are rewritten in the gold data's own scheme: chunk scores do not depend on it (conversion is
        // exact), but token accuracy compares tags one by one
        var scheme = TagSchemes.Detect(sentences.Select(s => (IReadOnlyList<string>)s.Tags));
        var predicted = model.Tag(vocabulary,
            sentences.Select(s => (IReadOnlyList<string>)s.Tokens).ToList()).Select(p => TagSchemes.Convert(p, scheme));
        return ConllEvaluation.Score(sentences.Select(s => (IReadOnlyList<string>)s.Tags).ToList(),
            predicted.Select(p => (IReadOnlyList<string>)p).ToList());
    }
}

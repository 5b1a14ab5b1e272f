using Recur.Autograd;
using Recur.Nn;
using Recur.Nn.Recurrent;

namespace Recur.Tagging;

/// <summary>
/// Sequence labelling (synchronous many-to-many): word embedding ⊕ character-BiLSTM feature (⊕ casing embedding) →
/// dropout → bidirectional LSTM over the sentence → dropout → linear emission scores per tag → a linear-chain CRF (or a
/// per-token softmax). Variable-length batches are masked: padding never changes a tag.
/// </summary>
public sealed class SequenceTagger : Module
{
    readonly Embedding words;
    readonly Embedding? chars, casing;
    readonly RecurrentLayer? charEncoder;
    readonly RecurrentLayer encoder;
    readonly Linear emission;
    readonly RandomGenerator dropoutRandom;

    /// <summary>The architecture it was built with: written as config.json when saved, read first when
    /// loaded.</summary>
    public SequenceTaggerConfig Config { get; }

    /// <summary>The CRF, when the model has one.</summary>
    public LinearChainCrf? Crf { get; }

    /// <summary>The word embedding table (for loading pretrained vectors).</summary>
    public Tensor WordEmbeddingWeight => words.Weight;

    /// <summary>Builds the model with weights drawn from <paramref name="random"/>.</summary>
    public SequenceTagger(SequenceTaggerConfig config, RandomGenerator random)
    {
        if (config.WordCount < 2 || config.CharCount < 2 || config.Tags.Length < 1 || config.Dropout is < 0 or >= 1
            || config.CasingEmbeddingSize < 0 || config.NumLayers < 1)
            throw new ArgumentException($"SequenceTagger: invalid settings {config}.");
        Config = config;
        words = RegisterModule("word_embedding", new Embedding(config.WordCount, config.WordEmbeddingSize, random,
            paddingIndex: 0));
        float scale = MathF.Sqrt(3f / config.WordEmbeddingSize);
        Tensor.RandomUniform(random, [config.WordCount, config.WordEmbeddingSize], -scale,
            scale).Span.CopyTo(words.Weight.Span);
        words.Weight.Span[..config.WordEmbeddingSize].Clear();
        int input = config.WordEmbeddingSize;
        if (config.CharFeatures)
        {
            chars = RegisterModule("char_embedding", new Embedding(config.CharCount, config.CharEmbeddingSize, random,
                paddingIndex: 0));
            charEncoder = RegisterModule("char_encoder", new RecurrentLayer(new RecurrentConfig(RecurrentMode.Lstm,
                config.CharEmbeddingSize, config.CharHiddenSize,
                Bidirectional: true, ForgetGateBias: 1f), random));
            input += 2 * config.CharHiddenSize;
        }
        if (config.CasingEmbeddingSize > 0)
        {
            casing = RegisterModule("casing_embedding", new Embedding(Casing.Count, config.CasingEmbeddingSize, random,
                paddingIndex: 0));
            input += config.CasingEmbeddingSize;
        }
        encoder = RegisterModule("encoder", new RecurrentLayer(new RecurrentConfig(RecurrentMode.Lstm, input,
            config.HiddenSize, config.NumLayers,
            Dropout: config.NumLayers > 1 ? config.Dropout : 0f, Bidirectional: true, ForgetGateBias: 1f), random));
        emission = RegisterModule("emission", new Linear(2 * config.HiddenSize, config.Tags.Length, random));
        if (config.Crf) Crf = RegisterModule("crf", new LinearChainCrf(config.Tags.Length, random,
            LinearChainCrf.Constraints(config.Tags, config.Scheme)));
        dropoutRandom = RegisterRandom("dropout", random.Fork());
    }

    /// <summary>Emission scores [T, B, tags] (time-major, T the longest sentence) and the sentence lengths.</summary>
    public (Tensor Emissions, int[] Lengths) Emissions(IReadOnlyList<EncodedSentence> batch)
    {
        int count = batch.Count;
        if (count == 0) throw new ArgumentException("SequenceTagger: an empty batch.");
        var lengths = batch.Select(s => s.Words.Length).ToArray();
        for (int b = 0; b < count; b++)
            if (lengths[b] == 0 || batch[b].Chars.Length != lengths[b] || batch[b].Casing is { } classes
                && classes.Length != lengths[b])
                throw new ArgumentException($"SequenceTagger: sentence {b} of the batch is empty or its characters or "
                    + $"casing classes do not match its words.");
        var (ids, _, steps) = RaggedBatch.TimeMajor(batch.Select(s => s.Words).ToArray(), Config.WordCount,
            "SequenceTagger (words)");
        var x = words.Forward(ids, steps, count);
        if (chars != null)
        {
            // every word of the batch through the character BiLSTM at once; padding positions borrow word 0's feature
            // (masked below)
            var wordChars = new List<int[]>();
            var index = new int[steps * count];
            for (int b = 0; b < count; b++)
                for (int t = 0; t < lengths[b]; t++)
                {
                    index[t * count + b]
                    = wordChars.Count; wordChars.Add(batch[b].Chars[t]);
                }
            int longest = wordChars.Max(w => w.Length), n = wordChars.Count;
            var charIds = new int[longest * n];
            for (int w = 0; w < n; w++)
                for (int c = 0; c < wordChars[w].Length; c++)
                {
                    int id = wordChars[w][c];
                    if ((uint)id >= (uint)Config.CharCount) throw new ArgumentException(
                        $"SequenceTagger: character id {id} is outside the vocabulary of {Config.CharCount}.");
                    charIds[c * n + w] = id;
                }
            var encoded = charEncoder!.Forward(chars.Forward(charIds, longest, n),
                lengths: wordChars.Select(w => w.Length).ToArray());
            var features = Tensor.Concat([encoded.HiddenState.Select(0, 0), encoded.HiddenState.Select(0, 1)],
                1); // [n, 2·charHidden]
            x = Tensor.Concat([x, features.IndexSelect(0, index).Reshape(steps, count, 2 * Config.CharHiddenSize)], 2);
        }
        if (casing != null)
        {
            var classes = new int[steps * count];
            for (int b = 0; b < count; b++)
                for (int t = 0; t < lengths[b]; t++)
                {
                    int c = batch[b].Casing?[t] ?? Casing.Other;
                    if (c is < 1
                        or >= Casing.Count) throw new ArgumentException(
                        $"SequenceTagger: casing class {c} of word {t} in sentence {b} is not in [1, {Casing.Count}).");
                    classes[t * count + b] = c;
                }
            x = Tensor.Concat([x, casing.Forward(classes, steps, count)], 2);
        }
        var output = encoder.Forward(Drop(x), lengths: lengths).Output;
        return (emission.Forward(Drop(output)), lengths);
    }

    Tensor Drop(Tensor x) => Config.VariationalDropout
        ? Functional.VariationalDropout(x, Config.Dropout, Training, dropoutRandom)
        : Functional.Dropout(x, Config.Dropout, Training, dropoutRandom);

    /// <summary>The training loss of a batch with gold tag ids: the CRF's negative log-likelihood, or the mean token
    /// cross-entropy.</summary>
    public Tensor Loss(IReadOnlyList<EncodedSentence> batch, IReadOnlyList<int[]> tags)
    {
        var (emissions, lengths) = Emissions(batch);
        int steps = emissions.Size(0), count = batch.Count;
        var gold = new int[steps * count];
        var mask = new float[steps * count];
        for (int b = 0; b < count; b++)
        {
            if (tags[b].Length != lengths[b]) throw new ArgumentException(
                $"SequenceTagger: sentence {b} has {lengths[b]} words but {tags[b].Length} tags.");
            for (int t = 0; t < lengths[b]; t++) { gold[t * count + b] = tags[b][t]; mask[t * count + b] = 1; }
        }
        return Crf != null ? Crf.NegativeLogLikelihood(emissions, gold, lengths) : Losses.CrossEntropy(emissions, gold,
            mask: mask);
    }

    /// <summary>The predicted tag ids of each sentence (Viterbi with a CRF, else the most likely tag per token),
    /// without gradients.</summary>
    public int[][] Predict(IReadOnlyList<EncodedSentence> batch)
    {
        using var _ = this.Evaluating();
        var (emissions, lengths) = Emissions(batch);
        if (Crf != null) return Crf.Decode(emissions, lengths);
        int k = Config.Tags.Length, count = batch.Count;
        var scores = emissions.ToArray();
        return Enumerable.Range(0, count).Select(b => Enumerable.Range(0, lengths[b]).Select(t =>
        {
            return Kernels.Scores.ArgMax(scores.AsSpan((t * count + b) * k, k));
        }).ToArray()).ToArray();
    }

    /// <summary>
    /// Each token's probability of every tag, [sentence][token][tag] in the order of <see
    /// cref="SequenceTaggerConfig.Tags"/>: the CRF's marginals by forward–backward, or a softmax tagger's per-token
    /// distribution. Without gradients.
    /// </summary>
    public double[][][] Marginals(IReadOnlyList<EncodedSentence> batch)
    {
        using var _ = this.Evaluating();
        var (emissions, lengths) = Emissions(batch);
        if (Crf != null) return Crf.Marginals(emissions, lengths);
        int k = Config.Tags.Length, count = batch.Count;
        var p = emissions.Softmax(-1).ToArray();
        return Enumerable.Range(0, count).Select(b => Enumerable.Range(0, lengths[b]).Select(t =>
            p.AsSpan((t * count + b) * k, k).ToArray().Select(v => (double)v).ToArray()).ToArray()).ToArray();
    }

    /// <summary>
    /// Tags by an ensemble of taggers with the same vocabulary and tags (seeds of one configuration): their emission
    /// scores are averaged (log-probabilities for softmax taggers), and CRF taggers decode with the averaged transition
    /// scores. In the models' scheme, in batches of <paramref name="batchSize"/>.
    /// </summary>
    public static List<string[]> TagEnsemble(IReadOnlyList<SequenceTagger> models, TaggingVocabulary vocabulary,
        IReadOnlyList<IReadOnlyList<string>> sentences, int batchSize = 64)
    {
        if (models.Count == 0) throw new ArgumentException("TagEnsemble: no models.");
        var first = models[0].Config;
        foreach (var m in models)
            if (!m.Config.Tags.SequenceEqual(first.Tags) || m.Config.Crf != first.Crf
                || m.Config.WordCount != first.WordCount || m.Config.Scheme != first.Scheme)
                throw new ArgumentException("TagEnsemble: the models differ in tags, output layer or vocabulary; an "
                    + "ensemble needs seeds of one configuration.");
        if (models.Count == 1) return models[0].Tag(vocabulary, sentences, batchSize);
        int k = first.Tags.Length;
        LinearChainCrf? crf = null;
        if (first.Crf)
        {
            crf = new LinearChainCrf(k, new RandomGenerator(0), LinearChainCrf.Constraints(first.Tags, first.Scheme));
            foreach (var (target, pick) in new (Tensor, Func<LinearChainCrf, Tensor>)[] { (crf.Transitions,
                c => c.Transitions), (crf.StartTransitions, c => c.StartTransitions), (crf.EndTransitions,
                c => c.EndTransitions) })
            {
                var sum = new float[target.Length];
                foreach (var m in models) System.Numerics.Tensors.TensorPrimitives.Add(sum, pick(m.Crf!).Span, sum);
                System.Numerics.Tensors.TensorPrimitives.Multiply(sum, 1f / models.Count, target.Span);
            }
        }
        var result = new List<string[]>(sentences.Count);
        foreach (var m in models) m.Eval();
        try
        {
            using var _ = GradMode.NoGrad();
            for (int start = 0; start < sentences.Count; start += batchSize)
            {
                var batch = sentences.Skip(start).Take(batchSize).Select(vocabulary.Encode).ToList();
                float[]? sum = null;
                int[] lengths = [];
                int[] shape = [];
                foreach (var m in models)
                {
                    var (emissions, l) = m.Emissions(batch);
                    var values = first.Crf ? emissions.ToArray() : emissions.LogSoftmax(-1).ToArray();
                    if (sum is null) (sum, lengths, shape) = (values, l, emissions.ShapeArray());
                    else System.Numerics.Tensors.TensorPrimitives.Add(sum, values, sum);
                }
                System.Numerics.Tensors.TensorPrimitives.Multiply(sum!, 1f / models.Count, sum!);
                var average = Tensor.FromArray(sum!, shape);
                int count = batch.Count;
                var ids = crf != null ? crf.Decode(average, lengths) : Enumerable.Range(0,
                    count).Select(b => Enumerable.Range(0, lengths[b]).Select(t =>
                {
                    return Kernels.Scores.ArgMax(sum.AsSpan((t * count + b) * k, k));
                }).ToArray()).ToArray();
                foreach (var path in ids) result.Add(path.Select(i => first.Tags[i]).ToArray());
            }
        }
        finally { foreach (var m in models) m.Train(); }
        return result;
    }

    /// <summary>Predicted tags (in the model's scheme) of tokenised sentences, in batches of
    /// <paramref name="batchSize"/>.</summary>
    public List<string[]> Tag(TaggingVocabulary vocabulary, IReadOnlyList<IReadOnlyList<string>> sentences,
        int batchSize = 64)
    {
        var result = new List<string[]>(sentences.Count);
        for (int start = 0; start < sentences.Count; start += batchSize)
        {
            var batch = sentences.Skip(start).Take(batchSize).Select(vocabulary.Encode).ToList();
            foreach (var ids in Predict(batch)) result.Add(ids.Select(i => Config.Tags[i]).ToArray());
        }
        return result;
    }
}

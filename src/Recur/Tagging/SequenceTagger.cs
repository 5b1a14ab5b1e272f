using System.Text;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using Recur.Autograd;
using Recur.Nn;
using Recur.Nn.Recurrent;
using Recur.Serialization;
using Recur.Text;
using Recur.Training;

namespace Recur.Tagging;

/// <summary>Settings of a <see cref="SequenceTagger"/>.</summary>
/// <param name="WordCount">Word ids (padding 0 and unknown 1 included).</param>
/// <param name="CharCount">Character ids (the <see cref="CharTokenizer"/>'s vocabulary size).</param>
/// <param name="Tags">Tag names, in the training scheme.</param>
/// <param name="Scheme">The tag scheme the model predicts in.</param>
/// <param name="Crf">A linear-chain CRF output layer (else a per-token softmax).</param>
/// <param name="CharFeatures">A character-level BiLSTM feature per word (Lample et al. 2016).</param>
/// <param name="WordEmbeddingSize">Word embedding width.</param>
/// <param name="CharEmbeddingSize">Character embedding width.</param>
/// <param name="CharHiddenSize">Character BiLSTM units per direction.</param>
/// <param name="HiddenSize">Word BiLSTM units per direction.</param>
/// <param name="Dropout">Dropout on the word representations and on the encoder outputs.</param>
/// <param name="CasingEmbeddingSize">Width of an embedding of each word's <see cref="Casing"/> class (0: none); the
/// word lookup is lower-cased, so this gives the encoder the capitalisation directly (Reimers &amp; Gurevych
/// 2017).</param>
/// <param name="NumLayers">Stacked word BiLSTM layers (dropout between them).</param>
/// <param name="VariationalDropout">Draw the dropout masks on the word representations and encoder outputs once per
/// sentence and share them over its words (<see cref="Functional.VariationalDropout"/>) instead of per word.</param>
public sealed record SequenceTaggerConfig(int WordCount, int CharCount, string[] Tags,
    TagScheme Scheme = TagScheme.Bioes, bool Crf = true, bool CharFeatures = true,
    [property: JsonPropertyName("word_embedding")] int WordEmbeddingSize = 100,
    [property: JsonPropertyName("char_embedding")] int CharEmbeddingSize = 25,
    [property: JsonPropertyName("char_hidden")] int CharHiddenSize = 25,
    [property: JsonPropertyName("hidden")] int HiddenSize = 100, float Dropout = 0.5f,
    [property: JsonPropertyName("casing_embedding")] int CasingEmbeddingSize = 0, int NumLayers = 1,
    bool VariationalDropout = false)
{
    /// <summary>The configuration as saved in <c>config.json</c>.</summary>
    public JsonObject ToJson() => ConfigJson.Write(this, TaggingJson.Default.SequenceTaggerConfig, "sequence_tagger");

    /// <summary>Reads a configuration written by <see cref="ToJson"/>.</summary>
    /// <exception cref="InvalidDataException">Another model's, or a field missing or invalid (named).</exception>
    public static SequenceTaggerConfig FromJson(JsonObject json) =>
        ConfigJson.Read(json, TaggingJson.Default.SequenceTaggerConfig, "sequence_tagger");
}

/// <summary>A sentence as model input: word ids and, per word, character ids and the casing class.</summary>
/// <param name="Words">Word ids.</param>
/// <param name="Chars">Character ids of each word.</param>
/// <param name="Casing">The <see cref="Casing"/> class of each word (null: every word counts as
/// <see cref="Tagging.Casing.Other"/>).</param>
public sealed record EncodedSentence(int[] Words, int[][] Chars, int[]? Casing = null);

/// <summary>The capitalisation and digit classes of a token (Reimers &amp; Gurevych 2017); 0 is kept for
/// padding.</summary>
public static class Casing
{
    /// <summary>Only digits.</summary>
    public const int Numeric = 1;
    /// <summary>More than half digits ("1.5", "10-12").</summary>
    public const int MainlyNumeric = 2;
    /// <summary>All letters lower case.</summary>
    public const int AllLower = 3;
    /// <summary>All letters upper case ("EU", "U.S.").</summary>
    public const int AllUpper = 4;
    /// <summary>First character upper case ("Germany").</summary>
    public const int InitialUpper = 5;
    /// <summary>Some digit, otherwise none of the above ("B52s").</summary>
    public const int ContainsDigit = 6;
    /// <summary>Anything else (mixed case, punctuation).</summary>
    public const int Other = 7;
    /// <summary>Number of ids, padding included.</summary>
    public const int Count = 8;

    /// <summary>The class of <paramref name="token"/>.</summary>
    public static int Of(string token)
    {
        int digits = 0, letters = 0, upper = 0, lower = 0;
        foreach (char c in token)
        {
            if (char.IsDigit(c)) digits++;
            else if (char.IsLetter(c)) { letters++; if (char.IsUpper(c)) upper++; else if (char.IsLower(c)) lower++; }
        }
        if (token.Length > 0 && digits == token.Length) return Numeric;
        if (digits * 2 > token.Length) return MainlyNumeric;
        if (letters > 0 && lower == letters) return AllLower;
        if (letters > 0 && upper == letters) return AllUpper;
        if (token.Length > 0 && char.IsUpper(token[0])) return InitialUpper;
        return digits > 0 ? ContainsDigit : Other;
    }
}

/// <summary>
/// Word and character vocabularies for tagging: words are looked up lower-cased with digits replaced by 0 (the
/// character features keep the case and digits), characters by the <see cref="CharTokenizer"/> of the training tokens.
/// </summary>
public sealed class TaggingVocabulary(WordVocabulary words, CharTokenizer chars)
{
    /// <summary>The word vocabulary.</summary>
    public WordVocabulary Words { get; } = words;

    /// <summary>The character vocabulary.</summary>
    public CharTokenizer Chars { get; } = chars;

    /// <summary>The form a word is looked up in.</summary>
    public static string Normalise(string token)
    {
        var text = new StringBuilder(token.Length);
        foreach (char c in token.ToLowerInvariant()) text.Append(char.IsAsciiDigit(c) ? '0' : c);
        return text.ToString();
    }

    /// <summary>Builds both vocabularies from training sentences (every word seen at least
    /// <paramref name="minFrequency"/> times).</summary>
    public static TaggingVocabulary Build(IEnumerable<TaggedSentence> sentences, int minFrequency = 1)
    {
        var list = sentences.ToList();
        return new(WordVocabulary.Build(list.Select(s => (IReadOnlyList<string>)s.Tokens.Select(Normalise).ToArray()),
            minFrequency),
            CharTokenizer.Build(string.Concat(list.SelectMany(s => s.Tokens))));
    }

    /// <summary>The model input of <paramref name="tokens"/>.</summary>
    public EncodedSentence Encode(IReadOnlyList<string> tokens) =>
        new(tokens.Select(t => Words.Id(Normalise(t))).ToArray(),
            tokens.Select(t => Chars.Encode(t) is { Length: > 0 } ids ? ids : [Tokenizers.Unknown]).ToArray(),
            tokens.Select(Casing.Of).ToArray());

    /// <summary>Writes <c>words.json</c> and <c>chars/</c> into <paramref name="folder"/>.</summary>
    public void Save(string folder)
    {
        Directory.CreateDirectory(folder);
        Words.Save(Path.Combine(folder, "words.json"));
        Chars.Save(Path.Combine(folder, "chars"));
    }

    /// <summary>Reads what <see cref="Save"/> wrote.</summary>
    public static TaggingVocabulary Load(string folder) =>
        new(WordVocabulary.Load(Path.Combine(folder, "words.json")),
            (CharTokenizer)Tokenizers.Load(Path.Combine(folder, "chars")));
}

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
        IReadOnlyList<TaggedSentence>? valid,
        int batchSize, float unknownReplacement = 0.5f, float wordDropout = 0f)
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

/// <summary>The settings records of <c>Recur.Tagging</c> in JSON, generated at compile time.</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower,
    RespectRequiredConstructorParameters = true, RespectNullableAnnotations = true)]
[JsonSerializable(typeof(SequenceTaggerConfig))]
[JsonSerializable(typeof(HmmFile))]
sealed partial class TaggingJson : JsonSerializerContext;

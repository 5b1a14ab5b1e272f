using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using Recur.Nn;
using Recur.Serialization;

namespace Recur.Memory;

/// <summary>How a memory network turns a sentence's words into one vector.</summary>
[JsonConverter(typeof(SnakeCaseEnumConverter<SentenceEncoding>))]
public enum SentenceEncoding
{
    /// <summary>The sum of the word embeddings: word order is lost.</summary>
    BagOfWords,

    /// <summary>
    /// Position encoding (Sukhbaatar et al. 2015, §4.1): each word's embedding is scaled, dimension by dimension, by
    /// weights that depend on its place in the sentence (<see cref="MemoryNetwork.PositionEncoding"/>), so "the kitchen
    /// is north of the garden" differs from its reverse.
    /// </summary>
    Position,
}

/// <summary>A question ready for a model: word ids of the memory sentences (oldest first), of the question, and the
/// id of the answer.</summary>
/// <param name="Memories">Word ids of each sentence, oldest first.</param>
/// <param name="Question">Word ids of the question.</param>
/// <param name="Answer">Vocabulary id of the answer (−1 when unknown, as for a user's story).</param>
/// <param name="Task">The bAbI task, or 0.</param>
public sealed record EncodedQuestion(int[][] Memories, int[] Question, int Answer, int Task);

/// <summary>Settings of a <see cref="MemoryNetwork"/>.</summary>
/// <param name="VocabularySize">Word ids, padding (0) and unknown (1) included; answers are words of it.</param>
/// <param name="SentenceLength">The longest sentence (and question), in words; J of the position encoding.</param>
/// <param name="EmbeddingSize">d, the width of every embedding.</param>
/// <param name="Hops">K, the attention steps over the memory.</param>
/// <param name="MemorySize">The most recent sentences a question can attend to; rows of the temporal
/// encoding.</param>
/// <param name="Encoding">Sentence representation.</param>
/// <param name="TemporalEncoding">Add a learned vector per memory age (T_A, T_C of the paper).</param>
/// <param name="RandomTimeNoise">While training, spread the ages over up to 10% more slots, as if empty
/// memories were inserted (the paper's random noise, RN), so the temporal vectors do not overfit.</param>
/// <param name="EmptySlots">The memory is <paramref name="MemorySize"/> slots whatever the story's length, and the
/// unused ones — empty sentences, zero vectors — take part in the attention, as in the authors' code: their score is
/// 0, so attention can rest on nothing when no sentence matches (yes/no questions need that: task 6 per task, 8%
/// error against 22% when empty slots are masked out). Without it only the story's sentences are attended to.</param>
public sealed record MemoryNetworkConfig(int VocabularySize, int SentenceLength, int EmbeddingSize = 20, int Hops = 3,
    int MemorySize = 50, SentenceEncoding Encoding = SentenceEncoding.Position, bool TemporalEncoding = true,
    bool RandomTimeNoise = true, bool EmptySlots = true)
{
    /// <summary>Throws an <see cref="ArgumentException"/> naming the first invalid setting.</summary>
    public void Validate()
    {
        if (VocabularySize < 3) throw new ArgumentException($"MemoryNetwork: a vocabulary of {VocabularySize} ids.");
        if (SentenceLength < 1 || EmbeddingSize < 1 || MemorySize < 1)
            throw new ArgumentException("MemoryNetwork: sentence length, embedding size and memory size must be "
                + $"positive, got {SentenceLength}, {EmbeddingSize}, {MemorySize}.");
        if (Hops is < 1 or > 10) throw new ArgumentException($"MemoryNetwork: 1–10 hops, got {Hops}.");
    }

    /// <summary>The configuration as saved in <c>config.json</c>.</summary>
    public JsonObject ToJson() => ConfigJson.Write(this, MemoryJson.Default.MemoryNetworkConfig, "memn2n");

    /// <summary>Reads a configuration written by <see cref="ToJson"/>.</summary>
    /// <exception cref="InvalidDataException">Another model's, or a field missing or invalid (named).</exception>
    public static MemoryNetworkConfig FromJson(JsonObject json) =>
        ConfigJson.Read(json, MemoryJson.Default.MemoryNetworkConfig, "memn2n", config => config.Validate());
}

/// <summary>What a memory network computes for a batch of questions.</summary>
/// <param name="Logits">Scores over the vocabulary [B, V] (the answer is the largest).</param>
/// <param name="Attention">Per hop, the attention [B, M] over the memory slots, slot 0 the most recent sentence
/// (masked padding slots get 0; empty slots that take part get what falls on them).</param>
public sealed record MemoryNetworkOutput(Tensor Logits, IReadOnlyList<Tensor> Attention);

/// <summary>A batch of questions as id arrays (from <see cref="MemoryNetwork.Pad"/>).</summary>
/// <param name="Story">Word ids [B, M, J]: sentence i of story b, most recent first; 0 pads.</param>
/// <param name="Ages">Temporal-encoding rows [B, M]: the age of each sentence, the memory size for padding.</param>
/// <param name="Mask">[B, M]: 0 for a sentence (and an empty slot that takes part), −∞ for a padding slot (added to
/// the attention scores).</param>
/// <param name="Question">Word ids [B, J].</param>
/// <param name="Batch">B.</param>
/// <param name="Slots">M: the memory size, or without empty slots the batch's longest story (at most the memory
/// size).</param>
public sealed record PaddedStories(int[] Story, int[] Ages, float[] Mask, int[] Question, int Batch, int Slots);

/// <summary>
/// End-to-end memory network (MemN2N, Sukhbaatar et al. 2015) with adjacent weight tying: K + 1 embedding tables
/// E₀ … E_K [V, d]; the question is encoded with E₀ (B = A¹), hop k reads the memory encoded with E_{k−1} (A^k)
/// to attend, p = softmax(mᵢ · u), and with E_k (C^k) to answer, o = Σ pᵢ cᵢ, then u ← u + o; the answer scores are
/// u · E_Kᵀ (Wᵀ = C^K). Sentences are bags of words or position-encoded, plus a temporal vector per memory age.
/// During <see cref="LinearStart"/> the memory softmax is left out (p = m · u), as the paper does for its first epochs.
/// Padding never changes an answer: padded word ids add nothing, and the memory is either always its full size (empty
/// slots take part) or masked to the story's sentences.
/// </summary>
public sealed class MemoryNetwork : Module, IStoryModel
{
    readonly Tensor[] embeddings, temporal;
    readonly Tensor? positions;

    /// <summary>The architecture it was built with: written as config.json when saved, read first when
    /// loaded.</summary>
    public MemoryNetworkConfig Config { get; }

    /// <summary>Leave the softmax out of the memory layers (linear start); the answer softmax stays.</summary>
    public bool LinearStart { get; set; }

    /// <summary>Builds the model with weights drawn from N(0, 0.1²) by <paramref name="random"/>, as the paper
    /// does.</summary>
    public MemoryNetwork(MemoryNetworkConfig config, RandomGenerator random)
    {
        config.Validate();
        Config = config;
        int d = config.EmbeddingSize;
        embeddings = new Tensor[config.Hops + 1];
        temporal = new Tensor[config.Hops + 1];
        for (int k = 0; k <= config.Hops; k++)
        {
            embeddings[k] = RegisterParameter($"embeddings.{k}.weight",
                Tensor.RandomNormal(random, [config.VocabularySize, d], 0f, 0.1f));
            embeddings[k].Span[..d].Clear(); // the padding id
            if (!config.TemporalEncoding) continue;
            // one row per age, and a last row that stays zero for the padding slots
            temporal[k] = RegisterParameter($"temporal.{k}.weight",
                Tensor.RandomNormal(random, [config.MemorySize + 1, d], 0f, 0.1f));
            temporal[k].Span[(config.MemorySize * d)..].Clear();
        }
        if (config.Encoding == SentenceEncoding.Position) positions = PositionEncoding(config.SentenceLength, d);
    }

    /// <summary>
    /// The position-encoding weights [J, d]: l_kj = 1 + 4 (k − (d + 1)/2)(j − (J + 1)/2) / (d J) for word j of J and
    /// dimension k of d, counted from 1 — the form in the authors' released code. The paper prints
    /// (1 − j/J) − (k/d)(1 − 2j/J), which is close to half of it (mean weight ½ instead of 1); with that scale, plain
    /// SGD at the paper's learning rate does not learn the three-hop chains of task 16 (52% error against 0.2%, in
    /// Recur and in PyTorch alike).
    /// </summary>
    public static Tensor PositionEncoding(int sentenceLength, int embeddingSize)
    {
        var weights = new float[sentenceLength * embeddingSize];
        double length = sentenceLength, size = embeddingSize;
        for (int j = 1; j <= sentenceLength; j++)
            for (int k = 1; k <= embeddingSize; k++)
                weights[(j - 1) * embeddingSize + k - 1] =
                    (float)(1 + 4 * (k - (size + 1) / 2) * (j - (length + 1) / 2) / (size * length));
        return Tensor.FromArray(weights, sentenceLength, embeddingSize);
    }

    /// <summary>
    /// Answer scores and attention for <paramref name="batch"/>. Each question sees its last
    /// <see cref="MemoryNetworkConfig.MemorySize"/> sentences. With <paramref name="timeNoise"/> (training with random
    /// noise) the memory ages are spread by that generator; otherwise sentence i back from the question has age i.
    /// </summary>
    public MemoryNetworkOutput Forward(IReadOnlyList<EncodedQuestion> batch, RandomGenerator? timeNoise = null) =>
        Forward(Pad(batch, timeNoise));

    /// <summary>
    /// The id arrays <see cref="Forward(PaddedStories)"/> reads: each story's last
    /// <see cref="MemoryNetworkConfig.MemorySize"/> sentences, most recent first, padded to the batch's longest story
    /// and to the sentence length.
    /// </summary>
    public PaddedStories Pad(IReadOnlyList<EncodedQuestion> batch, RandomGenerator? timeNoise = null)
    {
        int size = batch.Count, length = Config.SentenceLength;
        if (size == 0) throw new ArgumentException("MemoryNetwork: an empty batch.");
        int slots = Config.EmptySlots ? Config.MemorySize
            : Math.Max(1, batch.Max(q => Math.Min(q.Memories.Length, Config.MemorySize)));
        var story = new int[size * slots * length];
        var ages = new int[size * slots];
        var question = new int[size * length];
        var mask = new float[size * slots];
        Array.Fill(ages, Config.MemorySize);
        for (int b = 0; b < size; b++)
        {
            var q = batch[b];
            int count = Math.Min(q.Memories.Length, Config.MemorySize);
            var age = Ages(count, Config.RandomTimeNoise ? timeNoise : null);
            for (int i = 0; i < slots; i++)
            {
                if (i >= count)
                {
                    // an empty slot is a zero vector; masked out unless empty slots take part (a story without
                    // sentences still has one)
                    if (!Config.EmptySlots && (i > 0 || count > 0)) mask[b * slots + i] = float.NegativeInfinity;
                    continue;
                }
                // slot i holds the i-th most recent sentence
                Copy(q.Memories[q.Memories.Length - 1 - i], story.AsSpan((b * slots + i) * length, length),
                    $"sentence {q.Memories.Length - i} of question {b}");
                ages[b * slots + i] = age[i];
            }
            Copy(q.Question, question.AsSpan(b * length, length), $"the question {b}");
        }
        return new(story, ages, mask, question, size, slots);
    }

    /// <summary>Answer scores and attention for a padded batch.</summary>
    public MemoryNetworkOutput Forward(PaddedStories padded)
    {
        int size = padded.Batch, slots = padded.Slots, length = Config.SentenceLength, d = Config.EmbeddingSize;
        if (padded.Story.Length != size * slots * length || padded.Question.Length != size * length)
            throw new ArgumentException($"MemoryNetwork: the padded batch is not {size} × {slots} sentences of "
                + $"{length} words (the model's sentence length).");
        var mask = Tensor.FromArray(padded.Mask, size, slots);
        var keep = LinearStart
            ? Tensor.FromArray(padded.Mask.Select(p => p == 0 ? 1f : 0f).ToArray(), size, slots) : null;
        // memory encodings for E₀ … E_K: A^k = E_{k−1}, C^k = E_k
        var memories = new Tensor[Config.Hops + 1];
        for (int k = 0; k <= Config.Hops; k++)
        {
            var m = Functional.EmbeddingBag(embeddings[k], padded.Story, [size, slots, length], positions, 0);
            if (Config.TemporalEncoding) m = m + Functional.Embedding(temporal[k], padded.Ages, [size, slots]);
            memories[k] = m;
        }
        var u = Functional.EmbeddingBag(embeddings[0], padded.Question, [size, length], positions, 0); // [B, d]
        var attention = new Tensor[Config.Hops];
        for (int k = 1; k <= Config.Hops; k++)
        {
            var scores = memories[k - 1].MatMul(u.Reshape(size, d, 1)).Reshape(size, slots);
            var p = keep is null ? (scores + mask).Softmax(1) : scores * keep;
            attention[k - 1] = p;
            u = u + p.Reshape(size, 1, slots).MatMul(memories[k]).Reshape(size, d);
        }
        return new(u.MatMul(embeddings[Config.Hops], transposeOther: true), attention);
    }

    void Copy(int[] words, Span<int> target, string what)
    {
        if (words.Length > target.Length)
            throw new ArgumentException($"MemoryNetwork: {what} has {words.Length} words; the model reads at most "
                + $"{target.Length} (its sentence length).");
        foreach (int id in words)
            if ((uint)id >= (uint)Config.VocabularySize)
                throw new ArgumentException($"MemoryNetwork: word id {id} in {what} is outside the vocabulary of "
                    + $"{Config.VocabularySize}.");
        words.CopyTo(target);
    }

    /// <summary>
    /// Ages of <paramref name="count"/> memories, most recent first: 0, 1, 2, … — or, with <paramref name="noise"/>,
    /// a sorted random choice from 0 … count + n − 1 with n up to a tenth of count (kept inside the table).
    /// </summary>
    int[] Ages(int count, RandomGenerator? noise)
    {
        var ages = Enumerable.Range(0, count).ToArray();
        if (noise is null || count == 0) return ages;
        int blanks = noise.NextInt((count + 9) / 10 + 1);
        int range = Math.Min(count + blanks, Config.MemorySize);
        if (range == count) return ages;
        var pool = Enumerable.Range(0, range).ToArray();
        for (int i = 0; i < count; i++)
        {
            int j = i + noise.NextInt(range - i);
            (pool[i], pool[j]) = (pool[j], pool[i]);
        }
        var chosen = pool[..count];
        Array.Sort(chosen);
        return chosen;
    }

    /// <summary>Mean cross-entropy of the answers of <paramref name="batch"/>.</summary>
    public Tensor Loss(IReadOnlyList<EncodedQuestion> batch, RandomGenerator? timeNoise = null) =>
        Losses.CrossEntropy(Forward(batch, timeNoise).Logits, batch.Select(q => q.Answer).ToArray());

    Module IStoryModel.Module => this;
    JsonObject IStoryModel.ToJson() => Config.ToJson();
    Tensor IStoryModel.Logits(IReadOnlyList<EncodedQuestion> batch, RandomGenerator? noise) =>
        Forward(batch, noise).Logits;
}

/// <summary>The settings records of <c>Recur.Memory</c> in JSON, generated at compile time.</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower,
    RespectRequiredConstructorParameters = true, RespectNullableAnnotations = true)]
[JsonSerializable(typeof(MemoryNetworkConfig))]
[JsonSerializable(typeof(StoryLstmConfig))]
[JsonSerializable(typeof(NeuralTuringMachineConfig))]
[JsonSerializable(typeof(AlgorithmicTaskFile))]
[JsonSerializable(typeof(StoryTaskFile))]
sealed partial class MemoryJson : JsonSerializerContext;

using System.Text.Json.Nodes;
using Recur.Nn;
using Recur.Nn.Recurrent;
using Recur.Serialization;

namespace Recur.Memory;

/// <summary>Settings of a <see cref="StoryLstm"/>.</summary>
/// <param name="VocabularySize">Word ids, padding (0) and unknown (1) included.</param>
/// <param name="EmbeddingSize">Width of the word embedding.</param>
/// <param name="HiddenSize">LSTM units.</param>
/// <param name="MemorySize">The most recent sentences of the story it reads.</param>
public sealed record StoryLstmConfig(int VocabularySize, int EmbeddingSize = 32, int HiddenSize = 100,
    int MemorySize = 50)
{
    /// <summary>The configuration as saved in <c>config.json</c>.</summary>
    public JsonObject ToJson() => ConfigJson.Write(this, MemoryJson.Default.StoryLstmConfig, "story_lstm");

    /// <summary>Reads a configuration written by <see cref="ToJson"/>.</summary>
    /// <exception cref="InvalidDataException">Another model's, or a field missing or invalid (named).</exception>
    public static StoryLstmConfig FromJson(JsonObject json) =>
        ConfigJson.Read(json, MemoryJson.Default.StoryLstmConfig, "story_lstm");
}

/// <summary>
/// The LSTM baseline of the bAbI paper (Weston et al. 2015): the story's sentences and then the question are read as
/// one word sequence, with a separator id after each sentence, and the final hidden state scores every vocabulary word
/// as the answer. It must carry every fact it may need in its state; a memory network looks them up instead.
/// </summary>
public sealed class StoryLstm : Module, IStoryModel
{
    readonly Embedding embedding;
    readonly RecurrentLayer lstm;
    readonly Linear head;

    /// <summary>The architecture it was built with: written as config.json when saved, read first when
    /// loaded.</summary>
    public StoryLstmConfig Config { get; }

    /// <summary>Builds the model with weights drawn from <paramref name="random"/>.</summary>
    public StoryLstm(StoryLstmConfig config, RandomGenerator random)
    {
        if (config.VocabularySize < 3 || config.EmbeddingSize < 1 || config.HiddenSize < 1 || config.MemorySize < 1)
            throw new ArgumentException($"StoryLstm: invalid settings {config}.");
        Config = config;
        // one more id than the vocabulary: the end-of-sentence separator
        embedding = RegisterModule("embedding", new Embedding(config.VocabularySize + 1, config.EmbeddingSize,
            random, paddingIndex: 0));
        lstm = RegisterModule("lstm", new RecurrentLayer(new RecurrentConfig(RecurrentMode.Lstm,
            config.EmbeddingSize, config.HiddenSize), random));
        head = RegisterModule("head", new Linear(config.HiddenSize, config.VocabularySize, random));
    }

    /// <summary>The word sequence the LSTM reads for <paramref name="question"/>: the last
    /// <see cref="StoryLstmConfig.MemorySize"/> sentences, each closed by the separator, then the question.</summary>
    public int[] Sequence(EncodedQuestion question)
    {
        int separator = Config.VocabularySize;
        var words = new List<int>();
        foreach (var sentence in question.Memories.Skip(Math.Max(0, question.Memories.Length - Config.MemorySize)))
        {
            words.AddRange(sentence);
            words.Add(separator);
        }
        words.AddRange(question.Question);
        return [.. words];
    }

    /// <summary>Answer scores [B, V].</summary>
    public Tensor Forward(IReadOnlyList<EncodedQuestion> batch)
    {
        var (ids, lengths, steps) = RaggedBatch.TimeMajor(batch.Select(Sequence).ToArray(),
            Config.VocabularySize + 1, "StoryLstm");
        var output = lstm.Forward(embedding.Forward(ids, steps, batch.Count), lengths: lengths);
        return head.Forward(output.HiddenState.Select(0, 0));
    }

    /// <summary>The settings of the LSTM that reads the sequence (for the exporters).</summary>
    internal RecurrentConfig Encoder => lstm.Config;

    Module IStoryModel.Module => this;
    JsonObject IStoryModel.ToJson() => Config.ToJson();
    Tensor IStoryModel.Logits(IReadOnlyList<EncodedQuestion> batch, RandomGenerator? noise) => Forward(batch);
}

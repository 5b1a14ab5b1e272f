using System.Text.Json.Nodes;
using Recur.Autograd;
using Recur.Kernels;
using Recur.Nn;
using Recur.Nn.Recurrent;

namespace Recur.Captioning;

/// <summary>Settings of a <see cref="ShowAndTell"/> captioner.</summary>
/// <param name="VocabularySize">Word ids: 0 padding, 1 &lt;bos&gt;, 2 &lt;eos&gt;, then the words.</param>
/// <param name="Height">Image height in pixels.</param>
/// <param name="Width">Image width in pixels.</param>
/// <param name="Channels">Channels of the first convolution (the second and third have twice as many).</param>
/// <param name="HiddenSize">Units of the GRU decoder.</param>
/// <param name="EmbeddingSize">Width of the word embedding.</param>
public sealed record ShowAndTellConfig(int VocabularySize, int Height = 64, int Width = 160, int Channels = 16,
    int HiddenSize = 128, int EmbeddingSize = 32)
{
    /// <summary>Side of the feature map after three stride-2 convolutions (padding 1): ⌈x / 8⌉.</summary>
    public (int H, int W) FeatureMap => ((Height + 7) / 8, (Width + 7) / 8);

    /// <summary>Throws an <see cref="ArgumentException"/> naming the first invalid setting.</summary>
    public void Validate()
    {
        if (VocabularySize < 4 || Height < 8 || Width < 8 || Channels < 1 || HiddenSize < 1 || EmbeddingSize < 1)
            throw new ArgumentException($"ShowAndTell: invalid settings {this}.");
    }

    /// <summary>The configuration as saved in <c>config.json</c>.</summary>
    public JsonObject ToJson() => new()
    {
        ["architecture"] = "show_and_tell", ["vocabulary_size"] = VocabularySize, ["height"] = Height,
        ["width"] = Width, ["channels"] = Channels, ["hidden_size"] = HiddenSize, ["embedding_size"] = EmbeddingSize,
    };
}

/// <summary>
/// Show and Tell (Vinyals et al. 2015), the one-to-many shape: a small CNN (three 3×3 stride-2 convolutions with ReLU)
/// reads the image, a linear layer turns its feature map into the initial state of a GRU, and the GRU writes the
/// description word by word — trained with teacher forcing, decoded greedily.
/// </summary>
public sealed class ShowAndTell : Module
{
    /// <summary>Padding id.</summary>
    public const int Pad = 0;

    /// <summary>Start-of-caption id.</summary>
    public const int Bos = 1;

    /// <summary>End-of-caption id.</summary>
    public const int Eos = 2;

    readonly Conv2d conv1, conv2, conv3;
    readonly Linear bridge, head;
    readonly Embedding embedding;
    readonly RecurrentCell decoder;

    /// <summary>The settings.</summary>
    public ShowAndTellConfig Config { get; }

    /// <summary>Builds the model with weights drawn from <paramref name="random"/>.</summary>
    public ShowAndTell(ShowAndTellConfig config, RandomGenerator random)
    {
        config.Validate();
        Config = config;
        int c = config.Channels;
        conv1 = RegisterModule("encoder.0", new Conv2d(1, c, (3, 3), random, (2, 2), (1, 1)));
        conv2 = RegisterModule("encoder.1", new Conv2d(c, 2 * c, (3, 3), random, (2, 2), (1, 1)));
        conv3 = RegisterModule("encoder.2", new Conv2d(2 * c, 2 * c, (3, 3), random, (2, 2), (1, 1)));
        var (h, w) = config.FeatureMap;
        bridge = RegisterModule("bridge", new Linear(2 * c * h * w, config.HiddenSize, random));
        embedding = RegisterModule("embedding", new Embedding(config.VocabularySize, config.EmbeddingSize, random,
            paddingIndex: Pad));
        decoder = RegisterModule("decoder", new RecurrentCell(RecurrentMode.Gru, config.EmbeddingSize,
            config.HiddenSize, random));
        head = RegisterModule("head", new Linear(config.HiddenSize, config.VocabularySize, random));
    }

    /// <summary>The decoder's initial state [B, hidden] for images [B, 1, height, width].</summary>
    public Tensor Encode(Tensor images)
    {
        if (images.Rank != 4 || images.Size(1) != 1 || images.Size(2) != Config.Height
            || images.Size(3) != Config.Width)
            throw new ArgumentException($"ShowAndTell: images {ShapeUtil.Format(images.Shape)} are not "
                + $"[B, 1, {Config.Height}, {Config.Width}].");
        var features = conv3.Forward(conv2.Forward(conv1.Forward(images).Relu()).Relu()).Relu();
        return bridge.Forward(features.Reshape(images.Size(0), features.Length / images.Size(0))).Tanh();
    }

    /// <summary>Mean cross-entropy of <paramref name="captions"/> (word ids without &lt;bos&gt;/&lt;eos&gt;) given
    /// the images, with teacher forcing; the &lt;eos&gt; after each caption is scored too.</summary>
    public Tensor Loss(Tensor images, IReadOnlyList<int[]> captions)
    {
        int batch = images.Size(0);
        if (captions.Count != batch)
            throw new ArgumentException($"ShowAndTell: {captions.Count} captions for {batch} images.");
        int steps = captions.Max(c => c.Length) + 1;
        var hidden = Encode(images);
        var logits = new List<Tensor>();
        var targets = new int[steps * batch];
        for (int t = 0; t < steps; t++)
        {
            var previous = new int[batch];
            for (int b = 0; b < batch; b++)
            {
                var caption = captions[b];
                previous[b] = t == 0 ? Bos : t - 1 < caption.Length ? caption[t - 1] : Pad;
                targets[t * batch + b] = t < caption.Length ? caption[t] : t == caption.Length ? Eos : -100;
            }
            hidden = decoder.Forward(embedding.Forward(previous, batch), hidden).Hidden;
            logits.Add(head.Forward(hidden));
        }
        return Losses.CrossEntropy(Tensor.Concat(logits, 0), targets);
    }

    /// <summary>Greedy captions (word ids, without &lt;eos&gt;) of images [B, 1, height, width], at most
    /// <paramref name="maxLength"/> words each.</summary>
    public int[][] Greedy(Tensor images, int maxLength = 10)
    {
        using var _ = Evaluating();
        int batch = images.Size(0), vocabulary = Config.VocabularySize;
        var hidden = Encode(images);
        var words = Enumerable.Range(0, batch).Select(_ => new List<int>()).ToArray();
        var done = new bool[batch];
        var previous = Enumerable.Repeat(Bos, batch).ToArray();
        for (int t = 0; t < maxLength + 1 && !done.All(d => d); t++)
        {
            hidden = decoder.Forward(embedding.Forward(previous, batch), hidden).Hidden;
            var scores = head.Forward(hidden).ToArray();
            for (int b = 0; b < batch; b++)
            {
                int next = Scores.ArgMax(scores.AsSpan(b * vocabulary, vocabulary));
                previous[b] = next;
                if (done[b]) continue;
                if (next == Eos || words[b].Count == maxLength) done[b] = true;
                else words[b].Add(next);
            }
        }
        return words.Select(w => w.ToArray()).ToArray();
    }
}

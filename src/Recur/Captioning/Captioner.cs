using System.Numerics.Tensors;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using Recur.Autograd;
using Recur.Decoding;
using Recur.Nn;
using Recur.Nn.Recurrent;
using Recur.Serialization;
using Recur.Text;

namespace Recur.Captioning;

/// <summary>How a <see cref="Captioner"/> joins the image to the words.</summary>
[JsonConverter(typeof(LowerCaseEnumConverter<CaptionDecoder>))]
public enum CaptionDecoder
{
    /// <summary>Show and Tell (Vinyals et al. 2015): the image feature is the recurrent net's initial state.</summary>
    ShowTell,
    /// <summary>m-RNN (Mao et al. 2015): word embedding, recurrent state and image feature meet in a multimodal layer
    /// before the softmax, at every word.</summary>
    MRnn,
    /// <summary>Show, Attend and Tell (Xu et al. 2015): soft attention over the CNN's feature map at every word,
    /// with the doubly stochastic regulariser.</summary>
    Attention,
}

/// <summary>Settings of a <see cref="Captioner"/>.</summary>
/// <param name="Decoder">How image and words meet.</param>
/// <param name="VocabularySize">Word ids, the special tokens of <see cref="Tokenizers"/> included.</param>
/// <param name="Height">Image height in pixels.</param>
/// <param name="Width">Image width in pixels.</param>
/// <param name="Channels">Channels of the first convolution; the second and third have twice as many.</param>
/// <param name="HiddenSize">Units of the recurrent decoder.</param>
/// <param name="EmbeddingSize">Width of the word embedding.</param>
/// <param name="JointSize">Width of the multimodal layer (m-RNN) or of the attention layer (attention).</param>
/// <param name="Cell"><c>lstm</c> or <c>gru</c>.</param>
/// <param name="DoublyStochastic">λ of the attention regulariser λ·Σᵢ(1 − Σₜ αₜᵢ)², per cell of the feature map
/// (attention only; 0 turns it off).</param>
/// <param name="ExtraConvolutions">3×3 convolutions (each with ReLU, as wide as the third) on the feature map after
/// the third pooling. A cell of the three pooled layers sees 22 × 22 pixels, less than a large digit (34); each extra
/// convolution widens that by 16. Written to <c>config.json</c> only when not 0, so runs from before read and write
/// as they did.</param>
public sealed record CaptionerConfig(CaptionDecoder Decoder, int VocabularySize, int Height = 64, int Width = 168,
    int Channels = 16, int HiddenSize = 256, int EmbeddingSize = 64, int JointSize = 128, CellKind Cell = CellKind.Lstm,
    float DoublyStochastic = 1f,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)] int ExtraConvolutions = 0)
{
    /// <summary>Rows and columns of the feature map after three 2×2 poolings: ⌊x / 8⌋.</summary>
    [JsonIgnore]
    public (int H, int W) FeatureMap => (Height / 8, Width / 8);

    /// <summary>Width of a feature-map cell's vector (the third convolution's channels).</summary>
    [JsonIgnore]
    public int FeatureSize => 2 * Channels;

    /// <summary>The recurrent mode of the decoder.</summary>
    [JsonIgnore]
    public RecurrentMode Mode => Cell switch
    {
        CellKind.Lstm => RecurrentMode.Lstm,
        CellKind.Gru => RecurrentMode.Gru,
        _ => throw new ArgumentException($"Captioner: cell '{Cell.Name()}' is not lstm or gru."),
    };

    /// <summary>Throws an <see cref="ArgumentException"/> naming the invalid settings.</summary>
    public void Validate()
    {
        _ = Mode;
        if (VocabularySize <= Tokenizers.Eos || Height < 8 || Width < 8 || Channels < 1 || HiddenSize < 1
            || EmbeddingSize < 1 || JointSize < 1 || !(DoublyStochastic >= 0) || ExtraConvolutions is < 0 or > 8)
            throw new ArgumentException($"Captioner: invalid settings {this} (images at least 8 × 8, sizes "
                + "positive, the vocabulary beyond the special tokens, 0–8 extra convolutions).");
    }

    /// <summary>The configuration as saved in <c>config.json</c>.</summary>
    public JsonObject ToJson() => ConfigJson.Write(this, CaptioningJson.Default.CaptionerConfig, "captioner");

    /// <summary>Reads a configuration written by <see cref="ToJson"/>.</summary>
    /// <exception cref="InvalidDataException">Another model's, or a field missing or invalid (named).</exception>
    public static CaptionerConfig FromJson(JsonObject json) =>
        ConfigJson.Read(json, CaptioningJson.Default.CaptionerConfig, "captioner", config => config.Validate());
}

/// <summary>
/// Image-to-sequence generation, the one-to-many shape: a small CNN (three 3×3 convolutions, each with ReLU and 2×2 max
/// pooling, then <see cref="CaptionerConfig.ExtraConvolutions"/> more without pooling) reads a grey image into a
/// feature map, and a recurrent decoder writes its description word by word, joined to the image in one of three ways
/// (<see cref="CaptionDecoder"/>). Word ids follow <see cref="Tokenizers"/> (<c>&lt;bos&gt;</c> starts,
/// <c>&lt;eos&gt;</c> ends). Trained with teacher forcing or scheduled sampling; decoded greedily or with the shared
/// <see cref="BeamSearch"/>.
/// </summary>
/// <remarks>
/// The attention decoder follows Xu et al. (2015): annotation vectors are the feature map's cells, plus a learned
/// embedding of each cell's place (a CNN this small carries little absolute position, and a left-to-right
/// description needs it); α = softmax(vᵀ tanh(W a + U h)); the context is gated by β = σ(f(h)); the LSTM reads
/// [word; context]; the output is L_o(E y + L_h h + L_z z) (the "deep output"). The initial state comes from the
/// whole feature map, as Show and Tell's does, rather than from the paper's mean annotation: the paper's CNN was
/// pretrained, this one learns from nothing, and the mean of its first features tells the decoder too little to start
/// (two-digit scenes, 150 steps: 9% exact from the mean, 48% from the whole map). Its regulariser is
/// λ/L·(Σᵢ(1 − Σₜ αₜᵢ)² − (L − T)²/L), the paper's term per cell less its smallest possible value, so that it is 0 at
/// even coverage.
/// </remarks>
public sealed class Captioner : Module
{
    readonly Conv2d conv1, conv2, conv3;
    readonly Conv2d[] extra;
    readonly Embedding embedding;
    readonly RecurrentCell decoder;
    readonly Linear? bridge, bridgeCell, image, wordMix, stateMix, keys, query, energy, gate, stateOut, contextOut;
    readonly Linear head;
    readonly Tensor? places;

    /// <summary>The architecture it was built with: written as config.json when saved, read first when
    /// loaded.</summary>
    public CaptionerConfig Config { get; }

    /// <summary>Builds the model with weights drawn from <paramref name="random"/>.</summary>
    public Captioner(CaptionerConfig config, RandomGenerator random)
    {
        config.Validate();
        Config = config;
        int c = config.Channels, d = config.FeatureSize, hidden = config.HiddenSize, e = config.EmbeddingSize;
        var (h, w) = config.FeatureMap;
        int flat = d * h * w;
        bool lstm = config.Mode == RecurrentMode.Lstm;
        conv1 = RegisterModule("encoder.0", new Conv2d(1, c, (3, 3), random, padding: (1, 1)));
        conv2 = RegisterModule("encoder.1", new Conv2d(c, 2 * c, (3, 3), random, padding: (1, 1)));
        conv3 = RegisterModule("encoder.2", new Conv2d(2 * c, d, (3, 3), random, padding: (1, 1)));
        extra = new Conv2d[config.ExtraConvolutions];
        for (int i = 0; i < extra.Length; i++)
            extra[i] = RegisterModule($"encoder.{3 + i}", new Conv2d(d, d, (3, 3), random, padding: (1, 1)));
        // He initialisation keeps the scale of the ReLU features from layer to layer; PyTorch's default for
        // convolutions shrinks it about threefold per layer, which leaves the decoder a faint image to learn from
        foreach (var conv in new[] { conv1, conv2, conv3 }.Concat(extra))
        {
            int fanIn = conv.Weight.Length / conv.Weight.Size(0);
            Init.Normal(conv.Weight, random, 0, MathF.Sqrt(2f / fanIn));
            conv.Bias!.Zero();
        }
        embedding = RegisterModule("embedding", new Embedding(config.VocabularySize, e, random,
            paddingIndex: Tokenizers.Pad));
        switch (config.Decoder)
        {
            case CaptionDecoder.ShowTell:
                bridge = RegisterModule("bridge", new Linear(flat, hidden, random));
                if (lstm) bridgeCell = RegisterModule("bridge_cell", new Linear(flat, hidden, random));
                decoder = RegisterModule("decoder", new RecurrentCell(config.Mode, e, hidden, random));
                head = RegisterModule("head", new Linear(hidden, config.VocabularySize, random));
                break;
            case CaptionDecoder.MRnn:
                image = RegisterModule("image", new Linear(flat, config.JointSize, random));
                decoder = RegisterModule("decoder", new RecurrentCell(config.Mode, e, hidden, random));
                wordMix = RegisterModule("multimodal_word", new Linear(e, config.JointSize, random, bias: false));
                stateMix = RegisterModule("multimodal_state", new Linear(hidden, config.JointSize, random,
                    bias: false));
                head = RegisterModule("head", new Linear(config.JointSize, config.VocabularySize, random));
                break;
            default:
                places = RegisterParameter("places", Tensor.Zeros(h * w, 1, d));
                bridge = RegisterModule("bridge", new Linear(flat, hidden, random));
                if (lstm) bridgeCell = RegisterModule("bridge_cell", new Linear(flat, hidden, random));
                keys = RegisterModule("attention_keys", new Linear(d, config.JointSize, random));
                query = RegisterModule("attention_query", new Linear(hidden, config.JointSize, random, bias: false));
                energy = RegisterModule("attention_energy", new Linear(config.JointSize, 1, random, bias: false));
                gate = RegisterModule("attention_gate", new Linear(hidden, 1, random));
                decoder = RegisterModule("decoder", new RecurrentCell(config.Mode, e + d, hidden, random));
                stateOut = RegisterModule("output_state", new Linear(hidden, e, random));
                contextOut = RegisterModule("output_context", new Linear(d, e, random, bias: false));
                head = RegisterModule("head", new Linear(e, config.VocabularySize, random));
                break;
        }
    }

    /// <summary>What the decoder reads of a batch of images: the flattened feature map [B, features] (Show and
    /// Tell, m-RNN) or the annotation vectors [L, B, D] and their attention keys [L, B, joint].</summary>
    sealed record Encoded(Tensor? Flat, Tensor? Annotations, Tensor? Keys)
    {
        public Encoded Rows(int[] rows) => new(Flat?.IndexSelect(0, rows), Annotations?.IndexSelect(1, rows),
            Keys?.IndexSelect(1, rows));
    }

    /// <summary>The recurrent state: h, and c for an LSTM.</summary>
    sealed record State(Tensor Hidden, Tensor? Cell)
    {
        public State Rows(int[] rows) => new(Hidden.IndexSelect(0, rows), Cell?.IndexSelect(0, rows));
    }

    /// <summary>The CNN's feature map [B, D, height/8, width/8] of images [B, 1, height, width].</summary>
    public Tensor Features(Tensor images)
    {
        if (images.Rank != 4 || images.Size(1) != 1 || images.Size(2) != Config.Height
            || images.Size(3) != Config.Width)
            throw new ArgumentException($"Captioner: images {Shapes.Format(images.Shape)} are not "
                + $"[B, 1, {Config.Height}, {Config.Width}].");
        var x = images;
        // ReLU after the pooling: max(relu(·)) = relu(max(·)) and the gradients agree, on a quarter of the values
        foreach (var conv in new[] { conv1, conv2, conv3 })
            x = Functional.MaxPool2d(conv.Forward(x), (2, 2)).Relu();
        foreach (var conv in extra)
            x = conv.Forward(x).Relu();
        return x;
    }

    (Encoded, State) Encode(Tensor images)
    {
        var features = Features(images);
        int batch = images.Size(0), d = Config.FeatureSize;
        var (h, w) = Config.FeatureMap;
        if (Config.Decoder != CaptionDecoder.Attention)
        {
            var flat = features.Reshape(batch, d * h * w);
            return Config.Decoder == CaptionDecoder.ShowTell
                ? (new Encoded(flat, null, null), new State(bridge!.Forward(flat).Tanh(),
                    bridgeCell?.Forward(flat).Tanh()))
                : (new Encoded(image!.Forward(flat), null, null), new State(Tensor.Zeros(batch, Config.HiddenSize),
                    Config.Mode == RecurrentMode.Lstm ? Tensor.Zeros(batch, Config.HiddenSize) : null));
        }
        var annotations = features.Reshape(batch, d, h * w).Permute(2, 0, 1) + places!; // [L, B, D]
        var whole = features.Reshape(batch, d * h * w);
        return (new Encoded(null, annotations, keys!.Forward(annotations)),
            new State(bridge!.Forward(whole).Tanh(), bridgeCell?.Forward(whole).Tanh()));
    }

    /// <summary>One word: next-word logits [B, V], the new state, and the attention weights [L, B] (attention
    /// only).</summary>
    (Tensor Logits, State State, Tensor? Weights) Step(Encoded encoded, State state, int[] previous)
    {
        int batch = previous.Length;
        var word = embedding.Forward(previous, batch);
        switch (Config.Decoder)
        {
            case CaptionDecoder.ShowTell:
            {
                var (h, c) = decoder.Forward(word, state.Hidden, state.Cell);
                return (head.Forward(h), new State(h, c), null);
            }
            case CaptionDecoder.MRnn:
            {
                var (h, c) = decoder.Forward(word, state.Hidden, state.Cell);
                // the scaled tanh 1.7159·tanh(2x/3) of the m-RNN paper (LeCun et al. 1998)
                var multimodal = (wordMix!.Forward(word) + stateMix!.Forward(h) + encoded.Flat!) * (2f / 3f);
                return (head.Forward(multimodal.Tanh() * 1.7159f), new State(h, c), null);
            }
            default:
            {
                int cells = encoded.Annotations!.Size(0), joint = Config.JointSize;
                var scores = energy!.Forward((encoded.Keys! + query!.Forward(state.Hidden).Reshape(1, batch, joint))
                    .Tanh()).Reshape(cells, batch);
                var weights = scores.Softmax(0); // [L, B]
                var context = (encoded.Annotations * weights.Reshape(cells, batch, 1)).Sum(0)
                    * gate!.Forward(state.Hidden).Sigmoid(); // [B, D]
                var (h, c) = decoder.Forward(Tensor.Concat([word, context], 1), state.Hidden, state.Cell);
                var deep = word + stateOut!.Forward(h) + contextOut!.Forward(context);
                return (head.Forward(deep), new State(h, c), weights);
            }
        }
    }

    /// <summary>
    /// The training loss of a batch: mean cross-entropy of every word of <paramref name="captions"/> (ids without
    /// <c>&lt;bos&gt;</c>/<c>&lt;eos&gt;</c>) and of the <c>&lt;eos&gt;</c> after each, plus the attention decoder's
    /// regulariser. The decoder reads the true previous word with probability <paramref name="teacherForcing"/> (per
    /// caption and step, drawn from <paramref name="random"/>), else its own most likely one (scheduled sampling,
    /// Bengio et al. 2015).
    /// </summary>
    public Tensor Loss(Tensor images, IReadOnlyList<int[]> captions, double teacherForcing = 1,
        RandomGenerator? random = null)
    {
        int batch = images.Size(0), vocabulary = Config.VocabularySize;
        if (captions.Count != batch)
            throw new ArgumentException($"Captioner: {captions.Count} captions for {batch} images.");
        if (teacherForcing < 1 && random == null)
            throw new ArgumentException("Captioner: scheduled sampling needs a random generator.");
        foreach (var caption in captions)
            if (caption.Any(id => id <= Tokenizers.Eos || id >= vocabulary))
                throw new ArgumentException($"Captioner: caption [{string.Join(' ', caption)}] has ids outside the "
                    + $"words {Tokenizers.Eos + 1}–{vocabulary - 1}.");
        int steps = captions.Max(c => c.Length) + 1;
        var (encoded, state) = Encode(images);
        var logits = new List<Tensor>(steps);
        var targets = new int[steps * batch];
        var previous = Enumerable.Repeat(Tokenizers.Bos, batch).ToArray();
        Tensor? coverage = null;
        for (int t = 0; t < steps; t++)
        {
            for (int b = 0; b < batch; b++)
                targets[t * batch + b] = t < captions[b].Length ? captions[b][t]
                    : t == captions[b].Length ? Tokenizers.Eos : -100;
            (var scores, state, var weights) = Step(encoded, state, previous);
            logits.Add(scores);
            if (weights != null)
            {
                var live = Enumerable.Range(0, batch).Select(b => t <= captions[b].Length ? 1f : 0f).ToArray();
                var counted = weights * Tensor.FromArray(live, 1, batch);
                coverage = coverage == null ? counted : coverage + counted;
            }
            if (t + 1 == steps) break;
            float[]? guesses = null;
            if (teacherForcing < 1)
                using (GradMode.NoGrad()) guesses = scores.Detach().ToArray();
            for (int b = 0; b < batch; b++)
            {
                int gold = t < captions[b].Length ? captions[b][t] : Tokenizers.Pad;
                bool force = teacherForcing >= 1 || gold == Tokenizers.Pad || random!.NextDouble() < teacherForcing;
                previous[b] = force ? gold : Kernels.Scores.ArgMax(guesses.AsSpan(b * vocabulary, vocabulary));
            }
        }
        var loss = Losses.CrossEntropy(Tensor.Concat(logits, 0), targets);
        if (coverage == null || Config.DoublyStochastic == 0) return loss;
        int l = coverage.Size(0);
        // Σᵢ(1 − Σₜ αₜᵢ)² per caption, less its least value (L − T)²/L at even coverage, per cell, averaged
        var least = captions.Select(c => (float)Math.Pow(l - (c.Length + 1), 2) / l).ToArray();
        var penalty = ((1f - coverage) * (1f - coverage)).Sum(0) - Tensor.FromArray(least, batch);
        return loss + penalty.Mean() * (Config.DoublyStochastic / l);
    }

    /// <summary>
    /// Descriptions of images [B, 1, height, width] (word ids without <c>&lt;eos&gt;</c>, at most
    /// <paramref name="maxLength"/> words), by beam search of width <paramref name="beamWidth"/> (1: greedy), with
    /// the attention weights over the feature map's cells (row-major) at every step, the end step included
    /// (attention decoder only).
    /// </summary>
    public List<DecodedSequence> Describe(Tensor images, int beamWidth = 1, int maxLength = 20,
        double lengthPenalty = 0) => Describe([this], images, beamWidth, maxLength, lengthPenalty);

    /// <summary>
    /// Descriptions by an ensemble: each next word is scored by the mean of the models' probabilities (as an
    /// ensemble of classifiers is), and the search is <see cref="Describe(Tensor, int, int, double)"/>'s. The models
    /// must share the vocabulary and image size; they may differ otherwise (decoder, CNN width, seeds). The attention
    /// weights are the mean of those of the attention decoders among them, when they share a feature map.
    /// </summary>
    public static List<DecodedSequence> Describe(IReadOnlyList<Captioner> models, Tensor images, int beamWidth = 1,
        int maxLength = 20, double lengthPenalty = 0)
    {
        ArgumentNullException.ThrowIfNull(models);
        if (models.Count == 0) throw new ArgumentException("Captioner: an ensemble needs at least one model.");
        var first = models[0].Config;
        foreach (var model in models)
            if (model.Config.VocabularySize != first.VocabularySize || model.Config.Height != first.Height
                || model.Config.Width != first.Width)
                throw new ArgumentException($"Captioner: an ensemble's models must share vocabulary and image size; "
                    + $"one has {model.Config.VocabularySize} words and {model.Config.Height} × {model.Config.Width} "
                    + $"images, another {first.VocabularySize} and {first.Height} × {first.Width}.");
        var attending = models.Select(m => m.Config.Decoder == CaptionDecoder.Attention).ToArray();
        bool averageAttention = attending.Any(a => a) && models.Where((m, i) => attending[i])
            .Select(m => m.Config.FeatureMap).Distinct().Count() == 1;
        using var noGrad = GradMode.NoGrad();
        var evaluating = models.Select(m => m.Evaluating()).ToList();
        try
        {
            var encoded = new Encoded[models.Count];
            var initial = new State[models.Count];
            for (int k = 0; k < models.Count; k++) (encoded[k], initial[k]) = models[k].Encode(images);
            int vocabulary = first.VocabularySize;
            DecoderStep<State[]> Advance(int[] rowImages, int[] previous, State[] states)
            {
                int rows = rowImages.Length;
                var next = new State[models.Count];
                float[]? logits = null, weights = null;
                var mean = models.Count == 1 ? null : new double[rows * vocabulary];
                int attended = 0;
                for (int k = 0; k < models.Count; k++)
                {
                    var (scores, state, w) = models[k].Step(encoded[k].Rows(rowImages), states[k], previous);
                    next[k] = state;
                    logits = scores.ToArray();
                    if (mean != null)
                        for (int r = 0; r < rows; r++)
                        {
                            var logP = logits.AsSpan(r * vocabulary, vocabulary);
                            Kernels.Scores.LogSoftmax(logP);
                            for (int v = 0; v < vocabulary; v++)
                                mean[r * vocabulary + v] += Math.Exp(logP[v]) / models.Count;
                        }
                    if (w == null || !averageAttention) continue;
                    var values = w.ToArray();
                    if (weights == null) weights = values;
                    else TensorPrimitives.Add(weights, values, weights);
                    attended++;
                }
                // log of the mean probability: the search's own log-softmax leaves it as it is
                if (mean != null) logits = mean.Select(p => (float)Math.Log(p)).ToArray();
                if (weights != null && attended > 1) TensorPrimitives.Divide(weights, attended, weights);
                int cells = weights == null ? 0 : weights.Length / rows;
                return new(logits!, weights == null ? null
                    : row => Enumerable.Range(0, cells).Select(i => (double)weights[i * rows + row]).ToArray(), next);
            }
            return BeamSearch.Run(images.Size(0), initial, Advance,
                (states, rows) => states.Select(state => state.Rows(rows)).ToArray(),
                new BeamOptions(vocabulary, Tokenizers.Bos, Tokenizers.Eos, beamWidth, maxLength, lengthPenalty));
        }
        finally
        {
            foreach (var scope in evaluating) scope.Dispose();
        }
    }
}

/// <summary>The settings records of <c>Recur.Captioning</c> in JSON, generated at compile time.</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower,
    RespectRequiredConstructorParameters = true, RespectNullableAnnotations = true)]
[JsonSerializable(typeof(CaptionerConfig))]
[JsonSerializable(typeof(SceneSettings))]
sealed partial class CaptioningJson : JsonSerializerContext;

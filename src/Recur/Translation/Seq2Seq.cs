using Recur.Autograd;
using Recur.Kernels;
using Recur.Nn;
using Recur.Nn.Recurrent;
using Recur.Text;

namespace Recur.Translation;

/// <summary>
/// An encoder–decoder for translation (asynchronous many-to-many): the source runs through an embedding and a
/// (bi)LSTM/GRU encoder; a bridge maps the encoder's final states to the decoder's initial ones; the decoder (a stack
/// of cells) reads the previous target token and, with attention, the previous attentional vector (input feeding, Luong
/// et al. 2015), attends over the encoder outputs with source padding masked out, and predicts the next token from
/// tanh(W_c [context; s_t]). Target sequences start with <c>&lt;bos&gt;</c> and end with <c>&lt;eos&gt;</c>.
/// </summary>
public sealed partial class Seq2Seq : Module
{
    readonly Embedding sourceEmbedding, targetEmbedding;
    readonly RecurrentLayer encoder;
    readonly RecurrentCell[] decoder;
    readonly Linear bridgeHidden;
    readonly Linear? bridgeCell;
    readonly Linear? keys, query, energy, combine;
    readonly Linear output;
    readonly RandomGenerator dropoutRandom;

    /// <summary>The architecture it was built with: written as config.json when saved, read first when
    /// loaded.</summary>
    public Seq2SeqConfig Config { get; }

    bool InputFeeding => Config.Attention != AttentionKind.None;

    /// <summary>Builds the model with weights drawn from <paramref name="random"/>.</summary>
    public Seq2Seq(Seq2SeqConfig config, RandomGenerator random)
    {
        if (config.SourceVocabulary <= Tokenizers.Eos || config.TargetVocabulary <= Tokenizers.Eos
            || config.EmbeddingSize < 1 || config.HiddenSize < 1
            || config.NumLayers < 1 || config.Dropout is < 0 or >= 1)
            throw new ArgumentException($"Seq2Seq: invalid settings {config}.");
        Config = config;
        int width = config.Width;
        sourceEmbedding = RegisterModule("source_embedding", new Embedding(config.SourceVocabulary,
            config.EmbeddingSize,
            random, paddingIndex: Tokenizers.Pad));
        targetEmbedding = RegisterModule("target_embedding", new Embedding(config.TargetVocabulary,
            config.EmbeddingSize,
            random, paddingIndex: Tokenizers.Pad));
        encoder = RegisterModule("encoder", new RecurrentLayer(new RecurrentConfig(config.Mode, config.EmbeddingSize,
            config.HiddenSize, config.NumLayers,
            Dropout: config.NumLayers > 1 ? config.Dropout : 0, Bidirectional: config.Bidirectional,
                ForgetGateBias: config.Mode == RecurrentMode.Lstm ? 1f : null), random));
        bridgeHidden = RegisterModule("bridge_hidden", new Linear(width, width, random));
        if (config.Mode == RecurrentMode.Lstm) bridgeCell = RegisterModule("bridge_cell", new Linear(width, width,
            random));
        decoder = new RecurrentCell[config.NumLayers];
        for (int l = 0; l < config.NumLayers; l++)
        {
            int input = l == 0 ? config.EmbeddingSize + (config.Attention != AttentionKind.None ? width : 0) : width;
            decoder[l] = RegisterModule($"decoder_l{l}", new RecurrentCell(config.Mode, input, width, random));
        }
        switch (config.Attention)
        {
            case AttentionKind.General:
                keys = RegisterModule("attention_keys", new Linear(width, width, random, bias: false));
                break;
            case AttentionKind.Additive:
                keys = RegisterModule("attention_keys", new Linear(width, width, random));
                query = RegisterModule("attention_query", new Linear(width, width, random, bias: false));
                energy = RegisterModule("attention_energy", new Linear(width, 1, random, bias: false));
                break;
        }
        if (config.Attention != AttentionKind.None) combine = RegisterModule("attention_combine", new Linear(2 * width,
            width, random, bias: false));
        output = RegisterModule("output", new Linear(width, config.TargetVocabulary, random));
        dropoutRandom = RegisterRandom("dropout", random.Fork());
    }

    /// <summary>What the decoder needs from the encoder for a batch.</summary>
    sealed record Encoded(Tensor Outputs, Tensor? Keys, Tensor Penalty, int Steps, int Batch, int[] Lengths);

    /// <summary>The decoder's running state: per layer h (and c), and the last attentional vector.</summary>
    sealed record DecoderState(Tensor[] Hidden, Tensor?[] Cell, Tensor? Feed);

    Dropout Drop => new(Config.Dropout, Training, dropoutRandom);

    readonly record struct Dropout(float P, bool Training, RandomGenerator Random)
    {
        public Tensor Apply(Tensor x) => Functional.Dropout(x, P, Training, Random);
    }

    (Encoded, DecoderState) Encode(IReadOnlyList<int[]> sources)
    {
        var (ids, lengths, steps) = RaggedBatch.TimeMajor(sources, Config.SourceVocabulary, "Seq2Seq (source)");
        int batch = sources.Count;
        var penalty = new float[steps * batch];
        for (int b = 0; b < batch; b++)
            for (int t = lengths[b]; t < steps; t++) penalty[t * batch + b] = -1e9f;
        var encoded = encoder.Forward(Drop.Apply(sourceEmbedding.Forward(ids, steps, batch)), lengths: lengths);
        int directions = Config.Bidirectional ? 2 : 1;
        var hidden = new Tensor[Config.NumLayers];
        var cell = new Tensor?[Config.NumLayers];
        for (int l = 0; l < Config.NumLayers; l++)
        {
            Tensor Final(Tensor states) => directions == 1 ? states.Select(0, l) : Tensor.Concat([states.Select(0,
                2 * l), states.Select(0, 2 * l + 1)], 1);
            hidden[l] = bridgeHidden.Forward(Final(encoded.HiddenState)).Tanh();
            if (bridgeCell != null) cell[l] = bridgeCell.Forward(Final(encoded.CellState!)).Tanh();
        }
        Tensor? keyTensor = Config.Attention switch
        {
            AttentionKind.Dot => encoded.Output,
            AttentionKind.General or AttentionKind.Additive => keys!.Forward(encoded.Output),
            _ => null,
        };
        return (new Encoded(encoded.Output, keyTensor, Tensor.FromArray(penalty, steps, batch), steps, batch, lengths),
            new DecoderState(hidden, cell, InputFeeding ? Tensor.Zeros(batch, Config.Width) : null));
    }

    /// <summary>
    /// One decoder step: the vector the output layer reads [B, width] (the attentional vector, or the top state without
    /// attention), the new state and the attention weights [S, B] (null without attention).
    /// </summary>
    (Tensor Top, DecoderState State, Tensor? Weights) Step(Encoded encoded, DecoderState state, int[] previous)
    {
        int batch = previous.Length;
        var x = Drop.Apply(targetEmbedding.Forward(previous, batch));
        if (state.Feed != null) x = Tensor.Concat([x, state.Feed], 1);
        var hidden = new Tensor[decoder.Length];
        var cell = new Tensor?[decoder.Length];
        for (int l = 0; l < decoder.Length; l++)
        {
            if (l > 0) x = Drop.Apply(x);
            (hidden[l], cell[l]) = decoder[l].Forward(x, state.Hidden[l], state.Cell[l]);
            x = hidden[l];
        }
        var top = hidden[^1];
        if (Config.Attention == AttentionKind.None) return (top, new DecoderState(hidden, cell, null), null);
        int width = Config.Width, steps = encoded.Steps;
        Tensor scores = Config.Attention == AttentionKind.Additive
            ? energy!.Forward((encoded.Keys! + query!.Forward(top).Reshape(1, batch, width)).Tanh()).Reshape(steps,
                batch)
            : (encoded.Keys! * top.Reshape(1, batch, width)).Sum(2);
        var weights = (scores + encoded.Penalty).Softmax(0); // [S, B], zero on source padding
        var context = (encoded.Outputs * weights.Reshape(steps, batch, 1)).Sum(0); // [B, width]
        var attentional = combine!.Forward(Tensor.Concat([context, top], 1)).Tanh();
        return (attentional, new DecoderState(hidden, cell, attentional), weights);
    }

    /// <summary>Next-token logits [N, V] from the vectors <see cref="Step"/> returns (dropout first while
    /// training).</summary>
    Tensor Logits(Tensor top) => output.Forward(Drop.Apply(top));

    /// <summary>
    /// The training loss of a batch: mean cross-entropy of every target token and <c>&lt;eos&gt;</c>. The decoder reads
    /// the true previous token with probability <paramref name="teacherForcing"/> (per sentence and step, drawn from
    /// <paramref name="random"/>), else its own most likely previous prediction (scheduled sampling, Bengio et al.
    /// 2015).
    /// </summary>
    public Tensor Loss(IReadOnlyList<int[]> sources, IReadOnlyList<int[]> targets, double teacherForcing = 1,
        RandomGenerator? random = null)
    {
        if (sources.Count != targets.Count) throw new ArgumentException(
            $"Seq2Seq: {sources.Count} sources but {targets.Count} targets.");
        var (encoded, state) = Encode(sources);
        int batch = sources.Count, steps = targets.Max(t => t.Length) + 1;
        var gold = new int[steps * batch];
        var mask = new float[steps * batch];
        for (int b = 0; b < batch; b++)
        {
            for (int t = 0; t < targets[b].Length; t++)
            {
                int id = targets[b][t];
                if ((uint)id >= (uint)Config.TargetVocabulary) throw new ArgumentException(
                    $"Seq2Seq: target token id {id} is outside the vocabulary of {Config.TargetVocabulary}.");
                gold[t * batch + b] = id;
                mask[t * batch + b] = 1;
            }
            gold[targets[b].Length * batch + b] = Tokenizers.Eos;
            mask[targets[b].Length * batch + b] = 1;
        }
        var previous = Enumerable.Repeat(Tokenizers.Bos, batch).ToArray();
        var tops = new List<Tensor>(steps);
        for (int t = 0; t < steps; t++)
        {
            (var top, state, _) = Step(encoded, state, previous);
            tops.Add(top);
            if (t + 1 == steps) break;
            float[]? predictions = null;
            if (teacherForcing < 1)
                using (GradMode.NoGrad()) predictions
                    = output.Forward(top.Detach()).ToArray(); // the model's own guess, without dropout
            for (int b = 0; b < batch; b++)
            {
                bool force = teacherForcing >= 1
                    || (random
                    ?? throw new ArgumentException("Seq2Seq: scheduled sampling needs a random generator.")).NextDouble(
                    ) < teacherForcing;
                previous[b] = force ? gold[t * batch + b]
                    : Scores.ArgMax(predictions.AsSpan(b * Config.TargetVocabulary, Config.TargetVocabulary));
            }
        }
        // One output layer and loss over every step: the [V, width] weight is packed once, and no [steps·B, V] logits
        // are kept (in float).
        return output.CrossEntropy(Drop.Apply(Tensor.Concat(tops, 0)), gold, mask: mask);
    }
}

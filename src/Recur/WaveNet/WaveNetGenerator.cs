using System.Numerics.Tensors;

namespace Recur.WaveNet;

/// <summary>
/// Sample-by-sample generation from a <see cref="WaveNetModel"/> with the fast algorithm of Paine et al. (2016): each
/// dilated layer keeps a queue of its last <c>dilation</c> inputs, so a new sample costs one matrix–vector product per
/// layer instead of a forward pass over the whole receptive field. <see cref="GenerateNaive"/> recomputes that forward
/// pass for every sample — the slow reference the fast path is tested against (same seed, same samples).
/// </summary>
public sealed class WaveNetGenerator
{
    readonly WaveNetConfig config;
    readonly float[] embedding, head1, head1Bias, head2, head2Bias;
    // every layer's skip convolution side by side [S, layers·D], and their biases summed
    readonly float[] skip, skipBias;
    readonly Layer[] layers;

    /// <summary>A layer's weights for one step: the gate's two taps side by side [2D, 2R] (past input, current input),
    /// with the conditioning folded into its bias.</summary>
    sealed record Layer(int Dilation, float[] Gate, float[] Bias, float[] Residual, float[] ResidualBias);

    /// <summary>
    /// A generator for <paramref name="model"/> (its weights are copied now), conditioned on
    /// <paramref name="condition"/> when the model has global conditioning. Models with local conditioning generate
    /// through <see cref="GenerateNaive"/> only.
    /// </summary>
    public WaveNetGenerator(WaveNetModel model, int? condition = null)
    {
        config = model.Config;
        if ((config.GlobalConditions > 0) != condition.HasValue)
            throw new ArgumentException(config.GlobalConditions > 0
                ? $"WaveNetGenerator: the model is conditioned on a label 0..{config.GlobalConditions - 1}; give one."
                : "WaveNetGenerator: the model has no global conditioning.");
        if (condition is int c && (uint)c >= (uint)config.GlobalConditions)
            throw new ArgumentException($"WaveNetGenerator: label {c} is outside 0..{config.GlobalConditions - 1}.");
        if (config.LocalChannels > 0)
            throw new ArgumentException("WaveNetGenerator: fast generation of a locally conditioned model is not "
                + "supported; use GenerateNaive.");
        embedding = model.Input.Weight.ToArray();
        int r = config.ResidualChannels, d = config.DilationChannels, s = config.SkipChannels;
        layers = new Layer[model.Gates.Length];
        skip = new float[s * layers.Length * d];
        skipBias = new float[s];
        for (int l = 0; l < layers.Length; l++)
        {
            var w = model.Gates[l].Weight.ToArray(); // [2D, R, 2]: tap 0 reads t − dilation, tap 1 reads t
            var gate = new float[2 * d * 2 * r];
            for (int o = 0; o < 2 * d; o++)
                for (int i = 0; i < r; i++)
                {
                    gate[o * 2 * r + i] = w[(o * r + i) * 2];
                    gate[o * 2 * r + r + i] = w[(o * r + i) * 2 + 1];
                }
            var bias = model.Gates[l].Bias!.ToArray();
            if (condition is int label && model.Globals is { } globals)
            {
                var g = globals[l].Weight.ToArray();
                for (int o = 0; o < 2 * d; o++) bias[o] += g[label * 2 * d + o];
            }
            layers[l] = new(config.Dilation(l), gate, bias, model.Residuals[l].Weight.ToArray(),
                model.Residuals[l].Bias!.ToArray());
            var skipWeight = model.Skips[l].Weight.ToArray(); // [S, D]
            var skipLayerBias = model.Skips[l].Bias!.ToArray();
            for (int o = 0; o < s; o++)
            {
                skipWeight.AsSpan(o * d, d).CopyTo(skip.AsSpan((o * layers.Length + l) * d, d));
                skipBias[o] += skipLayerBias[o];
            }
        }
        var (first, second) = model.Head;
        head1 = first.Weight.ToArray();
        head1Bias = first.Bias!.ToArray();
        head2 = second.Weight.ToArray();
        head2Bias = second.Bias!.ToArray();
    }

    /// <summary>
    /// Generates <paramref name="count"/> codes after <paramref name="prime"/> (default: one code of silence), sampling
    /// each from softmax(logits / <paramref name="temperature"/>) with <paramref name="random"/> (temperature 0: the
    /// most likely code). Returns the generated codes only.
    /// </summary>
    public int[] Generate(int count, RandomGenerator random, float temperature = 1f, int[]? prime = null)
    {
        CheckArguments(count, temperature, ref prime);
        int r = config.ResidualChannels, d = config.DilationChannels, s = config.SkipChannels;
        var queues = layers.Select(l => new float[l.Dilation * r]).ToArray();
        var x = new float[r];
        var pair = new float[2 * r]; // [input at t − dilation, input at t]
        var a = new float[2 * d];
        var gated = new float[layers.Length * d]; // every layer's gated output, for the one skip product
        var skipSum = new float[s];
        var hidden = new float[s];
        var logits = new float[config.Levels];
        var output = new int[count];
        int code = prime![0];
        for (long t = 0; t < prime.Length - 1 + count; t++)
        {
            embedding.AsSpan(code * r, r).CopyTo(x);
            for (int l = 0; l < layers.Length; l++)
            {
                var layer = layers[l];
                var slot = queues[l].AsSpan((int)(t % layer.Dilation) * r, r);
                slot.CopyTo(pair);
                x.CopyTo(pair, r);
                x.CopyTo(slot); // this step's input is the past of the step `dilation` later
                layer.Bias.CopyTo(a, 0);
                MultiplyAdd(layer.Gate, pair, a);
                var z = gated.AsSpan(l * d, d);
                // the gated unit as in training: tanh of the filter half times σ of the gate half
                Kernels.GatedUnits.Forward(a.AsSpan(0, d), a.AsSpan(d, d), z, a.AsSpan(d, d), z);
                if (l < layers.Length - 1)
                {
                    TensorPrimitives.Add(x, layer.ResidualBias, x);
                    MultiplyAdd(layer.Residual, z, x);
                }
            }
            if (t < prime.Length - 1)
            {
                code = prime[t + 1];
                continue;
            }
            skipBias.CopyTo(skipSum, 0);
            MultiplyAdd(skip, gated, skipSum);
            for (int i = 0; i < s; i++) skipSum[i] = Math.Max(skipSum[i], 0f);
            head1Bias.CopyTo(hidden, 0);
            MultiplyAdd(head1, skipSum, hidden);
            for (int i = 0; i < s; i++) hidden[i] = Math.Max(hidden[i], 0f);
            head2Bias.CopyTo(logits, 0);
            MultiplyAdd(head2, hidden, logits);
            code = Sample(logits, temperature, random);
            output[t - (prime.Length - 1)] = code;
        }
        return output;
    }

    /// <summary>
    /// The same as <see cref="Generate"/>, by running the whole model over the last receptive field of codes for every
    /// new sample (the reference for the fast algorithm; also the path for locally conditioned models, whose
    /// <paramref name="local"/> sequence [localChannels, prime + count − 1] must cover every step).
    /// </summary>
    public static int[] GenerateNaive(WaveNetModel model, int count, RandomGenerator random, float temperature = 1f,
        int[]? prime = null, int? condition = null, float[,]? local = null)
    {
        var config = model.Config;
        CheckArguments(config, count, temperature, ref prime);
        var codes = new List<int>(prime!);
        var output = new int[count];
        using var evaluation = model.Evaluating();
        for (int n = 0; n < count; n++)
        {
            int end = codes.Count, start = Math.Max(0, end - config.ReceptiveField);
            var window = codes.GetRange(start, end - start).ToArray();
            Tensor? localWindow = null;
            if (config.LocalChannels > 0)
            {
                if (local is null || local.GetLength(0) != config.LocalChannels || local.GetLength(1) < end)
                    throw new ArgumentException($"WaveNet: the local sequence must be [{config.LocalChannels}, "
                        + $"≥ {end}].");
                var values = new float[config.LocalChannels * window.Length];
                for (int c = 0; c < config.LocalChannels; c++)
                    for (int t = 0; t < window.Length; t++) values[c * window.Length + t] = local[c, start + t];
                localWindow = Tensor.FromArray(values, 1, config.LocalChannels, window.Length);
            }
            var logits = model.Forward([window], condition is int c2 ? [c2] : null, localWindow); // [1, L, T]
            var all = logits.ToArray();
            var last = new float[config.Levels];
            for (int k = 0; k < config.Levels; k++) last[k] = all[k * window.Length + window.Length - 1];
            output[n] = Sample(last, temperature, random);
            codes.Add(output[n]);
        }
        return output;
    }

    void CheckArguments(int count, float temperature, ref int[]? prime) =>
        CheckArguments(config, count, temperature, ref prime);

    static void CheckArguments(WaveNetConfig config, int count, float temperature, ref int[]? prime)
    {
        if (count < 0) throw new ArgumentException($"WaveNet: cannot generate {count} samples.");
        if (!(temperature >= 0) || float.IsInfinity(temperature))
            throw new ArgumentException($"WaveNet: temperature must be zero or positive, got {temperature}.");
        prime ??= [MuLaw.Encode(0f, config.Levels)];
        if (prime.Length == 0) throw new ArgumentException("WaveNet: the prime needs at least one code.");
        foreach (int c in prime)
            if ((uint)c >= (uint)config.Levels) throw new ArgumentException(
                $"WaveNet: prime code {c} is outside 0..{config.Levels - 1}.");
    }

    /// <summary>y += W·x for W [y.Length, x.Length] row-major.</summary>
    static void MultiplyAdd(float[] weight, ReadOnlySpan<float> x, Span<float> y)
    {
        int n = x.Length;
        for (int o = 0; o < y.Length; o++) y[o] += TensorPrimitives.Dot(weight.AsSpan(o * n, n), x);
    }

    /// <summary>A code drawn from softmax(logits / temperature) by the inverse CDF of one uniform draw.</summary>
    static int Sample(float[] logits, float temperature, RandomGenerator random)
    {
        int best = 0;
        for (int k = 1; k < logits.Length; k++) if (logits[k] > logits[best]) best = k;
        if (temperature == 0) return best;
        double total = 0;
        var weights = new double[logits.Length];
        for (int k = 0; k < logits.Length; k++) total += weights[k] = Math.Exp((
            logits[k] - logits[best]) / temperature);
        double u = random.NextDouble() * total, sum = 0;
        for (int k = 0; k < logits.Length; k++)
            if ((sum += weights[k]) > u) return k;
        return logits.Length - 1;
    }
}

using System.Numerics.Tensors;
using Recur.Kernels;

namespace Recur.Energy;

/// <summary>Settings of RBM training.</summary>
/// <param name="GibbsSteps">k of CD-k (or of each persistent-chain update).</param>
/// <param name="Persistent">Persistent contrastive divergence (Tieleman 2008): negative chains continue across updates
/// instead of restarting at the data.</param>
/// <param name="LearningRate">Step size.</param>
/// <param name="Momentum">Momentum of the updates (Hinton 2010 suggests 0.5 early, then 0.9).</param>
/// <param name="WeightDecay">L2 penalty on W.</param>
/// <param name="BatchSize">Examples per update.</param>
public sealed record RbmTrainingOptions(int GibbsSteps = 1, bool Persistent = false, float LearningRate = 0.05f,
    float Momentum = 0.5f, float WeightDecay = 2e-4f, int BatchSize = 20);

/// <summary>The positive- and negative-phase statistics of one mini-batch: the CD/PCD estimate of ∂ mean log p(v) /
/// ∂θ.</summary>
/// <param name="Weights">∂/∂W [V, H] = ⟨v hᵀ⟩_data − ⟨v hᵀ⟩_model.</param>
/// <param name="VisibleBias">∂/∂a = ⟨v⟩_data − ⟨v⟩_model.</param>
/// <param name="HiddenBias">∂/∂b = ⟨h⟩_data − ⟨h⟩_model.</param>
public sealed record RbmGradient(float[] Weights, float[] VisibleBias, float[] HiddenBias);

/// <summary>
/// Trains a <see cref="RestrictedBoltzmannMachine"/> by contrastive divergence (CD-k, Hinton 2002) or persistent CD,
/// with momentum and weight decay. Hidden probabilities, not samples, are used in the statistics (Hinton 2010).
/// Deterministic for a given seed.
/// </summary>
public sealed class RbmTrainer
{
    readonly RestrictedBoltzmannMachine rbm;
    readonly RandomGenerator random;
    readonly float[] velocityW, velocityA, velocityB;
    float[]? chains;

    /// <summary>Learning rate, momentum, weight decay and CD-k steps; may be changed between epochs.</summary>
    public RbmTrainingOptions Options { get; set; }

    /// <summary>Creates a trainer; <paramref name="random"/> drives shuffling and every Gibbs sample.</summary>
    public RbmTrainer(RestrictedBoltzmannMachine rbm, RbmTrainingOptions options, RandomGenerator random)
    {
        if (options.GibbsSteps < 1 || options.BatchSize < 1 || !(options.LearningRate > 0))
            throw new ArgumentException(
                $"RbmTrainer: GibbsSteps, BatchSize and LearningRate must be positive, got {options}.");
        (this.rbm, Options, this.random) = (rbm, options, random);
        velocityW = new float[rbm.Weights.Length];
        velocityA = new float[rbm.Visible];
        velocityB = new float[rbm.Hidden];
    }

    /// <summary>
    /// The CD-k (or PCD-k) gradient estimate for one mini-batch [B, V]. The negative phase starts from the data
    /// (CD) or from the persistent chains (PCD, one chain per batch row, started at the first batch seen).
    /// </summary>
    public RbmGradient Gradient(ReadOnlySpan<float> batch)
    {
        int b = rbm.CheckBatch(batch, rbm.Visible, "batch");
        int v = rbm.Visible, h = rbm.Hidden;
        var ph0 = new float[b * h];
        rbm.HiddenProbabilities(batch, ph0);
        float[] negative;
        if (Options.Persistent)
        {
            if (chains is null || chains.Length != b * v) chains = batch.ToArray();
            negative = chains;
        }
        else negative = batch.ToArray();
        var hs = new float[b * h];
        var pv = new float[b * v];
        var phk = new float[b * h];
        if (!Options.Persistent) RestrictedBoltzmannMachine.SampleBernoulli(ph0, hs,
            random); // CD starts from h0 sampled at the data
        for (int step = 0; step < Options.GibbsSteps; step++)
        {
            if (Options.Persistent || step > 0)
            {
                rbm.HiddenProbabilities(negative, phk);
                RestrictedBoltzmannMachine.SampleBernoulli(phk, hs, random);
            }
            rbm.VisibleMeans(hs, pv);
            rbm.SampleVisible(pv, negative, random);
        }
        rbm.HiddenProbabilities(negative, phk);

        var gw = new float[v * h];
        float scale = 1f / b;
        // ⟨v hᵀ⟩: Vᵀ·P over the batch, positive minus negative
        Gemm.Multiply(true, false, v, h, b, batch, v, ph0, h, gw, h);
        var negativeW = new float[v * h];
        Gemm.Multiply(true, false, v, h, b, negative, v, phk, h, negativeW, h);
        TensorPrimitives.Subtract(gw, negativeW, gw);
        TensorPrimitives.Multiply(gw, scale, gw);
        var ga = new float[v];
        var gb = new float[h];
        for (int r = 0; r < b; r++)
        {
            for (int i = 0; i < v; i++) ga[i] += (batch[r * v + i] - negative[r * v + i]) * scale;
            for (int j = 0; j < h; j++) gb[j] += (ph0[r * h + j] - phk[r * h + j]) * scale;
        }
        return new(gw, ga, gb);
    }

    /// <summary>One update from a mini-batch: velocity = momentum·velocity + lr·(gradient − decay·W); θ +=
    /// velocity.</summary>
    public void Step(ReadOnlySpan<float> batch)
    {
        var g = Gradient(batch);
        float lr = Options.LearningRate, momentum = Options.Momentum, decay = Options.WeightDecay;
        for (int i = 0; i < velocityW.Length; i++)
        {
            velocityW[i] = momentum * velocityW[i] + lr * (g.Weights[i] - decay * rbm.Weights[i]);
            rbm.Weights[i] += velocityW[i];
        }
        for (int i = 0; i < velocityA.Length; i++)
        {
            velocityA[i] = momentum * velocityA[i]
            + lr * g.VisibleBias[i]; rbm.VisibleBias[i] += velocityA[i];
        }
        for (int j = 0; j < velocityB.Length; j++)
        {
            velocityB[j] = momentum * velocityB[j]
            + lr * g.HiddenBias[j]; rbm.HiddenBias[j] += velocityB[j];
        }
    }

    /// <summary>One pass over <paramref name="data"/> [N, V] in a shuffled order; returns the mean reconstruction error
    /// of the batches before their updates.</summary>
    public double TrainEpoch(ReadOnlySpan<float> data)
    {
        int n = rbm.CheckBatch(data, rbm.Visible, "data"), v = rbm.Visible, size = Options.BatchSize;
        if (n < size) throw new ArgumentException($"RbmTrainer: {n} examples are fewer than one batch of {size}.");
        var order = Enumerable.Range(0, n).ToArray();
        random.Shuffle<int>(order);
        var batch = new float[size * v];
        double error = 0;
        for (int start = 0; start
            + size <= n; start += size) // a last partial batch is dropped: PCD keeps one chain per row
        {
            for (int r = 0; r < size; r++) data.Slice(order[start + r] * v, v).CopyTo(batch.AsSpan(r * v, v));
            error += rbm.ReconstructionError(batch) * size;
            Step(batch);
        }
        return error / (n / size * size);
    }
}

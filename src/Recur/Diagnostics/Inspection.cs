using Recur.Nn.Recurrent;

namespace Recur.Diagnostics;

/// <summary>How often one gate sits near the ends of its range over a run (Karpathy, Johnson &amp; Fei-Fei
/// 2015).</summary>
/// <param name="Gate">Gate name (input, forget, cell, output; reset, update, new; hidden).</param>
/// <param name="Mean">Mean activation.</param>
/// <param name="LeftSaturated">Fraction of activations below 0.1 (σ gates) or −0.9 (tanh and ReLU units: at or below
/// 0).</param>
/// <param name="RightSaturated">Fraction of activations above 0.9.</param>
public sealed record GateStatistics(string Gate, double Mean, double LeftSaturated, double RightSaturated);

/// <summary>Read-outs of what a recurrent model does inside: gate statistics and input saliency.</summary>
public static class Inspection
{
    /// <summary>
    /// Gradient flow through time: runs <paramref name="loss"/> (a forward pass that returns a tape scalar) and its
    /// backward under a <see cref="RecurrentProbe"/>, and returns one record per fused recurrent pass with
    /// ‖∂L/∂h_t‖ for every t. The backward also accumulates parameter gradients, as any backward does; clear them
    /// before an optimizer step that should not see them.
    /// </summary>
    public static IReadOnlyList<ProbeRecord> GradientFlow(Func<Tensor> loss, bool recordGates = false)
    {
        using var probe = RecurrentProbe.Start(recordGates);
        var value = loss();
        if (value.Length != 1 || !value.RequiresGrad)
            throw new ArgumentException(
                $"GradientFlow: the loss must be a scalar on the tape, got shape {Shapes.Format(value.Shape)}.");
        value.Backward();
        if (probe.Records.Count == 0) throw new InvalidOperationException(
            "GradientFlow: the loss ran no fused recurrent layer.");
        return probe.Records;
    }

    /// <summary>
    /// Saturation statistics of every gate in <paramref name="record"/> over all steps, rows and units that ran
    /// (steps past a sequence's length are skipped). A σ gate is left-saturated below 0.1 and right-saturated above
    /// 0.9; tanh gates use −0.9 and 0.9; ReLU units count exact zeros as left-saturated.
    /// </summary>
    public static IReadOnlyList<GateStatistics> GateStatistics(ProbeRecord record, int[]? lengths = null)
    {
        var values = record.GateValues
            ?? throw new InvalidOperationException(
            "GateStatistics: the probe did not record gates (RecurrentProbe.Start(recordGates: true)).");
        var names = record.GateNames;
        var result = new List<GateStatistics>();
        for (int gate = 0; gate < names.Count; gate++)
        {
            bool tanh = record.Mode is RecurrentMode.RnnTanh || (record.Mode == RecurrentMode.Lstm && gate == 2)
                || (record.Mode == RecurrentMode.Gru && gate == 2);
            bool relu = record.Mode == RecurrentMode.RnnRelu;
            double sum = 0;
            long left = 0, right = 0, count = 0;
            for (int t = 0; t < record.Steps; t++)
                for (int b = 0; b < record.Batch; b++)
                {
                    if (lengths != null && t >= lengths[b]) continue;
                    int start = ((t * record.Batch + b) * names.Count + gate) * record.HiddenSize;
                    for (int j = 0; j < record.HiddenSize; j++)
                    {
                        float v = values[start + j];
                        sum += v;
                        if (relu ? v <= 0f : v < (tanh ? -0.9f : 0.1f)) left++;
                        if (v > 0.9f) right++;
                        count++;
                    }
                }
            result.Add(new(names[gate], count == 0 ? 0 : sum / count, count == 0 ? 0 : (double)left / count,
                count == 0 ? 0 : (double)right / count));
        }
        return result;
    }

    /// <summary>
    /// Saliency of each input step: for every batch row b and time t, ‖∂y_b/∂x_{t,b}‖, the gradient norm of the
    /// scalar <paramref name="score"/> (one value per row, e.g. the prediction or the chosen class's logit) with
    /// respect to the input vector at t. <paramref name="input"/> is [T, B, in]; the result is [B][T].
    /// </summary>
    public static double[][] Saliency(Func<Tensor, Tensor> score, Tensor input) => Saliency(score, input, out _);

    /// <summary>As <see cref="Saliency(Func{Tensor, Tensor}, Tensor)"/>, also returning the scores (one per
    /// row).</summary>
    public static double[][] Saliency(Func<Tensor, Tensor> score, Tensor input, out float[] scores)
    {
        if (input.Rank != 3) throw new ArgumentException(
            $"Saliency: input must be [T, B, in], got {Shapes.Format(input.Shape)}.");
        int steps = input.Size(0), batch = input.Size(1), features = input.Size(2);
        var x = input.Detach().Clone();
        x.RequiresGrad = true;
        var y = score(x);
        if (y.Length != batch)
            throw new ArgumentException(
                $"Saliency: the score must have one value per batch row ({batch}), got {Shapes.Format(y.Shape)}.");
        scores = y.ToArray();
        // rows are independent, so the gradient of the sum gives each row's gradient with respect to its own input
        y.Sum().Backward();
        var grad = x.Grad!.Span;
        var result = new double[batch][];
        for (int b = 0; b < batch; b++)
        {
            result[b] = new double[steps];
            for (int t = 0; t < steps; t++)
                result[b][t] = System.Numerics.Tensors.TensorPrimitives.Norm(grad.Slice((t * batch + b) * features,
                    features));
        }
        return result;
    }
}

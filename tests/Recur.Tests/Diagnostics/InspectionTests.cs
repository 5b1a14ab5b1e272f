using Recur.Autograd;
using Recur.Diagnostics;
using Recur.Language;
using Recur.Nn;
using Recur.Nn.Recurrent;

namespace Recur.Tests.Diagnostics;

public class InspectionTests
{
    public static TheoryData<RecurrentMode> Modes() => new() { RecurrentMode.RnnTanh, RecurrentMode.RnnRelu,
        RecurrentMode.Lstm, RecurrentMode.Gru };

    /// <summary>
    /// The probe's ‖∂L/∂h_t‖ equals the gradient found by cutting the sequence at t: L = ⟨g_t, h_t⟩ + (the loss of
    /// the rest of the sequence run from h_t), differentiated with respect to h_t as a leaf.
    /// </summary>
    [Theory]
    [MemberData(nameof(Modes))]
    public void GradientNormsEqualTheGradientAtEachCut(RecurrentMode mode)
    {
        const int steps = 6, batch = 3, hidden = 4;
        var random = new RandomGenerator(5);
        var layer = new RecurrentLayer(new RecurrentConfig(mode, 2, hidden), random);
        var x = Tensor.RandomNormal(random, [steps, batch, 2]);
        var g = Tensor.RandomNormal(random, [steps, batch, hidden]);
        var records = Inspection.GradientFlow(() => (layer.Forward(x).Output * g).Sum());
        Assert.Single(records);
        var record = records[0];
        Assert.True(record.HasGradients);
        Assert.Equal("l0", record.Label);

        RecurrentOutput prefix;
        for (int t = 0; t < steps; t++)
        {
            using (GradMode.NoGrad()) prefix = layer.Forward(x.Slice(0, 0, t + 1).Clone());
            var h = prefix.HiddenState.Clone();
            h.RequiresGrad = true;
            var loss = (h.Select(0, 0) * g.Select(0, t)).Sum();
            if (t + 1 < steps)
                loss = loss + (layer.Forward(x.Slice(0, t + 1, steps - t - 1).Clone(), h,
                    prefix.CellState?.Clone()).Output * g.Slice(0, t + 1, steps - t - 1)).Sum();
            loss.Backward();
            double expected = 0;
            for (int b = 0; b < batch; b++)
                expected += System.Numerics.Tensors.TensorPrimitives.Norm(h.Grad!.Span.Slice(b * hidden, hidden));
            expected /= batch;
            Assert.Equal(expected, record.GradientNorms[t], 1e-4 * Math.Max(1, expected));
        }
    }

    [Fact]
    public void RecordsFollowLayersAndDirectionsAndSkipRowsPastTheirLength()
    {
        var random = new RandomGenerator(2);
        var layer = new RecurrentLayer(new RecurrentConfig(RecurrentMode.Gru, 3, 5, NumLayers: 2, Bidirectional: true),
            random);
        var x = Tensor.RandomNormal(random, [7, 2, 3]);
        var records = Inspection.GradientFlow(() => layer.Forward(x, lengths: [7, 4]).Output.Sum());
        Assert.Equal(["l0", "l0_reverse", "l1", "l1_reverse"], records.Select(r => r.Label));
        Assert.All(records, r => Assert.All(r.GradientNorms, v => Assert.True(v > 0)));
    }

    [Fact]
    public void NoRecordsOutsideAProbeAndNoneAfterItCloses()
    {
        var random = new RandomGenerator(3);
        var layer = new RecurrentLayer(new RecurrentConfig(RecurrentMode.Lstm, 2, 3), random);
        var x = Tensor.RandomNormal(random, [4, 1, 2]);
        var probe = RecurrentProbe.Start();
        layer.Forward(x);
        probe.Dispose();
        layer.Forward(x);
        Assert.Single(probe.Records);
    }

    /// <summary>The recorded LSTM gates rebuild the layer's outputs through c_t = f c_{t−1} + i g, h_t = o tanh
    /// c_t.</summary>
    [Fact]
    public void RecordedLstmGatesRebuildTheOutputs()
    {
        const int steps = 5, batch = 2, hidden = 3;
        var random = new RandomGenerator(4);
        var layer = new RecurrentLayer(new RecurrentConfig(RecurrentMode.Lstm, 2, hidden), random);
        var x = Tensor.RandomNormal(random, [steps, batch, 2]);
        using var probe = RecurrentProbe.Start(recordGates: true);
        Tensor output;
        using (GradMode.NoGrad()) output = layer.Forward(x).Output;
        var record = probe.Records[0];
        Assert.Equal(["input", "forget", "cell", "output"], record.GateNames);
        for (int b = 0; b < batch; b++)
            for (int u = 0; u < hidden; u++)
            {
                double c = 0;
                for (int t = 0; t < steps; t++)
                {
                    c = record.Gate(t, b, 1, u) * c + record.Gate(t, b, 0, u) * record.Gate(t, b, 2, u);
                    double h = record.Gate(t, b, 3, u) * Math.Tanh(c);
                    Assert.Equal(h, output.Span[(t * batch + b) * hidden + u], 1e-5);
                }
            }
    }

    [Fact]
    public void GateStatisticsCountSaturation()
    {
        var random = new RandomGenerator(6);
        // a forget bias of 20 pins the forget gate at 1
        var layer = new RecurrentLayer(new RecurrentConfig(RecurrentMode.Lstm, 2, 4, ForgetGateBias: 20f), random);
        var x = Tensor.RandomNormal(random, [8, 3, 2]);
        using var probe = RecurrentProbe.Start(recordGates: true);
        using (GradMode.NoGrad()) layer.Forward(x);
        var stats = Inspection.GateStatistics(probe.Records[0]);
        var forget = stats.Single(s => s.Gate == "forget");
        Assert.Equal(1.0, forget.RightSaturated);
        Assert.Equal(0.0, forget.LeftSaturated);
        Assert.True(forget.Mean > 0.999);
        Assert.True(stats.Single(s => s.Gate == "input").RightSaturated < 1.0);
        Assert.Throws<InvalidOperationException>(() =>
        {
            using var bare = RecurrentProbe.Start();
            using (GradMode.NoGrad()) layer.Forward(x);
            Inspection.GateStatistics(bare.Records[0]);
        });
    }

    /// <summary>Saliency is the norm of ∂score/∂x_t, checked against central differences.</summary>
    [Fact]
    public void SaliencyMatchesFiniteDifferences()
    {
        var random = new RandomGenerator(8);
        var model = new SequenceModel(new SequenceModelConfig(CellKind.Gru, 3, 5, 1), random);
        var x = Tensor.RandomNormal(random, [6, 2, 3]);
        Tensor Score(Tensor input) => model.Forward(input).Reshape(2);
        var saliency = Inspection.Saliency(Score, x);
        const float epsilon = 1e-2f;
        for (int b = 0; b < 2; b++)
            for (int t = 0; t < 6; t++)
            {
                double squares = 0;
                for (int f = 0; f < 3; f++)
                {
                    int at = (t * 2 + b) * 3 + f;
                    double Shifted(float delta)
                    {
                        var copy = x.Clone();
                        copy.Span[at] += delta;
                        using (GradMode.NoGrad()) return Score(copy).Span[b];
                    }
                    double derivative = (Shifted(epsilon) - Shifted(-epsilon)) / (2 * epsilon);
                    squares += derivative * derivative;
                }
                Assert.Equal(Math.Sqrt(squares), saliency[b][t], 2e-3);
            }
    }

    /// <summary>
    /// A language model's connectivity is causal (zero for later tokens) and row t equals the saliency of the
    /// prediction after token t computed alone on the first t + 1 tokens.
    /// </summary>
    [Fact]
    public void ConnectivityIsCausalAndEqualsEachPredictionsSaliency()
    {
        var model = new LanguageModel(new LanguageModelConfig(11, 4, 6, 2), new RandomGenerator(21));
        int[] ids = [4, 7, 2, 9, 9, 5, 10];
        var (map, predicted) = LanguageModelInspection.Connectivity(model, ids);
        Assert.True(model.Training, "the model is put back in training mode");
        for (int t = 0; t < ids.Length; t++)
        {
            var prefix = ids.AsSpan(0, t + 1).ToArray();
            int best;
            using (GradMode.NoGrad())
            {
                model.Eval();
                var logits = model.Forward(prefix, t + 1, 1).Logits.ToArray().AsSpan(t * 11, 11);
                best = 0;
                for (int v = 1; v < 11; v++) if (logits[v] > logits[best]) best = v;
            }
            Assert.Equal(best, predicted[t]);
            var alone = Inspection.Saliency(x =>
            {
                var logits = model.ForwardEmbedded(x).Logits.Select(0, t); // [1, V]
                var pick = new float[11];
                pick[best] = 1f;
                return (logits * Tensor.FromArray(pick, 1, 11)).Sum(1);
            }, model.Embed(prefix, t + 1, 1));
            model.Train();
            for (int s = 0; s < ids.Length; s++)
            {
                if (s > t) { Assert.Equal(0.0, map[t, s]); continue; }
                Assert.True(map[t, s] > 0, $"token {s} influences the prediction after token {t}");
                Assert.Equal(alone[0][s], map[t, s], 1e-5);
            }
        }
        Assert.Throws<ArgumentException>(() => LanguageModelInspection.Connectivity(model, []));
    }
}

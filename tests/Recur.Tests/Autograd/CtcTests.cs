using System.Text.Json;
using Recur.Autograd;

namespace Recur.Tests.Autograd;

/// <summary>CTC: PyTorch parity (Fixtures/make_ctc_fixtures.py), brute force over every alignment, finite
/// differences.</summary>
public sealed class CtcTests
{
    static readonly JsonElement Root = JsonDocument.Parse(File.ReadAllText(
        Path.Combine(AppContext.BaseDirectory, "Fixtures", "ctc_pytorch.json"))).RootElement;

    public static TheoryData<string> Cases() => [.. Root.GetProperty("cases").EnumerateArray().Select(c
        => c.GetProperty("name").GetString()!)];

    static float[] Floats(JsonElement e) => e.EnumerateArray().Select(v => (float)v.GetDouble()).ToArray();

    [Theory]
    [MemberData(nameof(Cases))]
    public void MatchesPyTorchThroughLogSoftmax(string name)
    {
        var c = Root.GetProperty("cases").EnumerateArray().Single(e => e.GetProperty("name").GetString() == name);
        int[] shape = c.GetProperty("shape").EnumerateArray().Select(v => v.GetInt32()).ToArray();
        var logits = Tensor.FromArray(Floats(c.GetProperty("logits")), shape);
        logits.RequiresGrad = true;
        var targets = c.GetProperty("targets").EnumerateArray().Select(t => t.EnumerateArray().Select(v
            => v.GetInt32()).ToArray()).ToArray();
        int[] lengths = c.GetProperty("input_lengths").EnumerateArray().Select(v => v.GetInt32()).ToArray();
        var reduction = c.GetProperty("reduction").GetString() switch
        {
            "sum" => LossReduction.Sum,
            "none" => LossReduction.None,
            _ => LossReduction.Mean,
        };
        var loss = Losses.Ctc(logits.LogSoftmax(2), targets, lengths, c.GetProperty("blank").GetInt32(), reduction,
            c.GetProperty("zero_infinity").GetBoolean());
        Close.Values(Floats(c.GetProperty("loss")), loss.Span, "loss", 1e-5, 1e-5);
        var weights = Floats(c.GetProperty("weights"));
        (reduction == LossReduction.None ? (loss * Tensor.FromArray(weights, weights.Length)).Sum() : loss).Backward();
        Close.Values(Floats(c.GetProperty("grad")), logits.Grad!.Span, "gradient of the logits", 1e-5, 1e-5);
    }

    [Fact]
    public void EqualsTheSumOverEveryAlignment()
    {
        const int steps = 5, classes = 3;
        int[] target = [1, 1, 2]; // a repeat needs a blank between its copies
        var logits = Tensor.RandomNormal(new RandomGenerator(8), [steps, 1, classes]);
        var logProbs = logits.LogSoftmax(2);
        var lp = logProbs.ToArray();
        double total = 0;
        var path = new int[steps];
        for (int code = 0; code < (int)Math.Pow(classes, steps); code++)
        {
            int rest = code;
            for (int t = 0; t < steps; t++) { path[t] = rest % classes; rest /= classes; }
            // collapse: merge repeats, then drop blanks
            var collapsed = path.Where((k, t) => t == 0 || k != path[t - 1]).Where(k => k != 0).ToArray();
            if (!collapsed.SequenceEqual(target)) continue;
            double log = 0;
            for (int t = 0; t < steps; t++) log += lp[t * classes + path[t]];
            total += Math.Exp(log);
        }
        var loss = Losses.Ctc(logProbs, [target], [steps], reduction: LossReduction.Sum);
        Assert.Equal(-Math.Log(total), loss.Item(), 5);
    }

    [Fact]
    public void GradientsWithRespectToLogProbabilitiesMatchFiniteDifferences()
    {
        var logProbs = Tensor.RandomNormal(new RandomGenerator(9), [7, 3, 4], -1.5f, 0.5f);
        var result = GradientCheck.Compare(() => Losses.Ctc(logProbs, [[1, 2], [3, 3], [2]], [7, 6, 4],
            reduction: LossReduction.Mean),
            [logProbs], epsilon: 1e-2);
        Assert.True(result.Passed, $"error {result.MaxError:G3}× tolerance at {result.Where}");
    }

    [Fact]
    public void AnImpossibleTargetIsInfiniteUnlessZeroed()
    {
        var logProbs = Tensor.Zeros(3, 1, 3).LogSoftmax(2);
        Assert.True(float.IsPositiveInfinity(Losses.Ctc(logProbs, [[1, 1, 1]], [3],
            reduction: LossReduction.Sum).Item()));
        Assert.Equal(0f, Losses.Ctc(logProbs, [[1, 1, 1]], [3], reduction: LossReduction.Sum,
            zeroInfinity: true).Item());
        Assert.Contains("not the blank", Assert.Throws<ArgumentException>(() => Losses.Ctc(logProbs, [[0]],
            [3])).Message);
    }
}

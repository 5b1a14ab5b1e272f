using Recur.Nn;
using Recur.Nn.Recurrent;

namespace Recur.Tests.Nn;

public class InitTests
{
    static double[,] Gram(float[] m, int rows, int cols, bool ofRows)
    {
        int n = ofRows ? rows : cols;
        var g = new double[n, n];
        for (int a = 0; a < n; a++)
            for (int b = 0; b < n; b++)
            {
                double sum = 0;
                int len = ofRows ? cols : rows;
                for (int i = 0; i < len; i++)
                    sum += ofRows ? (double)m[a * cols + i] * m[b * cols + i]
                        : (double)m[i * cols + a] * m[i * cols + b];
                g[a, b] = sum;
            }
        return g;
    }

    [Theory]
    [InlineData(8, 8)]
    [InlineData(5, 12)]
    [InlineData(12, 5)]
    public void OrthogonalHasOrthonormalRowsOrColumns(int rows, int cols)
    {
        var m = Tensor.Zeros(rows, cols);
        Init.Orthogonal(m, new RandomGenerator(3), gain: 2f);
        var g = Gram(m.ToArray(), rows, cols, ofRows: rows <= cols);
        for (int a = 0; a < g.GetLength(0); a++)
            for (int b = 0; b < g.GetLength(0); b++)
                Assert.Equal(a == b ? 4.0 : 0.0, g[a, b], 4);
    }

    [Fact]
    public void XavierStaysWithinItsBoundAndUsesIt()
    {
        var m = Tensor.Zeros(40, 60);
        Init.XavierUniform(m, new RandomGenerator(1));
        float bound = MathF.Sqrt(6f / 100f);
        var values = m.ToArray();
        Assert.All(values, v => Assert.InRange(v, -bound, bound));
        Assert.True(values.Max() > 0.9f * bound && values.Min() < -0.9f * bound);
    }

    [Fact]
    public void IdentityRnnAndForgetBiasAndOrthogonalLstm()
    {
        var irnn = new RecurrentLayer(new RecurrentConfig(RecurrentMode.RnnRelu, 3, 4, Init: RecurrentInit.Identity),
            new RandomGenerator(1));
        var whh = irnn.StateDict()["weight_hh_l0"].ToArray();
        for (int r = 0; r < 4; r++) for (int c = 0; c < 4; c++) Assert.Equal(r == c ? 1f : 0f, whh[r * 4 + c]);
        Assert.All(irnn.StateDict()["bias_ih_l0"].ToArray(), v => Assert.Equal(0f, v));
        Assert.All(irnn.StateDict()["weight_ih_l0"].ToArray(), v => Assert.InRange(v, -0.01f, 0.01f));

        var lstm = new RecurrentLayer(new RecurrentConfig(RecurrentMode.Lstm, 3, 4, NumLayers: 2, Bidirectional: true,
            Init: RecurrentInit.Orthogonal, ForgetGateBias: 1f), new RandomGenerator(2));
        foreach (var (name, value) in lstm.NamedParameters())
        {
            var v = value.ToArray();
            if (name.StartsWith("bias_ih")) Assert.Equal([0, 0, 0, 0, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0], v);
            else if (name.StartsWith("bias_hh")) Assert.All(v, x => Assert.Equal(0f, x));
            else if (name.StartsWith("weight_hh"))
                for (int gate = 0; gate < 4; gate++)
                {
                    var block = v.AsSpan(gate * 16, 16).ToArray();
                    var g = Gram(block, 4, 4, ofRows: true);
                    for (int a = 0; a < 4; a++) for (int b = 0; b < 4; b++) Assert.Equal(a == b ? 1.0 : 0.0, g[a, b],
                        4);
                }
        }
        Assert.Throws<ArgumentException>(() => new RecurrentLayer(new RecurrentConfig(RecurrentMode.Gru, 3, 4,
            ForgetGateBias: 1f), new RandomGenerator(1)));
    }

    [Fact]
    public void ChronoInitialisationSpreadsMemoryTimesOverTheHorizon()
    {
        const int hidden = 256, horizon = 784;
        float limit = 1f / MathF.Sqrt(hidden);
        var lstm = new RecurrentLayer(new RecurrentConfig(RecurrentMode.Lstm, 1, hidden, ChronoMaxSteps: horizon),
            new RandomGenerator(3));
        var state = lstm.StateDict();
        var (bih, bhh) = (state["bias_ih_l0"].ToArray(), state["bias_hh_l0"].ToArray());
        var forget = bih.AsSpan(hidden, hidden).ToArray();
        // forget bias log u, u ~ U[1, T−1]: memory time 1/(1 − σ(b_f)) = 1 + u spans [2, T]
        Assert.All(forget, b => Assert.InRange(b, 0f, MathF.Log(horizon - 1)));
        var times = forget.Select(b => 1 + MathF.Exp(b)).OrderBy(x => x).ToArray();
        Assert.InRange(times[hidden / 2], horizon * 0.35f, horizon * 0.65f);
        Assert.True(times[0] < 0.1f * horizon && times[^1] > 0.9f * horizon, "memory times cover the horizon");
        for (int j = 0; j < hidden; j++) Assert.Equal(-forget[j], bih[j]);
        Assert.All(bhh.AsSpan(0, 2 * hidden).ToArray(), b => Assert.Equal(0f, b));
        // the cell and output gates keep PyTorch's uniform initialisation
        Assert.All(bih.AsSpan(2 * hidden).ToArray(), b => Assert.InRange(b, -limit, limit));
        Assert.Contains(bih.AsSpan(2 * hidden).ToArray(), b => b != 0f);

        var gru = new RecurrentLayer(new RecurrentConfig(RecurrentMode.Gru, 1, hidden, Bidirectional: true,
            ChronoMaxSteps: 100), new RandomGenerator(3));
        foreach (var suffix in new[] { "", "_reverse" })
        {
            var (gih, ghh) = (gru.StateDict()["bias_ih_l0" + suffix].ToArray(),
                gru.StateDict()["bias_hh_l0" + suffix].ToArray());
            Assert.All(gih.AsSpan(hidden, hidden).ToArray(), b => Assert.InRange(b, 0f, MathF.Log(99)));
            Assert.All(ghh.AsSpan(hidden, hidden).ToArray(), b => Assert.Equal(0f, b));
            Assert.All(gih.AsSpan(0, hidden).ToArray(), b => Assert.InRange(b, -limit, limit)); // reset gate untouched
        }
        Assert.Throws<ArgumentException>(() => new RecurrentLayer(new RecurrentConfig(RecurrentMode.RnnTanh, 1, 4,
            ChronoMaxSteps: 10), new RandomGenerator(1)));
        Assert.Throws<ArgumentException>(() => new RecurrentLayer(new RecurrentConfig(RecurrentMode.Lstm, 1, 4,
            ChronoMaxSteps: 10, ForgetGateBias: 1f), new RandomGenerator(1)));
        Assert.Throws<ArgumentException>(() => new RecurrentLayer(new RecurrentConfig(RecurrentMode.Lstm, 1, 4,
            ChronoMaxSteps: 2), new RandomGenerator(1)));
        // a sequence model records the horizon and reads it back
        var config = new SequenceModelConfig(CellKind.Lstm, 1, 8, 10, ChronoMaxSteps: 784);
        Assert.Equal(config, SequenceModelConfig.FromJson(config.ToJson()));
        Assert.Null(config.Recurrent.ForgetGateBias);
    }

    [Fact]
    public void InitialisationRepeatsForASeed()
    {
        var config = new RecurrentConfig(RecurrentMode.Gru, 3, 4, Init: RecurrentInit.Orthogonal);
        var a = new RecurrentLayer(config, new RandomGenerator(9)).Parameters().SelectMany(p => p.ToArray()).ToArray();
        var b = new RecurrentLayer(config, new RandomGenerator(9)).Parameters().SelectMany(p => p.ToArray()).ToArray();
        Assert.Equal(a, b);
    }
}

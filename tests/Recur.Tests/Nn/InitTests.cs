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
                    sum += ofRows ? (double)m[a * cols + i] * m[b * cols + i] : (double)m[i * cols + a] * m[i * cols + b];
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
        var irnn = new RecurrentLayer(new RecurrentConfig(RecurrentMode.RnnRelu, 3, 4, Init: RecurrentInit.Identity), new RandomGenerator(1));
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
                    for (int a = 0; a < 4; a++) for (int b = 0; b < 4; b++) Assert.Equal(a == b ? 1.0 : 0.0, g[a, b], 4);
                }
        }
        Assert.Throws<ArgumentException>(() => new RecurrentLayer(new RecurrentConfig(RecurrentMode.Gru, 3, 4, ForgetGateBias: 1f), new RandomGenerator(1)));
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

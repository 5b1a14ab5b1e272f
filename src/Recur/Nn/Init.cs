namespace Recur.Nn;

/// <summary>Parameter initialisers (in place), each drawing from an explicit seeded generator.</summary>
public static class Init
{
    /// <summary>Uniform in [<paramref name="low"/>, <paramref name="high"/>).</summary>
    public static void Uniform(Tensor tensor, RandomGenerator random, float low, float high)
    {
        var span = tensor.Span;
        for (int i = 0; i < span.Length; i++) span[i] = low + (high - low) * random.NextFloat();
    }

    /// <summary>Normal N(<paramref name="mean"/>, <paramref name="std"/>²).</summary>
    public static void Normal(Tensor tensor, RandomGenerator random, float mean, float std)
    {
        var span = tensor.Span;
        for (int i = 0; i < span.Length; i++) span[i] = mean + std * random.NextNormal();
    }

    /// <summary>
    /// Xavier/Glorot uniform (Glorot &amp; Bengio 2010): U(±gain·√(6 / (fanIn + fanOut))) for a [fanOut, fanIn] matrix,
    /// as <c>torch.nn.init.xavier_uniform_</c>.
    /// </summary>
    public static void XavierUniform(Tensor matrix, RandomGenerator random, float gain = 1f)
    {
        var (fanOut, fanIn) = Fans(matrix, "XavierUniform");
        float bound = gain * MathF.Sqrt(6f / (fanIn + fanOut));
        Uniform(matrix, random, -bound, bound);
    }

    /// <summary>
    /// A (semi-)orthogonal matrix scaled by <paramref name="gain"/> (Saxe et al. 2014), as
    /// <c>torch.nn.init.orthogonal_</c>: QR of a Gaussian matrix with the signs of R's diagonal folded into Q, so the
    /// result is uniformly distributed. Rows are orthonormal when rows ≤ columns, columns otherwise.
    /// </summary>
    public static void Orthogonal(Tensor matrix, RandomGenerator random, float gain = 1f)
    {
        var (rows, cols) = Fans(matrix, "Orthogonal");
        bool transposed = rows < cols; // orthonormalise the longer side's vectors
        int n = transposed ? cols : rows, k = transposed ? rows : cols;
        // Q: n×k with orthonormal columns by modified Gram–Schmidt in double precision.
        var q = new double[n, k];
        for (int i = 0; i < n; i++) for (int j = 0; j < k; j++) q[i, j] = random.NextNormal();
        for (int j = 0; j < k; j++)
        {
            for (int p = 0; p < j; p++)
            {
                double dot = 0;
                for (int i = 0; i < n; i++) dot += q[i, p] * q[i, j];
                for (int i = 0; i < n; i++) q[i, j] -= dot * q[i, p];
            }
            double norm = 0;
            for (int i = 0; i < n; i++) norm += q[i, j] * q[i, j];
            norm = Math.Sqrt(norm);
            // Gram–Schmidt's R has a positive diagonal, which is the sign convention torch applies after its QR.
            for (int i = 0; i < n; i++) q[i, j] /= norm;
        }
        var span = matrix.Span;
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < cols; c++)
                span[r * cols + c] = gain * (float)(transposed ? q[c, r] : q[r, c]);
    }

    /// <summary>The identity (scaled by <paramref name="gain"/>) for a square matrix; rectangular ones get ones on the
    /// main diagonal.</summary>
    public static void Identity(Tensor matrix, float gain = 1f)
    {
        var (rows, cols) = Fans(matrix, "Identity");
        matrix.Zero();
        for (int i = 0; i < Math.Min(rows, cols); i++) matrix.Span[i * cols + i] = gain;
    }

    static (int Rows, int Cols) Fans(Tensor matrix, string op) => matrix.Rank == 2
        ? (matrix.Size(0), matrix.Size(1))
        : throw new ArgumentException($"{op}: expects a matrix, got shape {Shapes.Format(matrix.Shape)}.");
}

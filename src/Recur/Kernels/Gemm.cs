using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Recur.Kernels;

/// <summary>Instruction-set path of the GEMM micro-kernel.</summary>
public enum GemmIsa
{
    /// <summary>The widest path this machine supports (AVX-512, then AVX2+FMA, then portable).</summary>
    Auto,
    /// <summary>AVX-512F, 12×32 tiles.</summary>
    Avx512,
    /// <summary>AVX2 with FMA, 6×16 tiles.</summary>
    Avx2,
    /// <summary><see cref="System.Runtime.Intrinsics.Vector128"/> code that runs on every .NET platform, 4×8
    /// tiles.</summary>
    Portable,
}

/// <summary>The contract of a micro-kernel: <c>C[Mr×Nr] = (accumulate ? C : 0) + bias + Apanel·Bpanel</c>.</summary>
internal interface IGemmMicroKernel
{
    static abstract int Mr { get; }
    static abstract int Nr { get; }
    static abstract bool IsSupported { get; }
    /// <summary>
    /// One Mr×Nr tile of C: the products over <paramref name="kc"/>, plus <paramref name="bias"/>[j] in column j (when
    /// not null), plus C's own values (when <paramref name="accumulate"/>), plus <paramref name="rowBias"/>[i] in row
    /// i (when not null) — in that order, so the bits do not depend on which of them a caller asks for.
    /// </summary>
    static abstract unsafe void Run(int kc, float* pa, float* pb, float* c, nint ldc, bool accumulate, float* bias,
        float* rowBias);
    /// <summary>One row of C (Nr wide) from row <c>pa</c> of a packed A panel (stride <c>aStride</c> per k), for thin
    /// products; <paramref name="rowBias"/> points at that row's bias.</summary>
    static abstract unsafe void RunRow(int kc, float* pa, int aStride, float* pb, float* c, bool accumulate,
        float* bias, float* rowBias);
    /// <summary>The rows of the smaller tile <see cref="RunPartial"/> runs for a panel of <paramref name="rows"/>
    /// (fewer than Mr), or 0 for none.</summary>
    static abstract int PartialRows(int rows);
    /// <summary>The first <paramref name="tileRows"/> rows of <see cref="Run"/>'s tile, the same sums in the same
    /// order (so the same bits), for a panel too short for a whole tile without the cost of one.</summary>
    static abstract unsafe void RunPartial(int tileRows, int kc, float* pa, float* pb, float* c, nint ldc,
        bool accumulate, float* bias, float* rowBias);
}

/// <summary>
/// Single-precision general matrix multiply, <c>C = (accumulate ? C : 0) + op(A)·op(B) + bias</c>, where op is an
/// optional transpose, all matrices row-major with leading dimensions. Packed and cache-blocked in the style of
/// BLIS (Goto &amp; van de Geijn 2008), with a register-tiled micro-kernel per instruction set chosen at run time.
/// Large products are split across threads by disjoint blocks of C; each element of C is always summed in the same
/// order, so results do not depend on the thread count.
/// </summary>
public static class Gemm
{
    const int Kc = 256;                  // depth of a packed block: a B micro-panel (Kc×Nr) stays in L1
    const long MinFlopsPerThread = 1L << 21; // below ~2 MFLOP a thread hand-off costs more than it saves

    /// <summary>The path <see cref="GemmIsa.Auto"/> resolves to on this machine.</summary>
    public static GemmIsa BestIsa { get; } =
        Avx512Kernel.IsSupported ? GemmIsa.Avx512 : Avx2Kernel.IsSupported ? GemmIsa.Avx2 : GemmIsa.Portable;

    /// <summary>Whether this machine can run <paramref name="isa"/>.</summary>
    public static bool IsSupported(GemmIsa isa) => isa switch
    {
        GemmIsa.Auto or GemmIsa.Portable => true,
        GemmIsa.Avx512 => Avx512Kernel.IsSupported,
        GemmIsa.Avx2 => Avx2Kernel.IsSupported,
        _ => false,
    };

    /// <summary>
    /// <c>C[m×n] = (accumulate ? C : 0) + op(A)·op(B) + bias</c>. op(A) is m×k (A is stored k×m when
    /// <paramref name="transposeA"/>), op(B) is k×n (B is stored n×k when <paramref name="transposeB"/>).
    /// <paramref name="bias"/>, when not empty, has n entries added to every row of C.
    /// <c>threads</c> bounds the threads used (0 means <see cref="Parallelism.MaxThreads"/>); <c>isa</c> forces a
    /// micro-kernel path (tests run every path). Operands are checked against their sizes before any work is done.
    /// </summary>
    public static unsafe void Multiply(
        bool transposeA, bool transposeB, int m, int n, int k,
        ReadOnlySpan<float> a, int lda, ReadOnlySpan<float> b, int ldb,
        Span<float> c, int ldc, bool accumulate = false, ReadOnlySpan<float> bias = default,
        int threads = 0, GemmIsa isa = GemmIsa.Auto)
    {
        if (m < 0 || n < 0 || k < 0)
            throw new ArgumentException($"Gemm: negative size m={m}, n={n}, k={k}.");
        CheckOperand("A", a, transposeA ? k : m, transposeA ? m : k, lda);
        CheckOperand("B", b, transposeB ? n : k, transposeB ? k : n, ldb);
        CheckOperand("C", c, m, n, ldc);
        if (!bias.IsEmpty && bias.Length < n)
            throw new ArgumentException($"Gemm: bias has {bias.Length} entries but C has {n} columns.");
        if (isa == GemmIsa.Auto) isa = BestIsa;
        if (!IsSupported(isa))
            throw new PlatformNotSupportedException($"Gemm: this machine does not support the {isa} path.");
        if (m == 0 || n == 0) return;

        fixed (float* pa = a, pb = b, pc = c, pbias = bias)
        {
            var problem = new Problem(transposeA, transposeB, m, n, k, pa, lda, pb, ldb, pc, ldc, accumulate, pbias);
            Run(isa, problem, threads);
        }
    }

    /// <summary>
    /// Packs op(B) (k×n; B stored n×k when <paramref name="transposeB"/>) once for the micro-kernel path
    /// <paramref name="isa"/>, so that many products with the same right operand (a recurrent weight matrix at every
    /// time step) skip re-packing it. Dispose the result to return its buffer to the pool.
    /// </summary>
    public static unsafe PackedMatrix Pack(bool transposeB, int k, int n, ReadOnlySpan<float> b, int ldb,
        GemmIsa isa = GemmIsa.Auto)
    {
        if (k < 0 || n < 0) throw new ArgumentException($"Gemm.Pack: negative size k={k}, n={n}.");
        CheckOperand("B", b, transposeB ? n : k, transposeB ? k : n, ldb);
        if (isa == GemmIsa.Auto) isa = BestIsa;
        if (!IsSupported(isa)) throw new PlatformNotSupportedException(
            $"Gemm: this machine does not support the {isa} path.");
        int nr = isa switch
        {
            GemmIsa.Avx512 => Avx512Kernel.Nr,
            GemmIsa.Avx2 => Avx2Kernel.Nr,
            _ => PortableKernel.Nr
        };
        int width = (n + nr - 1) / nr * nr;
        var packed = new PackedMatrix(k, n, width, isa, PinnedPool.Rent(Math.Max(1, k * width)));
        fixed (float* pb = b)
        {
            var problem = new Problem(false, transposeB, 0, n, k, null, 0, pb, ldb, null, 0, false, null);
            for (int pc = 0; pc < k; pc += Kc)
                PackB(problem, pc, Math.Min(Kc, k - pc), 0, n, nr, packed.Buffer.Pointer + (nint)pc * width);
        }
        return packed;
    }

    /// <summary>
    /// <c>C[m×n] = (accumulate ? C : 0) + op(A)·B + bias</c> with B packed by <see cref="Pack"/>; otherwise as
    /// the general overload, which takes B unpacked with its own transpose flag.
    /// </summary>
    public static unsafe void Multiply(bool transposeA, int m, ReadOnlySpan<float> a, int lda, PackedMatrix b,
        Span<float> c, int ldc, bool accumulate = false, ReadOnlySpan<float> bias = default, int threads = 0)
    {
        ObjectDisposedException.ThrowIf(b.IsDisposed, b);
        int n = b.Columns, k = b.Rows;
        if (m < 0) throw new ArgumentException($"Gemm: negative size m={m}.");
        CheckOperand("A", a, transposeA ? k : m, transposeA ? m : k, lda);
        CheckOperand("C", c, m, n, ldc);
        if (!bias.IsEmpty && bias.Length < n)
            throw new ArgumentException($"Gemm: bias has {bias.Length} entries but C has {n} columns.");
        if (m == 0 || n == 0) return;
        fixed (float* pa = a, pc = c, pbias = bias)
        {
            var problem = new Problem(transposeA, false, m, n, k, pa, lda, null, 0, pc, ldc, accumulate, pbias,
                b.Buffer.Pointer, b.Width, 0);
            Run(b.Isa, problem, threads);
        }
    }

    /// <summary>
    /// <c>C[m×n] = (accumulate ? C : 0) + A·op(B) + rowBias</c> over an implicit B given by where its rows start in
    /// <paramref name="b"/>: rows that may be overlapping, shifted views of one buffer, as the taps of a convolution
    /// read its input, so nothing is unfolded. Without <paramref name="transposeB"/>, B is k×n and row q (n values)
    /// starts at <c>b[bRowStarts[q]]</c>; with it, B is stored n×k and row j (k values) starts at
    /// <c>b[bRowStarts[j]]</c>. <paramref name="rowBias"/>, when not empty, has m entries, each added to its row of C.
    /// <paramref name="isa"/> forces a micro-kernel path (tests run every path).
    /// Operands are checked against their buffers before any work is done.
    /// </summary>
    internal static unsafe void MultiplyRows(int m, int n, int k, ReadOnlySpan<float> a, int lda, ReadOnlySpan<float> b,
        ReadOnlySpan<int> bRowStarts, Span<float> c, int ldc, bool accumulate = false, int threads = 0,
        ReadOnlySpan<float> rowBias = default, bool transposeB = false, GemmIsa isa = GemmIsa.Auto)
    {
        int rowCount = transposeB ? n : k, rowLength = transposeB ? k : n;
        if (isa == GemmIsa.Auto) isa = BestIsa;
        if (!IsSupported(isa))
            throw new PlatformNotSupportedException($"Gemm: this machine does not support the {isa} path.");
        if (m < 0 || n < 0 || k < 0 || bRowStarts.Length < rowCount)
            throw new ArgumentException($"Gemm: sizes m={m}, n={n}, k={k} with {bRowStarts.Length} rows of B.");
        if (!rowBias.IsEmpty && rowBias.Length < m)
            throw new ArgumentException($"Gemm: row bias has {rowBias.Length} entries but C has {m} rows.");
        CheckOperand("A", a, m, k, lda);
        CheckOperand("C", c, m, n, ldc);
        foreach (int start in bRowStarts[..rowCount])
            if (start < 0 || (long)start + rowLength > b.Length)
                throw new ArgumentException($"Gemm: a row of B at {start} runs past its {b.Length} values.");
        if (m == 0 || n == 0) return;
        var rows = new nint[Math.Max(rowCount, 1)];
        fixed (float* pa = a, pb = b, pc = c, pbias = rowBias)
        fixed (nint* pr = rows)
        {
            for (int q = 0; q < rowCount; q++) rows[q] = (nint)(pb + bRowStarts[q]);
            var problem = new Problem(false, transposeB, m, n, k, pa, lda, null, 0, pc, ldc, accumulate, null)
                .WithRows((float**)pr, pbias);
            Run(isa, problem, threads);
        }
    }

    /// <summary>
    /// <c>C[m×n] = (accumulate ? C : 0) + A·B + rowBias</c> where B (k×n) is never stored: <paramref name="b"/> writes
    /// each panel straight into the packing buffer (a convolution's im2col without the column matrix).
    /// </summary>
    internal static unsafe void MultiplyImplicit(int m, int n, int k, ReadOnlySpan<float> a, int lda,
        IImplicitOperand b, Span<float> c, int ldc, bool accumulate = false, int threads = 0,
        ReadOnlySpan<float> rowBias = default)
    {
        if (m < 0 || n < 0 || k < 0 || b.Rows != k || b.Columns != n)
            throw new ArgumentException($"Gemm: sizes m={m}, n={n}, k={k} with an implicit B of {b.Rows}×{b.Columns}.");
        if (!rowBias.IsEmpty && rowBias.Length < m)
            throw new ArgumentException($"Gemm: row bias has {rowBias.Length} entries but C has {m} rows.");
        CheckOperand("A", a, m, k, lda);
        CheckOperand("C", c, m, n, ldc);
        if (m == 0 || n == 0) return;
        fixed (float* pa = a, pc = c, pbias = rowBias)
        {
            var problem = new Problem(false, false, m, n, k, pa, lda, null, 0, pc, ldc, accumulate, null)
                .WithSource(b, pbias);
            Run(BestIsa, problem, threads);
        }
    }

    static void CheckOperand(string name, ReadOnlySpan<float> span, int rows, int cols, int ld)
    {
        if (ld < cols || ld < 0)
            throw new ArgumentException($"Gemm: leading dimension of {name} is {ld} but its rows hold {cols} values.");
        long needed = rows == 0 || cols == 0 ? 0 : (long)(rows - 1) * ld + cols;
        if (span.Length < needed)
            throw new ArgumentException($"Gemm: {name} is {rows}×{cols} (leading dimension {ld}) and needs {needed} "
                + $"values, but its buffer holds {span.Length}.");
    }

    /// <summary>One product, as raw pointers (valid only while the caller keeps the spans fixed).</summary>
    readonly unsafe struct Problem(bool transA, bool transB, int m, int n, int k, float* a, nint lda, float* b,
        nint ldb,
        float* c, nint ldc, bool accumulate, float* bias, float* packedB = null, nint packedWidth = 0, int column0 = 0)
    {
        public readonly bool TransA = transA, TransB = transB, Accumulate = accumulate;
        public readonly int M = m, N = n, K = k;
        public readonly float* A = a, B = b, C = c, Bias = bias;
        public readonly nint Lda = lda, Ldb = ldb, Ldc = ldc;
        /// <summary>When not null, op(B) already packed (<see cref="PackedMatrix"/>): block pc starts at pc·PackedWidth
        /// and column j of a block of depth kc at j·kc; this problem's columns start at
        /// <see cref="Column0"/>.</summary>
        public readonly float* PackedB = packedB;
        public readonly nint PackedWidth = packedWidth;
        public readonly int Column0 = column0;
        /// <summary>When not null, row q of B starts at <c>BRows[q] + BColumn</c> (B is k×n, or stored n×k when
        /// transposed).</summary>
        public float** BRows { get; private init; }
        public nint BColumn { get; private init; }
        /// <summary>When not null, <c>RowBias[i]</c> is added to every entry of row i of C (once, with the first
        /// depth block).</summary>
        public float* RowBias { get; private init; }

        /// <summary>When not null, B (k×n) packs its own panels; its columns start at <see cref="BColumn"/>.</summary>
        public IImplicitOperand? Source { get; private init; }

        public Problem WithRows(float** rows, float* rowBias) => this with { BRows = rows, RowBias = rowBias };

        public Problem WithSource(IImplicitOperand source, float* rowBias) =>
            this with { Source = source, RowBias = rowBias };

        /// <summary>The rows [i0, i0+rows) and columns [j0, j0+cols) of this product's C.</summary>
        public Problem Block(int i0, int rows, int j0, int cols) => new(
            TransA, TransB, rows, cols, K,
            TransA ? A + i0 : A + i0 * Lda, Lda,
            B == null ? null : TransB ? B + j0 * Ldb : B + j0, Ldb,
            C + i0 * Ldc + j0, Ldc, Accumulate, Bias == null ? null : Bias + j0, PackedB, PackedWidth, Column0 + j0)
        {
            BRows = BRows == null || !TransB ? BRows : BRows + j0,
            BColumn = TransB ? BColumn : BColumn + j0,
            Source = Source,
            RowBias = RowBias == null ? null : RowBias + i0,
        };
    }

    /// <summary>Products with at most this many rows of A and a row-major [n, k] B skip packing (one token at a time in
    /// generation).</summary>
    const int GemvRows = 2;

    /// <summary>
    /// C = op(A)·Bᵀ for one or two rows of A and B stored [n, k]: each entry is a dot product of two contiguous rows,
    /// with no packing (which would read and write all of B to use it once). Columns are split across threads in
    /// contiguous ranges; every entry is computed the same way whatever the split, so results do not depend on it.
    /// </summary>
    static unsafe void Gemv(Problem p, int threads)
    {
        int maxThreads = threads > 0 ? threads : Parallelism.MaxThreads;
        long flops = 2L * p.M * p.N * p.K;
        int t = (int)Math.Clamp(flops / MinFlopsPerThread, 1, maxThreads);
        void Columns(int j0, int j1)
        {
            for (int i = 0; i < p.M; i++)
            {
                float* a = p.A + i * p.Lda, c = p.C + i * p.Ldc;
                for (int j = j0; j < j1; j++)
                {
                    float sum = Dot(a, p.B + j * p.Ldb, p.K);
                    if (p.Bias != null) sum += p.Bias[j];
                    c[j] = p.Accumulate ? c[j] + sum : sum;
                }
            }
        }
        if (t == 1) { Columns(0, p.N); return; }
        WorkerPool.Shared.ForRanges(p.N, t, (_, first, last) => Columns(first, last));
    }

    /// <summary>A dot product in a fixed order (four vector accumulators, then the tail), independent of
    /// alignment.</summary>
    static unsafe float Dot(float* x, float* y, int n)
    {
        int i = 0;
        float sum;
        if (Vector256.IsHardwareAccelerated && n >= 32)
        {
            Vector256<float> s0 = default, s1 = default, s2 = default, s3 = default;
            for (; i + 32 <= n; i += 32)
            {
                s0 = Vector256.FusedMultiplyAdd(Vector256.Load(x + i), Vector256.Load(y + i), s0);
                s1 = Vector256.FusedMultiplyAdd(Vector256.Load(x + i + 8), Vector256.Load(y + i + 8), s1);
                s2 = Vector256.FusedMultiplyAdd(Vector256.Load(x + i + 16), Vector256.Load(y + i + 16), s2);
                s3 = Vector256.FusedMultiplyAdd(Vector256.Load(x + i + 24), Vector256.Load(y + i + 24), s3);
            }
            for (; i + 8 <= n; i += 8) s0 = Vector256.FusedMultiplyAdd(Vector256.Load(x + i), Vector256.Load(y + i),
                s0);
            sum = Vector256.Sum((s0 + s1) + (s2 + s3));
        }
        else sum = 0f;
        for (; i < n; i++) sum = MathF.FusedMultiplyAdd(x[i], y[i], sum);
        return sum;
    }

    /// <summary>Runs <paramref name="p"/> on the micro-kernel of <paramref name="isa"/> (a supported, resolved
    /// path).</summary>
    static void Run(GemmIsa isa, Problem p, int threads)
    {
        switch (isa)
        {
            case GemmIsa.Avx512: Run<Avx512Kernel>(p, threads); break;
            case GemmIsa.Avx2: Run<Avx2Kernel>(p, threads); break;
            default: Run<PortableKernel>(p, threads); break;
        }
    }

    static unsafe void Run<TKernel>(Problem p, int threads) where TKernel : struct, IGemmMicroKernel
    {
        if (p.M <= GemvRows && p.M > 0 && p.K > 0 && p.TransB && !p.TransA && p.B != null && p.PackedB == null)
        {
            Gemv(p, threads);
            return;
        }
        if (p.K == 0)
        {
            for (int i = 0; i < p.M; i++)
            {
                var row = new Span<float>(p.C + i * p.Ldc, p.N);
                if (!p.Accumulate) row.Clear();
                if (p.Bias != null) System.Numerics.Tensors.TensorPrimitives.Add(row, new ReadOnlySpan<float>(p.Bias,
                    p.N), row);
                if (p.RowBias != null) System.Numerics.Tensors.TensorPrimitives.Add(row, p.RowBias[i], row);
            }
            return;
        }

        int maxThreads = threads > 0 ? threads : Parallelism.MaxThreads;
        long flops = 2L * p.M * p.N * p.K;
        int t = (int)Math.Clamp(flops / MinFlopsPerThread, 1, maxThreads);
        int mr = TKernel.Mr, nr = TKernel.Nr;
        // Split C into t slabs of whole micro-tiles: by columns when there are enough (each thread then packs
        // only its own part of B, the larger operand in RNN products), otherwise by rows.
        if (t > 1 && p.N >= t * nr * 4)
        {
            int[] bounds = Partition(p.N, t, nr);
            WorkerPool.Shared.For(t, s => Blocked<TKernel>(p.Block(0, p.M, bounds[s], bounds[s + 1] - bounds[s])));
        }
        else if (t > 1 && p.M >= t * mr * 2)
        {
            int[] bounds = Partition(p.M, t, mr);
            WorkerPool.Shared.For(t, s => Blocked<TKernel>(p.Block(bounds[s], bounds[s + 1] - bounds[s], 0, p.N)));
        }
        else
        {
            Blocked<TKernel>(p);
        }
    }

    /// <summary>Splits [0, total) into <paramref name="parts"/> ranges whose inner bounds are multiples of
    /// <paramref name="unit"/>.</summary>
    static int[] Partition(int total, int parts, int unit)
    {
        var bounds = new int[parts + 1];
        int units = (total + unit - 1) / unit;
        for (int s = 1; s < parts; s++) bounds[s] = Math.Min(total, (int)((long)units * s / parts) * unit);
        bounds[parts] = total;
        return bounds;
    }

    /// <summary>The single-threaded blocked algorithm: loops jc (Nc) → pc (Kc) → ic (Mc) → jr (Nr) → ir (Mr).</summary>
    static unsafe void Blocked<TKernel>(Problem p) where TKernel : struct, IGemmMicroKernel
    {
        int mr = TKernel.Mr, nr = TKernel.Nr;
        int mc = mr * 16, nc = nr * 64;
        var buffers = PackBuffers.ForThisThread(mc * Kc, nc * Kc);
        float* packA = buffers.A, packB = buffers.B;
        float* tile = stackalloc float[mr * nr + 16];
        tile = (float*)(((nint)tile + 63) & ~(nint)63);

        for (int jc = 0; jc < p.N; jc += nc)
        {
            int ncCur = Math.Min(nc, p.N - jc);
            for (int pc = 0; pc < p.K; pc += Kc)
            {
                int kc = Math.Min(Kc, p.K - pc);
                float* panelsB = packB;
                if (p.PackedB != null) panelsB = p.PackedB + pc * p.PackedWidth + (nint)(p.Column0 + jc) * kc;
                else PackB(p, pc, kc, jc, ncCur, nr, packB);
                bool first = pc == 0;
                bool accumulate = p.Accumulate || !first;
                float* bias = first && p.Bias != null ? p.Bias + jc : null;
                for (int ic = 0; ic < p.M; ic += mc)
                {
                    int mcCur = Math.Min(mc, p.M - ic);
                    PackA(p, ic, mcCur, pc, kc, mr, packA);
                    for (int jr = 0; jr < ncCur; jr += nr)
                    {
                        int nrCur = Math.Min(nr, ncCur - jr);
                        float* pb = panelsB + (nint)jr * kc;
                        float* biasTile = bias == null ? null : bias + jr;
                        for (int ir = 0; ir < mcCur; ir += mr)
                        {
                            int mrCur = Math.Min(mr, mcCur - ir);
                            float* pa = packA + (nint)ir * kc;
                            float* c = p.C + (ic + ir) * p.Ldc + jc + jr;
                            // the row bias goes into whole tiles as they are stored (adding it afterwards
                            // would read C back while its cache lines are still on their way)
                            float* rowBias = first && p.RowBias != null ? p.RowBias + ic + ir : null;
                            bool edge = nrCur != nr;
                            if (mrCur == mr && !edge)
                            {
                                TKernel.Run(kc, pa, pb, c, p.Ldc, accumulate, biasTile, rowBias);
                            }
                            else if (TKernel.PartialRows(mrCur) is > 0 and var tileRows)
                            {
                                // a short panel (e.g. rows 24–31 of 32): a smaller tile instead of a padded one
                                if (mrCur == tileRows && !edge)
                                    TKernel.RunPartial(tileRows, kc, pa, pb, c, p.Ldc, accumulate, biasTile, rowBias);
                                else
                                {
                                    TKernel.RunPartial(tileRows, kc, pa, pb, tile, nr, false, null, null);
                                    StoreEdge(tile, nr, c, p.Ldc, mrCur, nrCur, accumulate, biasTile, rowBias);
                                }
                            }
                            else if (2 * mrCur <= mr)
                            {
                                // a thin panel (e.g. batch 1): row by row instead of a mostly padded tile
                                for (int r = 0; r < mrCur; r++)
                                {
                                    float* rowBiasR = rowBias == null ? null : rowBias + r;
                                    if (!edge)
                                    {
                                        TKernel.RunRow(kc, pa + r, mr, pb, c + r * p.Ldc, accumulate, biasTile,
                                            rowBiasR);
                                    }
                                    else
                                    {
                                        TKernel.RunRow(kc, pa + r, mr, pb, tile, false, null, null);
                                        StoreEdge(tile, nr, c + r * p.Ldc, p.Ldc, 1, nrCur, accumulate, biasTile,
                                            rowBiasR);
                                    }
                                }
                            }
                            else
                            {
                                TKernel.Run(kc, pa, pb, tile, nr, false, null, null);
                                StoreEdge(tile, nr, c, p.Ldc, mrCur, nrCur, accumulate, biasTile, rowBias);
                            }
                        }
                    }
                }
            }
        }
    }

    /// <summary>The part of a tile computed into <paramref name="tile"/> that lies inside C, with the biases and C's
    /// own values added in the micro-kernels' order.</summary>
    static unsafe void StoreEdge(float* tile, int ldt, float* c, nint ldc, int rows, int cols, bool accumulate,
        float* bias, float* rowBias)
    {
        for (int i = 0; i < rows; i++)
        {
            float* src = tile + i * ldt, dst = c + i * ldc;
            for (int j = 0; j < cols; j++)
            {
                float v = src[j];
                if (bias != null) v += bias[j];
                if (accumulate) v = dst[j] + v;
                if (rowBias != null) v += rowBias[i];
                dst[j] = v;
            }
        }
    }

    /// <summary>Packs op(A)[ic..ic+mc, pc..pc+kc] as Mr-row panels, k-major inside a panel, zero-padded to whole
    /// panels.</summary>
    static unsafe void PackA(in Problem p, int ic, int mc, int pc, int kc, int mr, float* dst)
    {
        for (int ir = 0; ir < mc; ir += mr)
        {
            int rows = Math.Min(mr, mc - ir);
            float* panel = dst + (nint)ir * kc;
            if (p.TransA)
            {
                // A is stored k×m: one k-slice of the panel is a contiguous run of rows.
                float* src = p.A + (nint)pc * p.Lda + ic + ir;
                for (int q = 0; q < kc; q++, src += p.Lda, panel += mr)
                {
                    CopyShort(src, panel, rows);
                    for (int r = rows; r < mr; r++) panel[r] = 0f;
                }
            }
            else
            {
                // A is stored m×k: the panel is a transpose, done 4 rows × 4 k-values at a time in registers.
                int r = 0;
                if (Sse.IsSupported)
                {
                    for (; r + 4 <= rows; r += 4)
                    {
                        float* s0 = p.A + (ic + ir + r) * p.Lda + pc;
                        PackFourRows(s0, s0 + p.Lda, s0 + 2 * p.Lda, s0 + 3 * p.Lda, kc, panel + r, mr);
                    }
                }
                for (; r < mr; r++)
                {
                    if (r < rows)
                    {
                        float* src = p.A + (ic + ir + r) * p.Lda + pc;
                        for (int q = 0; q < kc; q++) panel[q * mr + r] = src[q];
                    }
                    else
                    {
                        for (int q = 0; q < kc; q++) panel[q * mr + r] = 0f;
                    }
                }
            }
        }
    }

    /// <summary>
    /// Writes four source rows of kc values as four adjacent columns of a panel <paramref name="width"/> wide
    /// (<c>d[q·width + i] = s_i[q]</c>), 4 × 4 at a time in registers: the packing of A stored m×k and of B stored n×k.
    /// </summary>
    static unsafe void PackFourRows(float* s0, float* s1, float* s2, float* s3, int kc, float* d, int width)
    {
        int q = 0;
        for (; q + 4 <= kc; q += 4, d += 4 * width)
        {
            Transpose4x4(Sse.LoadVector128(s0 + q), Sse.LoadVector128(s1 + q), Sse.LoadVector128(s2 + q),
                Sse.LoadVector128(s3 + q), out var t0, out var t1, out var t2, out var t3);
            Sse.Store(d, t0); Sse.Store(d + width, t1); Sse.Store(d + 2 * width, t2); Sse.Store(d + 3 * width, t3);
        }
        for (; q < kc; q++, d += width) { d[0] = s0[q]; d[1] = s1[q]; d[2] = s2[q]; d[3] = s3[q]; }
    }

    static void Transpose4x4(Vector128<float> r0, Vector128<float> r1, Vector128<float> r2, Vector128<float> r3,
        out Vector128<float> c0, out Vector128<float> c1, out Vector128<float> c2, out Vector128<float> c3)
    {
        var t0 = Sse.UnpackLow(r0, r1);   // r0[0] r1[0] r0[1] r1[1]
        var t1 = Sse.UnpackLow(r2, r3);   // r2[0] r3[0] r2[1] r3[1]
        var t2 = Sse.UnpackHigh(r0, r1);  // r0[2] r1[2] r0[3] r1[3]
        var t3 = Sse.UnpackHigh(r2, r3);
        c0 = Sse.MoveLowToHigh(t0, t1);
        c1 = Sse.MoveHighToLow(t1, t0);
        c2 = Sse.MoveLowToHigh(t2, t3);
        c3 = Sse.MoveHighToLow(t3, t2);
    }

    /// <summary>Copies a short run (at most a tile's width) with the widest vectors that fit.</summary>
    static unsafe void CopyShort(float* src, float* dst, int count)
    {
        int i = 0;
        for (; i + 16 <= count; i += 16) Vector512.Store(Vector512.Load(src + i), dst + i);
        if (i + 8 <= count) { Vector256.Store(Vector256.Load(src + i), dst + i); i += 8; }
        if (i + 4 <= count) { Vector128.Store(Vector128.Load(src + i), dst + i); i += 4; }
        for (; i < count; i++) dst[i] = src[i];
    }

    /// <summary>Packs op(B)[pc..pc+kc, jc..jc+nc] as Nr-column panels, k-major inside a panel, zero-padded.</summary>
    static unsafe void PackB(in Problem p, int pc, int kc, int jc, int nc, int nr, float* dst)
    {
        for (int jr = 0; jr < nc; jr += nr)
        {
            int cols = Math.Min(nr, nc - jr);
            float* panel = dst + (nint)jr * kc;
            if (p.Source != null)
            {
                p.Source.Pack(pc, kc, (int)p.BColumn + jc + jr, cols, panel, nr);
            }
            else if (!p.TransB)
            {
                // B is k×n: one k-slice of the panel is a contiguous run of columns.
                for (int q = 0; q < kc; q++, panel += nr)
                {
                    float* src = p.BRows != null ? p.BRows[pc + q] + p.BColumn : p.B + (nint)(pc + q) * p.Ldb;
                    CopyShort(src + jc + jr, panel, cols);
                    for (int j = cols; j < nr; j++) panel[j] = 0f;
                }
            }
            else
            {
                // B is stored n×k: the panel is a transpose, done 4 columns × 4 k-values at a time in registers.
                int j = 0;
                if (Sse.IsSupported)
                {
                    for (; j + 4 <= cols; j += 4)
                        PackFourRows(RowOfB(p, jc + jr + j) + pc, RowOfB(p, jc + jr + j + 1) + pc,
                            RowOfB(p, jc + jr + j + 2) + pc, RowOfB(p, jc + jr + j + 3) + pc, kc, panel + j, nr);
                }
                for (; j < nr; j++)
                {
                    if (j < cols)
                    {
                        float* src = RowOfB(p, jc + jr + j) + pc;
                        for (int q = 0; q < kc; q++) panel[q * nr + j] = src[q];
                    }
                    else
                    {
                        for (int q = 0; q < kc; q++) panel[q * nr + j] = 0f;
                    }
                }
            }
        }
    }

    /// <summary>Row <paramref name="j"/> of a B stored n×k (transposed), explicit or implicit.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static unsafe float* RowOfB(in Problem p, int j) => p.BRows != null ? p.BRows[j] + p.BColumn : p.B + j * p.Ldb;

    /// <summary>Per-thread packing buffers, 64-byte aligned, kept for the life of the thread.</summary>
    sealed unsafe class PackBuffers
    {
        [ThreadStatic] static PackBuffers? current;
        float[] storageA = [], storageB = [];
        public float* A, B;

        public static PackBuffers ForThisThread(int sizeA, int sizeB)
        {
            var buffers = current ??= new PackBuffers();
            if (buffers.storageA.Length < sizeA + 16) buffers.A = Allocate(sizeA, out buffers.storageA);
            if (buffers.storageB.Length < sizeB + 16) buffers.B = Allocate(sizeB, out buffers.storageB);
            return buffers;
        }

        static float* Allocate(int size, out float[] storage)
        {
            // Pinned-heap arrays never move, so the aligned pointer stays valid; the GC frees them with the thread.
            storage = GC.AllocateUninitializedArray<float>(size + 16, pinned: true);
            nint address = (nint)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(storage));
            return (float*)((address + 63) & ~(nint)63);
        }
    }
}

/// <summary>A k×n right-hand GEMM operand that writes its own panels instead of being stored.</summary>
internal interface IImplicitOperand
{
    /// <summary>Rows of the operand: the shared dimension k of the product.</summary>
    int Rows { get; }

    /// <summary>Columns of the operand: n, the columns of the result.</summary>
    int Columns { get; }

    /// <summary>
    /// Writes rows [k0, k0 + kc) of columns [j0, j0 + cols) into <paramref name="panel"/>, row by row
    /// (<paramref name="nr"/> values a row, zeros after the first <paramref name="cols"/>).
    /// </summary>
    unsafe void Pack(int k0, int kc, int j0, int cols, float* panel, int nr);
}

/// <summary>A right-hand GEMM operand packed once by <see cref="Gemm.Pack"/> for repeated products.</summary>
public sealed class PackedMatrix : IDisposable
{
    PinnedBuffer? buffer;

    internal PackedMatrix(int rows, int columns, int width, GemmIsa isa, PinnedBuffer buffer)
    {
        (Rows, Columns, Width, Isa, this.buffer) = (rows, columns, width, isa, buffer);
    }

    /// <summary>k: rows of op(B).</summary>
    public int Rows { get; }

    /// <summary>n: columns of op(B).</summary>
    public int Columns { get; }

    /// <summary>The micro-kernel path the panels are laid out for.</summary>
    public GemmIsa Isa { get; }

    internal int Width { get; }

    internal bool IsDisposed => buffer is null;

    internal PinnedBuffer Buffer => buffer ?? throw new ObjectDisposedException(nameof(PackedMatrix));

    /// <summary>Returns the packed panels to the pool.</summary>
    public void Dispose()
    {
        if (buffer is null) return;
        PinnedPool.Return(buffer);
        buffer = null;
    }
}

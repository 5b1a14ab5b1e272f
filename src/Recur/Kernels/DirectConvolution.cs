using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Recur.Kernels;

/// <summary>
/// Direct 2-D convolution (groups = 1) for output channels in blocks of 32, on AVX-512F. A tile of 12 consecutive
/// output pixels of one row × 32 filters lives in 24 registers over every tap (c, i, j): each tap loads the 32
/// filters' weights (packed tap-major) and broadcasts the 12 input values straight from a zero-margined copy of the
/// item. No patch matrix is packed — with few filters, packing the implicit im2col panels costs about as much as the
/// products themselves. Each output value is summed by one thread in tap order, so results do not depend on the
/// number of threads.
/// </summary>
[SkipLocalsInit]
internal static unsafe class DirectConvolution
{
    /// <summary>Output pixels of a tile (consecutive along one output row).</summary>
    public const int Pixels = 12;

    /// <summary>Filters of a tile: two 16-lane vectors.</summary>
    public const int Filters = 32;

    static readonly AsyncLocal<bool> disabled = new();

    /// <summary>Whether the direct kernel serves a convolution with these output channels and groups here.</summary>
    public static bool Applies(int outChannels, int groups) =>
        Avx512F.IsSupported && !disabled.Value && groups == 1 && outChannels % Filters == 0;

    /// <summary>Turns the direct kernel off for the calling flow (tests compare it with the GEMM path).</summary>
    internal static IDisposable Off() => FlowOverride.Set(disabled, true);

    /// <summary>The geometry of one convolution: sizes, stride, padding and dilation.</summary>
    public readonly record struct Shape(int Channels, int Height, int Width, int KernelH, int KernelW, int OutH,
        int OutW, (int H, int W) Stride, (int Top, int Left) Pad, (int H, int W) Dilation)
    {
        public int Taps => Channels * KernelH * KernelW;

        /// <summary>Rows of the zero-margined copy: every row a tap reads.</summary>
        public int PaddedHeight => Math.Max(Height + Pad.Top, (OutH - 1) * Stride.H + (KernelH - 1) * Dilation.H + 1);

        /// <summary>Columns of the zero-margined copy: every column a tap of a whole tile reads, even past the last
        /// output pixel of a row (those lanes are computed and dropped).</summary>
        public int PaddedWidth => Math.Max(Width + Pad.Left,
            (OutW - 1 + Pixels) * Stride.W + (KernelW - 1) * Dilation.W + 1);

        public int PaddedLength => Channels * PaddedHeight * PaddedWidth;
    }

    /// <summary>Weights [F, taps] as [F/32][taps][32]: each tap's 32 filters side by side.</summary>
    public static void PackWeights(ReadOnlySpan<float> weight, int filters, int taps, Span<float> packed)
    {
        for (int block = 0; block < filters / Filters; block++)
            for (int t = 0; t < taps; t++)
                for (int f = 0; f < Filters; f++)
                    packed[(block * taps + t) * Filters + f] = weight[(block * Filters + f) * taps + t];
    }

    /// <summary>Copies one item's [C, H, W] input into <paramref name="padded"/> with zero margins.</summary>
    public static void Pad(in Shape s, ReadOnlySpan<float> x, Span<float> padded)
    {
        int ph = s.PaddedHeight, pw = s.PaddedWidth;
        padded[..s.PaddedLength].Clear();
        for (int c = 0; c < s.Channels; c++)
            for (int y = 0; y < s.Height; y++)
                x.Slice((c * s.Height + y) * s.Width, s.Width)
                    .CopyTo(padded.Slice((c * ph + y + s.Pad.Top) * pw + s.Pad.Left, s.Width));
    }

    /// <summary>Offsets into the padded copy of every tap (c, i, j) from a tile's first input position.</summary>
    public static int[] TapOffsets(in Shape s)
    {
        var offsets = new int[s.Taps];
        int pw = s.PaddedWidth, ph = s.PaddedHeight;
        for (int c = 0; c < s.Channels; c++)
            for (int i = 0; i < s.KernelH; i++)
                for (int j = 0; j < s.KernelW; j++)
                    offsets[(c * s.KernelH + i) * s.KernelW + j] = (c * ph + i * s.Dilation.H) * pw + j * s.Dilation.W;
        return offsets;
    }

    /// <summary>
    /// Output row <paramref name="row"/> of one item, every filter: <paramref name="output"/> is the item's [F, OutH,
    /// OutW], <paramref name="bias"/> null or [F]. Kernel rows that fall wholly in the top or bottom zero margin are
    /// skipped (their products are exact zeros, so the sums keep their bits), and a row's last pixels are covered by
    /// tiles of <see cref="NarrowPixels"/> rather than a whole tile's worth of discarded lanes.
    /// </summary>
    public static void Row(in Shape s, float* padded, int* offsets, float* packedWeights, int filters, float* bias,
        float* output, int row)
    {
        float* tile = stackalloc float[Pixels * Filters + 16];
        tile = (float*)(((nint)tile + 63) & ~(nint)63);
        int pixels = s.OutH * s.OutW, pw = s.PaddedWidth;
        float* rowStart = padded + (nint)row * s.Stride.H * pw;
        // kernel rows i whose input row row·sh − top + i·dh lies inside the image
        int top = row * s.Stride.H - s.Pad.Top, dh = s.Dilation.H;
        int firstRow = top >= 0 ? 0 : (-top + dh - 1) / dh;
        int endRow = top > s.Height - 1 ? 0 : Math.Min(s.KernelH, (s.Height - 1 - top) / dh + 1);
        var range = new TapRange(s.Channels, s.KernelH * s.KernelW, firstRow * s.KernelW,
            Math.Max(0, endRow - firstRow) * s.KernelW);
        for (int block = 0; block < filters / Filters; block++)
        {
            float* weights = packedWeights + (nint)block * s.Taps * Filters;
            float* blockBias = bias == null ? null : bias + block * Filters;
            for (int first = 0; first < s.OutW;)
            {
                int left = s.OutW - first, count = left > 2 * NarrowPixels ? Pixels : NarrowPixels;
                float* x = rowStart + (nint)first * s.Stride.W;
                if (count == Pixels) Tile(x, s.Stride.W, offsets, range, weights, blockBias, tile);
                else NarrowTile(x, s.Stride.W, offsets, range, weights, blockBias, tile);
                count = Math.Min(count, left);
                float* target = output + (nint)block * Filters * pixels + (nint)row * s.OutW + first;
                // all 16 lanes when they stay inside the row: the lanes past the tile's end are rewritten by the
                // next tile, on this thread
                var mask = Vector512.LessThan(Vector512<int>.Indices,
                    Vector512.Create(first + 16 <= s.OutW ? 16 : count)).AsSingle();
                WriteTransposed(tile, target, pixels, mask);
                WriteTransposed(tile + 16, target + 16 * (nint)pixels, pixels, mask);
                first += count;
            }
        }
    }

    /// <summary>
    /// Writes 16 filters of a tile ([pixel][filter], rows 32 floats apart) to the output's [filter][pixel] layout:
    /// filter f's pixels go to <paramref name="target"/> + f·<paramref name="pixels"/>, the lanes of <paramref
    /// name="mask"/> only. A 16 × 16 transpose in registers (the rows past the tile's 12 are zeros): pairs of rows
    /// interleaved by element, then by pairs of elements, then 128-bit lanes gathered in two steps — 64 shuffles and
    /// 16 stores where element-wise copies took 384 scattered ones.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void WriteTransposed(float* tile, float* target, int pixels, Vector512<float> mask)
    {
        Vector512<float> Row(int p) => p < Pixels ? Vector512.Load(tile + p * Filters) : Vector512<float>.Zero;
        bool whole = mask.AsInt32() == Vector512<int>.AllBitsSet;
        void Store(float* at, Vector512<float> value)
        {
            if (whole) value.Store(at);
            else Avx512F.MaskStore(at, mask, value);
        }
        var t = stackalloc Vector512<float>[16];
        for (int p = 0; p < 16; p += 2)
        {
            var (a, b) = (Row(p), Row(p + 1));
            t[p] = Avx512F.UnpackLow(a, b);
            t[p + 1] = Avx512F.UnpackHigh(a, b);
        }
        var u = stackalloc Vector512<float>[16];
        for (int q = 0; q < 16; q += 4)
            for (int half = 0; half < 2; half++)
            {
                Vector512<double> a = t[q + half].AsDouble(), b = t[q + half + 2].AsDouble();
                u[q + 2 * half] = Avx512F.UnpackLow(a, b).AsSingle();
                u[q + 2 * half + 1] = Avx512F.UnpackHigh(a, b).AsSingle();
            }
        // u[4r + k] holds columns k, k + 4, k + 8, k + 12 (one per 128-bit lane) of rows 4r … 4r + 3
        for (int k = 0; k < 4; k++)
        {
            var even0 = Avx512F.Shuffle4x128(u[k], u[4 + k], 0x88);
            var even1 = Avx512F.Shuffle4x128(u[8 + k], u[12 + k], 0x88);
            var odd0 = Avx512F.Shuffle4x128(u[k], u[4 + k], 0xDD);
            var odd1 = Avx512F.Shuffle4x128(u[8 + k], u[12 + k], 0xDD);
            Store(target + (nint)k * pixels, Avx512F.Shuffle4x128(even0, even1, 0x88));
            Store(target + (nint)(k + 8) * pixels, Avx512F.Shuffle4x128(even0, even1, 0xDD));
            Store(target + (nint)(k + 4) * pixels, Avx512F.Shuffle4x128(odd0, odd1, 0x88));
            Store(target + (nint)(k + 12) * pixels, Avx512F.Shuffle4x128(odd0, odd1, 0xDD));
        }
    }

    /// <summary>Output pixels of a narrow tile, for the end of a row.</summary>
    public const int NarrowPixels = 4;

    /// <summary>The taps a tile sums: in each of <paramref name="Channels"/> runs of <paramref name="PerChannel"/>
    /// taps, the <paramref name="Count"/> from <paramref name="First"/> on.</summary>
    readonly record struct TapRange(int Channels, int PerChannel, int First, int Count);

    /// <summary>12 pixels × 32 filters over every tap into <paramref name="tile"/> ([pixel][filter]).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Tile(float* x, int step, int* offsets, TapRange taps, float* weights, float* bias, float* tile)
    {
        var start0 = bias == null ? Vector512<float>.Zero : Vector512.Load(bias);
        var start1 = bias == null ? Vector512<float>.Zero : Vector512.Load(bias + 16);
        Vector512<float> c00 = start0, c01 = start1, c10 = start0, c11 = start1, c20 = start0, c21 = start1;
        Vector512<float> c30 = start0, c31 = start1, c40 = start0, c41 = start1, c50 = start0, c51 = start1;
        Vector512<float> c60 = start0, c61 = start1, c70 = start0, c71 = start1, c80 = start0, c81 = start1;
        Vector512<float> c90 = start0, c91 = start1, c100 = start0, c101 = start1, c110 = start0, c111 = start1;
        nint s = step;
        for (int c = 0; c < taps.Channels; c++)
        {
            int start = c * taps.PerChannel + taps.First;
            float* w = weights + (nint)start * Filters;
            for (int t = start; t < start + taps.Count; t++)
            {
                float* px = x + offsets[t];
                var w0 = Vector512.Load(w); var w1 = Vector512.Load(w + 16);
                w += Filters;
                var a = Vector512.Create(px[0]);
                c00 = Avx512F.FusedMultiplyAdd(a, w0, c00); c01 = Avx512F.FusedMultiplyAdd(a, w1, c01);
                a = Vector512.Create(px[s]);
                c10 = Avx512F.FusedMultiplyAdd(a, w0, c10); c11 = Avx512F.FusedMultiplyAdd(a, w1, c11);
                a = Vector512.Create(px[2 * s]);
                c20 = Avx512F.FusedMultiplyAdd(a, w0, c20); c21 = Avx512F.FusedMultiplyAdd(a, w1, c21);
                a = Vector512.Create(px[3 * s]);
                c30 = Avx512F.FusedMultiplyAdd(a, w0, c30); c31 = Avx512F.FusedMultiplyAdd(a, w1, c31);
                a = Vector512.Create(px[4 * s]);
                c40 = Avx512F.FusedMultiplyAdd(a, w0, c40); c41 = Avx512F.FusedMultiplyAdd(a, w1, c41);
                a = Vector512.Create(px[5 * s]);
                c50 = Avx512F.FusedMultiplyAdd(a, w0, c50); c51 = Avx512F.FusedMultiplyAdd(a, w1, c51);
                a = Vector512.Create(px[6 * s]);
                c60 = Avx512F.FusedMultiplyAdd(a, w0, c60); c61 = Avx512F.FusedMultiplyAdd(a, w1, c61);
                a = Vector512.Create(px[7 * s]);
                c70 = Avx512F.FusedMultiplyAdd(a, w0, c70); c71 = Avx512F.FusedMultiplyAdd(a, w1, c71);
                a = Vector512.Create(px[8 * s]);
                c80 = Avx512F.FusedMultiplyAdd(a, w0, c80); c81 = Avx512F.FusedMultiplyAdd(a, w1, c81);
                a = Vector512.Create(px[9 * s]);
                c90 = Avx512F.FusedMultiplyAdd(a, w0, c90); c91 = Avx512F.FusedMultiplyAdd(a, w1, c91);
                a = Vector512.Create(px[10 * s]);
                c100 = Avx512F.FusedMultiplyAdd(a, w0, c100); c101 = Avx512F.FusedMultiplyAdd(a, w1, c101);
                a = Vector512.Create(px[11 * s]);
                c110 = Avx512F.FusedMultiplyAdd(a, w0, c110); c111 = Avx512F.FusedMultiplyAdd(a, w1, c111);
            }
        }
        c00.Store(tile); c01.Store(tile + 16); c10.Store(tile + 32); c11.Store(tile + 48);
        c20.Store(tile + 64); c21.Store(tile + 80); c30.Store(tile + 96); c31.Store(tile + 112);
        c40.Store(tile + 128); c41.Store(tile + 144); c50.Store(tile + 160); c51.Store(tile + 176);
        c60.Store(tile + 192); c61.Store(tile + 208); c70.Store(tile + 224); c71.Store(tile + 240);
        c80.Store(tile + 256); c81.Store(tile + 272); c90.Store(tile + 288); c91.Store(tile + 304);
        c100.Store(tile + 320); c101.Store(tile + 336); c110.Store(tile + 352); c111.Store(tile + 368);
    }

    /// <summary><see cref="NarrowPixels"/> pixels × 32 filters over every tap into the first pixels of <paramref
    /// name="tile"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void NarrowTile(float* x, int step, int* offsets, TapRange taps, float* weights, float* bias, float* tile)
    {
        var start0 = bias == null ? Vector512<float>.Zero : Vector512.Load(bias);
        var start1 = bias == null ? Vector512<float>.Zero : Vector512.Load(bias + 16);
        Vector512<float> c00 = start0, c01 = start1, c10 = start0, c11 = start1;
        Vector512<float> c20 = start0, c21 = start1, c30 = start0, c31 = start1;
        nint s = step;
        for (int c = 0; c < taps.Channels; c++)
        {
            int start = c * taps.PerChannel + taps.First;
            float* w = weights + (nint)start * Filters;
            for (int t = start; t < start + taps.Count; t++)
            {
                float* px = x + offsets[t];
                var w0 = Vector512.Load(w); var w1 = Vector512.Load(w + 16);
                w += Filters;
                var a = Vector512.Create(px[0]);
                c00 = Avx512F.FusedMultiplyAdd(a, w0, c00); c01 = Avx512F.FusedMultiplyAdd(a, w1, c01);
                a = Vector512.Create(px[s]);
                c10 = Avx512F.FusedMultiplyAdd(a, w0, c10); c11 = Avx512F.FusedMultiplyAdd(a, w1, c11);
                a = Vector512.Create(px[2 * s]);
                c20 = Avx512F.FusedMultiplyAdd(a, w0, c20); c21 = Avx512F.FusedMultiplyAdd(a, w1, c21);
                a = Vector512.Create(px[3 * s]);
                c30 = Avx512F.FusedMultiplyAdd(a, w0, c30); c31 = Avx512F.FusedMultiplyAdd(a, w1, c31);
            }
        }
        c00.Store(tile); c01.Store(tile + 16); c10.Store(tile + 32); c11.Store(tile + 48);
        c20.Store(tile + 64); c21.Store(tile + 80); c30.Store(tile + 96); c31.Store(tile + 112);
    }
}

using System.Numerics;
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Recur.Kernels;

/// <summary>
/// 2-D convolution (cross-correlation, groups = 1, no dilation) through the discrete Fourier transform, for kernels
/// large enough that it takes less time than the product over every tap — Deep Speech 2's 41 × 11 filters over a
/// spectrogram take about half. A stride s splits the zero-padded input and the kernel into s_h·s_w polyphase planes
/// (plane (p, q) holds the rows p, p + s_h, … and the columns q, q + s_w, …), so that the strided correlation is a sum
/// of unit-stride ones. The output is cut into tiles (overlap-save): each is exact as a circular correlation over an
/// N₁ × N₂ window of the planes (powers of two), small enough for the first-level cache, and the kernel spectra of a
/// filter pair serve all the tiles of an item while they are in the second. Filters are taken in pairs: with
/// V = conj(DFT(w₁ − i·w₂)) the product DFT(x)·V is DFT(y₁) + i·DFT(y₂), and one inverse transform gives both
/// filters' outputs as its real and imaginary parts. The transforms are radix 4 over columns (every column of a window
/// at once, a vector of columns per butterfly), with a transpose between the two axes; forward ones leave the
/// spectrum in bit-reversed order, which the inverse ones read, so no reordering pass is made. Each output value is
/// computed by one thread in a fixed order, so results do not depend on the number of threads; they differ from the
/// tap-by-tap sums by rounding, about 1e-6 of the output's scale.
/// </summary>
[SkipLocalsInit]
internal static unsafe class FftConvolution
{
    /// <summary>0: chosen by cost; 1: never; 2: always when the geometry allows (tests).</summary>
    static readonly AsyncLocal<int> mode = new();

    /// <summary>Turns the transform path off for the calling flow (tests compare it with the other paths).</summary>
    internal static IDisposable Off() => FlowOverride.Set(mode, 1);

    /// <summary>Uses the transform path whenever the geometry allows it, whatever its cost (tests).</summary>
    internal static IDisposable Force() => FlowOverride.Set(mode, 2);

    /// <summary>
    /// The transform sizes of one convolution: the output is cut into tiles of <see cref="TileH"/> × <see
    /// cref="TileW"/>, each computed from an N1 × N2 window of the polyphase planes (overlap-save), so that one
    /// window's planes fit the first-level cache and every filter pair's spectra serve all the tiles of an item while
    /// they are in the second.
    /// </summary>
    public readonly record struct Plan(DirectConvolution.Shape Shape, int Filters, int N1, int N2)
    {
        /// <summary>Polyphase planes of one item (channels × s_h × s_w).</summary>
        public int Planes => Shape.Channels * Shape.Stride.H * Shape.Stride.W;

        /// <summary>Filter pairs (an odd last filter is paired with zeros).</summary>
        public int Pairs => (Filters + 1) / 2;

        /// <summary>Rows of a polyphase plane's kernel.</summary>
        public int KernelH => (Shape.KernelH + Shape.Stride.H - 1) / Shape.Stride.H;

        /// <summary>Columns of a polyphase plane's kernel.</summary>
        public int KernelW => (Shape.KernelW + Shape.Stride.W - 1) / Shape.Stride.W;

        /// <summary>Output rows of a tile: the rows of a window whose correlation does not wrap around.</summary>
        public int TileH => N1 - KernelH + 1;

        /// <summary>Output columns of a tile.</summary>
        public int TileW => N2 - KernelW + 1;

        /// <summary>Tiles down the output.</summary>
        public int TilesH => (Shape.OutH + TileH - 1) / TileH;

        /// <summary>Tiles across the output.</summary>
        public int TilesW => (Shape.OutW + TileW - 1) / TileW;

        /// <summary>Channel c and phase (p, q) of polyphase plane <paramref name="plane"/>: its rows p, p + s_h, …
        /// and columns q, q + s_w, … of channel c.</summary>
        public (int C, int P, int Q) Phase(int plane)
        {
            int sh = Shape.Stride.H, sw = Shape.Stride.W;
            return (plane / (sh * sw), plane / sw % sh, plane % sw);
        }

        /// <summary>The first output row and column of tile <paramref name="tile"/> (row-major over the tiles), which
        /// are also its window's first row and column in every polyphase plane.</summary>
        public (int I0, int J0) Origin(int tile) => (tile / TilesW * TileH, tile % TilesW * TileW);

        /// <summary>
        /// Where tile <paramref name="tile"/>'s window of polyphase plane <paramref name="plane"/> lies in the input:
        /// its channel, the input row of window row 0 (window row i is <see cref="Window.Row"/> + i·s_h, outside the
        /// input when not in [0, H)), the input column of window column 0 (column j is that + j·s_w), and the window
        /// columns [From, To) that fall inside the input.
        /// </summary>
        public Window WindowOf(int tile, int plane)
        {
            var s = Shape;
            var (c, p, q) = Phase(plane);
            var (i0, j0) = Origin(tile);
            int sw = s.Stride.W, left = j0 * sw + q - s.Pad.Left, from = left >= 0 ? 0 : (-left + sw - 1) / sw;
            int to = left >= s.Width ? 0 : Math.Min(N2, (s.Width - 1 - left) / sw + 1);
            return new Window(c, i0 * s.Stride.H + p - s.Pad.Top, left, from, Math.Max(from, to));
        }

        /// <summary>
        /// Floats of one part (real or imaginary) of a complex plane, [N1][N2] or [N2][N1] with rows <see
        /// cref="Padding"/> floats longer than the transform and a line between the parts: strides of powers of two
        /// would put a column's values in the same few cache sets.
        /// </summary>
        public int Part => Math.Max(N1 * (N2 + Padding), N2 * (N1 + Padding)) + 2 * Padding;

        /// <summary>Floats of one complex plane: the real part, then the imaginary part.</summary>
        public int PlaneLength => 2 * Part;

        /// <summary>Floats of the kernel spectra of every pair and plane.</summary>
        public long SpectraLength => (long)Pairs * Planes * PlaneLength;

        /// <summary>Tiles whose spectra are held at once: as many as fit half a megabyte (a second-level cache
        /// holds them and one pair's kernel spectra), in groups of even size.</summary>
        public int GroupTiles
        {
            get
            {
                int tiles = TilesH * TilesW, fit = Math.Max(1, (1 << 17) / (Planes * PlaneLength));
                int groups = (tiles + fit - 1) / fit;
                return (tiles + groups - 1) / groups;
            }
        }

        /// <summary>Floats of one worker's scratch in the backward: one window's spectra of every plane, every pair's
        /// output-gradient spectra, a sum and a transform buffer.</summary>
        public long BackwardScratchLength => ((long)Planes + Pairs + 2) * PlaneLength;

        /// <summary>Floats of one worker's scratch: the spectra of a group of tiles, a product and a transform
        /// buffer.</summary>
        public long ScratchLength => ((long)GroupTiles * Planes + 2) * PlaneLength;

        /// <summary>
        /// Estimated time of one item in units of one transform operation: its windows' forward transforms and one
        /// inverse per filter pair and window (5·n·log₂ n each), and the products (8 per complex product), which stream
        /// from the second-level cache and cost <see cref="ProductWeight"/> as much, three times more again when one
        /// pair's kernel spectra outgrow half a megabyte; windows beyond the first-level cache count twice.
        /// </summary>
        public double ItemCost => TilesH * TilesW * (Planes + Pairs) * Transform + ProductsCost;

        /// <summary>Estimated time of the kernel spectra, in the units of <see cref="ItemCost"/>.</summary>
        public double KernelCost => (double)Pairs * Planes * Transform;

        double Transform
        {
            get
            {
                double size = (double)N1 * N2;
                return 5 * size * Math.Log2(size) * (size > 4096 ? 2 : 1);
            }
        }

        double ProductsCost => 8.0 * TilesH * TilesW * Pairs * Planes * N1 * N2 * ProductWeight
            * (4L * Planes * PlaneLength > (1 << 19) ? 3 : 1);
    }

    /// <summary>A window's place in the input (<see cref="Plan.WindowOf"/>).</summary>
    public readonly record struct Window(int Channel, int Row, int Left, int From, int To);

    /// <summary>Time of an operation of the products against one of the transforms (measured on Zen 5).</summary>
    const double ProductWeight = 2.7;

    /// <summary>Time of a multiply-add of the direct kernel, then of the GEMM path, against a transform operation
    /// (measured on Zen 5, two threads).</summary>
    const double DirectWeight = 0.4, GemmWeight = 1.15;

    /// <summary>
    /// The plan for this convolution when the transform path serves it here: groups = 1, no dilation, vector
    /// hardware, and (unless forced) an estimated time (<see cref="Plan.ItemCost"/>) at least a quarter below that of
    /// the direct kernel or the GEMM path, whichever would run. Windows are the powers of two from 16 to 256 a side
    /// whose estimate is least. The estimates were fitted on Zen 5 to convolutions from 1 to 32 channels, kernels
    /// from 7 × 7 to 41 × 11 and strides 1 to 4, and pick the faster path on each of them.
    /// </summary>
    public static Plan? Choose(in DirectConvolution.Shape s, int batch, int filters, int groups)
    {
        int m = mode.Value;
        if (m == 1 || groups != 1 || s.Dilation != (1, 1) || !Vector256.IsHardwareAccelerated || filters < 1
            || batch < 1)
            return null;
        Plan? best = null;
        double bestCost = double.MaxValue;
        for (int n1 = 16; n1 <= 256; n1 *= 2)
            for (int n2 = 16; n2 <= 256; n2 *= 2)
            {
                var plan = new Plan(s, filters, n1, n2);
                if (plan.TileH < 1 || plan.TileW < 1 || plan.SpectraLength > (1L << 24)
                    || plan.ScratchLength > (1L << 24) || plan.BackwardScratchLength > (1L << 24)) continue;
                if (plan.ItemCost < bestCost) (best, bestCost) = (plan, plan.ItemCost);
            }
        if (best is not { } chosen || m == 2) return best;
        double fft = batch * chosen.ItemCost + chosen.KernelCost;
        double direct = 2.0 * batch * filters * s.Taps * s.OutH * s.OutW
            * (DirectConvolution.Applies(filters, groups) ? DirectWeight : GemmWeight);
        return 1.25 * fft <= direct ? chosen : null;
    }

    /// <summary>
    /// Kernel spectra of one pair of filters and one polyphase plane into <paramref name="spectrum"/> (one complex
    /// plane, transposed bit-reversed order): V = conj(DFT(w₁ − i·w₂)) / (N1·N2). <paramref name="weight"/> is
    /// [F, C, KH, KW]; <paramref name="scratch"/> holds one complex plane (<see cref="Plan.PlaneLength"/> floats).
    /// </summary>
    public static void KernelSpectrum(in Plan plan, float* weight, int pair, int plane, float* spectrum, float* scratch)
    {
        var s = plan.Shape;
        int n1 = plan.N1, n2 = plan.N2, part = plan.Part, sh = s.Stride.H, sw = s.Stride.W;
        var (c, p, q) = plan.Phase(plane);
        float* re = scratch, im = scratch + part;
        new Span<float>(scratch, 2 * part).Clear();
        for (int half = 0; half < 2; half++)
        {
            int f = 2 * pair + half;
            if (f >= plan.Filters) break;
            float* target = half == 0 ? re : im;
            float sign = half == 0 ? 1f : -1f;
            float* w = weight + ((nint)f * s.Channels + c) * s.KernelH * s.KernelW;
            for (int a = 0, i = p; i < s.KernelH; a++, i += sh)
                for (int b = 0, j = q; j < s.KernelW; b++, j += sw)
                    target[a * (n2 + Padding) + b] = sign * w[i * s.KernelW + j];
        }
        Forward(re, im, spectrum, spectrum + part, n1, n2);
        // the inverse transforms' 1/(N1·N2) is taken here, once per filter pair rather than at every output
        float scale = 1f / (n1 * n2);
        TensorPrimitives.Multiply(new ReadOnlySpan<float>(spectrum, part), scale, new Span<float>(spectrum, part));
        TensorPrimitives.Multiply(new ReadOnlySpan<float>(spectrum + part, part), -scale,
            new Span<float>(spectrum + part, part));
    }

    /// <summary>
    /// One item: <paramref name="x"/> its [C, H, W] input, <paramref name="spectra"/> every pair's kernel spectra
    /// (<see cref="KernelSpectrum"/>, pair-major), <paramref name="bias"/> null or [F], <paramref name="y"/> its
    /// [F, OutH, OutW] output; <paramref name="scratch"/> holds <see cref="Plan.ScratchLength"/> floats.
    /// </summary>
    public static void Item(in Plan plan, float* x, float* spectra, float* bias, float* y, float* scratch)
    {
        var s = plan.Shape;
        int n1 = plan.N1, n2 = plan.N2, part = plan.Part, planes = plan.Planes, length = plan.PlaneLength;
        int tiles = plan.TilesH * plan.TilesW, group = plan.GroupTiles;
        float* product = scratch + (nint)group * planes * length, work = product + length;
        int pixels = s.OutH * s.OutW;
        for (int first = 0; first < tiles; first += group)
        {
            int count = Math.Min(group, tiles - first);
            for (int t = 0; t < count; t++)
            {
                int tile = first + t;
                for (int plane = 0; plane < planes; plane++)
                    WindowSpectrum(plan, x, tile, plane, scratch + ((nint)t * planes + plane) * length, work);
            }
            for (int pair = 0; pair < plan.Pairs; pair++)
            {
                float* pairSpectra = spectra + (nint)pair * planes * length;
                for (int t = 0; t < count; t++)
                {
                    Products(scratch + (nint)t * planes * length, pairSpectra, planes, part, n1, n2, product);
                    Inverse(product, product + part, work, work + part, n1, n2);
                    var (i0, j0) = plan.Origin(first + t);
                    int rows = Math.Min(plan.TileH, s.OutH - i0), columns = Math.Min(plan.TileW, s.OutW - j0);
                    for (int half = 0; half < 2; half++)
                    {
                        int f = 2 * pair + half;
                        if (f >= plan.Filters) break;
                        float* source = work + half * part, target = y + (nint)f * pixels + (nint)i0 * s.OutW + j0;
                        float b = bias == null ? 0f : bias[f];
                        for (int i = 0; i < rows; i++)
                            AddBias(source + i * (n2 + Padding), target + i * s.OutW, columns, b);
                    }
                }
            }
        }
    }

    /// <summary>
    /// The spectrum of one tile's window of polyphase plane (c, p, q) of an item: window row i, column j is input row
    /// (i0 + i)·s_h + p − top, column (j0 + j)·s_w + q − left (zero outside the input). <paramref name="work"/> holds
    /// one complex plane.
    /// </summary>
    static void WindowSpectrum(in Plan plan, float* x, int tile, int plane, float* spectrum, float* work)
    {
        var s = plan.Shape;
        int n1 = plan.N1, n2 = plan.N2, part = plan.Part, sh = s.Stride.H, sw = s.Stride.W;
        var w = plan.WindowOf(tile, plane);
        new Span<float>(work, plan.PlaneLength).Clear();
        float* channel = x + (nint)w.Channel * s.Height * s.Width;
        for (int i = 0, row = w.Row; i < n1 && w.From < w.To; i++, row += sh)
        {
            if ((uint)row >= (uint)s.Height) continue;
            float* source = channel + (nint)row * s.Width + w.Left, line = work + i * (n2 + Padding);
            if (sw == 1)
                new ReadOnlySpan<float>(source + w.From, w.To - w.From).CopyTo(new Span<float>(line + w.From,
                    w.To - w.From));
            else
                for (int j = w.From; j < w.To; j++) line[j] = source[j * sw];
        }
        Forward(work, work + part, spectrum, spectrum + part, n1, n2);
    }

    /// <summary>
    /// The backward of one item through the transforms. For each tile, each filter pair's output gradient (two real
    /// planes as one complex one, Z = DY₁ + i·DY₂) is transformed once; the input gradient of plane π is the real
    /// part of the inverse of Σ_pairs Z·conj(V_π) (the imaginary part holds cross terms), added onto the input
    /// positions the tile's window covers (overlap-add); the weight gradient's spectra gather X_π·conj(Z), whose
    /// inverse is dW₁ − i·dW₂, in <paramref name="weightSpectra"/> (pair-major, as the kernel spectra) across tiles
    /// and items. <paramref name="dx"/> or <paramref name="weightSpectra"/> may be null; <paramref name="scratch"/>
    /// holds <see cref="Plan.BackwardScratchLength"/> floats.
    /// </summary>
    public static void BackwardItem(in Plan plan, float* x, float* dy, float* spectra, float* dx, float* weightSpectra,
        float* scratch)
    {
        var s = plan.Shape;
        int n1 = plan.N1, n2 = plan.N2, part = plan.Part, planes = plan.Planes, length = plan.PlaneLength;
        int pairs = plan.Pairs, pixels = s.OutH * s.OutW;
        float* window = scratch, gradients = window + (nint)planes * length, sum = gradients + (nint)pairs * length;
        float* work = sum + length;
        for (int tile = 0; tile < plan.TilesH * plan.TilesW; tile++)
        {
            var (i0, j0) = plan.Origin(tile);
            int rows = Math.Min(plan.TileH, s.OutH - i0), columns = Math.Min(plan.TileW, s.OutW - j0);
            for (int pair = 0; pair < pairs; pair++)
            {
                new Span<float>(work, length).Clear();
                for (int half = 0; half < 2 && 2 * pair + half < plan.Filters; half++)
                {
                    float* source = dy + (nint)(2 * pair + half) * pixels + (nint)i0 * s.OutW + j0;
                    for (int i = 0; i < rows; i++)
                        new ReadOnlySpan<float>(source + i * s.OutW, columns).CopyTo(new Span<float>(work + half * part
                            + i * (n2 + Padding), columns));
                }
                float* z = gradients + (nint)pair * length;
                Forward(work, work + part, z, z + part, n1, n2);
            }
            if (dx != null)
                for (int plane = 0; plane < planes; plane++)
                {
                    new Span<float>(sum, length).Clear();
                    for (int pair = 0; pair < pairs; pair++)
                        MultiplyConjugateAdd(gradients + (nint)pair * length, spectra + ((nint)pair * planes + plane)
                            * length, part, n1, n2, sum);
                    Inverse(sum, sum + part, work, work + part, n1, n2);
                    AddWindow(plan, work, tile, plane, dx);
                }
            if (weightSpectra != null)
                for (int plane = 0; plane < planes; plane++)
                {
                    WindowSpectrum(plan, x, tile, plane, window + (nint)plane * length, work);
                    for (int pair = 0; pair < pairs; pair++)
                        MultiplyConjugateAdd(window + (nint)plane * length, gradients + (nint)pair * length, part, n1,
                            n2, weightSpectra + ((nint)pair * planes + plane) * length);
                }
        }
    }

    /// <summary>Adds the real part of a window ([N1][N2], natural order) of polyphase plane <paramref name="plane"/>
    /// onto the input positions it covers in <paramref name="dx"/> (one item's [C, H, W]).</summary>
    static void AddWindow(in Plan plan, float* window, int tile, int plane, float* dx)
    {
        var s = plan.Shape;
        int n1 = plan.N1, n2 = plan.N2, sh = s.Stride.H, sw = s.Stride.W;
        var w = plan.WindowOf(tile, plane);
        float* channel = dx + (nint)w.Channel * s.Height * s.Width;
        for (int i = 0, row = w.Row; i < n1 && w.From < w.To; i++, row += sh)
        {
            if ((uint)row >= (uint)s.Height) continue;
            float* target = channel + (nint)row * s.Width + w.Left, line = window + i * (n2 + Padding);
            if (sw == 1)
            {
                var into = new Span<float>(target + w.From, w.To - w.From);
                TensorPrimitives.Add(into, new ReadOnlySpan<float>(line + w.From, w.To - w.From), into);
            }
            else
                for (int j = w.From; j < w.To; j++) target[j * sw] += line[j];
        }
    }

    /// <summary>
    /// The weight gradient of one filter pair and polyphase plane from its gathered spectra (<see
    /// cref="BackwardItem"/>; overwritten): the inverse is N1·N2·(dW₁ − i·dW₂) over the plane's taps, added into
    /// <paramref name="dw"/> ([F, C, KH, KW]). <paramref name="work"/> holds one complex plane.
    /// </summary>
    public static void WeightGradient(in Plan plan, float* spectrum, int pair, int plane, float* dw, float* work)
    {
        var s = plan.Shape;
        int n1 = plan.N1, n2 = plan.N2, part = plan.Part, sh = s.Stride.H, sw = s.Stride.W;
        var (c, p, q) = plan.Phase(plane);
        Inverse(spectrum, spectrum + part, work, work + part, n1, n2);
        float scale = 1f / (n1 * n2);
        for (int half = 0; half < 2 && 2 * pair + half < plan.Filters; half++)
        {
            float* target = dw + ((nint)(2 * pair + half) * s.Channels + c) * s.KernelH * s.KernelW;
            float sign = half == 0 ? scale : -scale;
            for (int a = 0, i = p; i < s.KernelH; a++, i += sh)
                for (int b = 0, j = q; j < s.KernelW; b++, j += sw)
                    target[i * s.KernelW + j] += sign * work[half * part + a * (n2 + Padding) + b];
        }
    }

    /// <summary>acc += a·conj(b) elementwise over complex planes [rows][columns] with padded rows.</summary>
    static void MultiplyConjugateAdd(float* a, float* b, int part, int columns, int rows, float* acc)
    {
        for (int row = 0; row < rows; row++)
        {
            nint at = (nint)row * (columns + Padding);
            int k = 0;
            if (Vector512.IsHardwareAccelerated)
                for (; k <= columns - 16; k += 16)
                {
                    float* ap = a + at + k, bp = b + at + k, cp = acc + at + k;
                    var ar = Vector512.Load(ap);
                    var ai = Vector512.Load(ap + part);
                    var br = Vector512.Load(bp);
                    var bi = Vector512.Load(bp + part);
                    var r = Vector512.FusedMultiplyAdd(ar, br, Vector512.Load(cp));
                    var i = Vector512.FusedMultiplyAdd(ai, br, Vector512.Load(cp + part));
                    Vector512.FusedMultiplyAdd(ai, bi, r).Store(cp);
                    Vector512.FusedMultiplyAdd(-ar, bi, i).Store(cp + part);
                }
            for (; k < columns; k += 8)
            {
                float* ap = a + at + k, bp = b + at + k, cp = acc + at + k;
                var ar = Vector256.Load(ap);
                var ai = Vector256.Load(ap + part);
                var br = Vector256.Load(bp);
                var bi = Vector256.Load(bp + part);
                var r = Vector256.FusedMultiplyAdd(ar, br, Vector256.Load(cp));
                var i = Vector256.FusedMultiplyAdd(ai, br, Vector256.Load(cp + part));
                Vector256.FusedMultiplyAdd(ai, bi, r).Store(cp);
                Vector256.FusedMultiplyAdd(-ar, bi, i).Store(cp + part);
            }
        }
    }

    /// <summary><paramref name="to"/>[k] = <paramref name="from"/>[k] + <paramref name="bias"/> for k &lt;
    /// <paramref name="count"/>.</summary>
    static void AddBias(float* from, float* to, int count, float bias)
    {
        int k = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            var b = Vector512.Create(bias);
            for (; k <= count - 16; k += 16) (Vector512.Load(from + k) + b).Store(to + k);
        }
        for (; k <= count - 8; k += 8) (Vector256.Load(from + k) + Vector256.Create(bias)).Store(to + k);
        for (; k < count; k++) to[k] = from[k] + bias;
    }

    /// <summary>
    /// The 2-D forward transform of the complex plane (<paramref name="re"/>, <paramref name="im"/>) [N1][N2]
    /// (overwritten) into (<paramref name="outRe"/>, <paramref name="outIm"/>) [N2][N1], both axes in bit-reversed
    /// order; rows are <see cref="Padding"/> floats longer than the transform.
    /// </summary>
    static void Forward(float* re, float* im, float* outRe, float* outIm, int n1, int n2)
    {
        ColumnsForward(re, im, n1, n2);
        Transpose(re, outRe, n1, n2);
        Transpose(im, outIm, n1, n2);
        ColumnsForward(outRe, outIm, n2, n1);
    }

    /// <summary>Floats a row of a plane has beyond the transform's length.</summary>
    const int Padding = 16;

    /// <summary>
    /// The inverse of <see cref="Forward"/> without the 1/(N1·N2) factor: (<paramref name="re"/>, <paramref
    /// name="im"/>) [N2][N1] in bit-reversed order (overwritten) into (<paramref name="outRe"/>, <paramref
    /// name="outIm"/>) [N1][N2] in natural order.
    /// </summary>
    static void Inverse(float* re, float* im, float* outRe, float* outIm, int n1, int n2)
    {
        ColumnsInverse(re, im, n2, n1);
        Transpose(re, outRe, n2, n1);
        Transpose(im, outIm, n2, n1);
        ColumnsInverse(outRe, outIm, n1, n2);
    }

    /// <summary>cos and −sin of 2πk/n for k &lt; n, by n (a power of two up to 256).</summary>
    static readonly float[][] cosines = new float[9][], sines = new float[9][];

    static (float[] Cos, float[] Sin) Twiddles(int n)
    {
        int log = BitOperations.Log2((uint)n);
        var cos = Volatile.Read(ref cosines[log]);
        if (cos != null) return (cos, Volatile.Read(ref sines[log])!);
        var c = new float[n];
        var s = new float[n];
        for (int k = 0; k < n; k++)
        {
            double angle = 2 * Math.PI * k / n;
            c[k] = (float)Math.Cos(angle);
            s[k] = (float)-Math.Sin(angle);
        }
        Volatile.Write(ref sines[log], s);
        Volatile.Write(ref cosines[log], c);
        return (c, s);
    }

    /// <summary>Columns a transform pass takes at once: two vectors.</summary>
    const int Strip = 32;

    /// <summary>
    /// Decimation in frequency along the rows of [n][width] (every column a transform of length n, rows <see
    /// cref="Padding"/> floats longer): natural order in, bit-reversed out, twiddles e^(−2πik/n). Stages go in pairs
    /// (radix 4: half the passes over the data of radix 2, the same order out), with one radix-2 stage last when
    /// log₂ n is odd; a strip of columns at a time goes through every stage, so that it stays in the first-level
    /// cache.
    /// </summary>
    static void ColumnsForward(float* re, float* im, int n, int width)
    {
        var (cos, sin) = Twiddles(n);
        nint stride = width + Padding;
        for (int column = 0; column < width; column += Strip)
        {
            int count = Math.Min(Strip, width - column);
            float* r = re + column, i = im + column;
            int len = n;
            for (; len >= 4; len >>= 2)
            {
                int quarter = len >> 2, step = n / len;
                for (int start = 0; start < n; start += len)
                    for (int u = 0; u < quarter; u++)
                    {
                        nint o = (start + u) * stride, q = quarter * stride;
                        Radix4Forward(r + o, i + o, q, count, cos[u * step], sin[u * step], cos[2 * u * step],
                            sin[2 * u * step], cos[3 * u * step], sin[3 * u * step]);
                    }
            }
            if (len == 2)
                for (int start = 0; start < n; start += 2)
                    Radix2(r + start * stride, i + start * stride, stride, count);
        }
    }

    /// <summary>
    /// Decimation in time along the rows of [n][width]: bit-reversed order in, natural out, twiddles e^(+2πik/n), no
    /// 1/n factor; one radix-2 stage first when log₂ n is odd, then stages in pairs.
    /// </summary>
    static void ColumnsInverse(float* re, float* im, int n, int width)
    {
        var (cos, sin) = Twiddles(n);
        nint stride = width + Padding;
        int first = BitOperations.Log2((uint)n) % 2 == 1 ? 8 : 4;
        for (int column = 0; column < width; column += Strip)
        {
            int count = Math.Min(Strip, width - column);
            float* r = re + column, i = im + column;
            if (first == 8)
                for (int start = 0; start < n; start += 2)
                    Radix2(r + start * stride, i + start * stride, stride, count);
            for (int len = first; len <= n; len <<= 2)
            {
                int quarter = len >> 2, step = n / len;
                for (int start = 0; start < n; start += len)
                    for (int u = 0; u < quarter; u++)
                    {
                        nint o = (start + u) * stride, q = quarter * stride;
                        Radix4Inverse(r + o, i + o, q, count, cos[u * step], -sin[u * step], cos[2 * u * step],
                            -sin[2 * u * step], cos[3 * u * step], -sin[3 * u * step]);
                    }
            }
        }
    }

    /// <summary>(a, b) ← (a + b, a − b) over <paramref name="count"/> complex values, b one row of <paramref
    /// name="stride"/> floats below a: the radix-2 stage of span 2, whose only twiddle is 1.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Radix2(float* re, float* im, nint stride, int count)
    {
        for (int k = 0; k < count; k += 8)
        {
            var ar = Vector256.Load(re + k);
            var ai = Vector256.Load(im + k);
            var br = Vector256.Load(re + stride + k);
            var bi = Vector256.Load(im + stride + k);
            (ar + br).Store(re + k);
            (ai + bi).Store(im + k);
            (ar - br).Store(re + stride + k);
            (ai - bi).Store(im + stride + k);
        }
    }

    /// <summary>
    /// Two decimation-in-frequency stages on rows o, o + q, o + 2q, o + 3q (x₀…x₃) with twiddles w, w², w³:
    /// y₀ = (x₀ + x₂) + (x₁ + x₃), y₁ = ((x₀ + x₂) − (x₁ + x₃))·w², y₂ = ((x₀ − x₂) − i(x₁ − x₃))·w,
    /// y₃ = ((x₀ − x₂) + i(x₁ − x₃))·w³.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Radix4Forward(float* re, float* im, nint q, int count, float w1r, float w1i, float w2r, float w2i,
        float w3r, float w3i)
    {
        int k = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            Vector512<float> c1 = Vector512.Create(w1r), s1 = Vector512.Create(w1i), c2 = Vector512.Create(w2r),
                s2 = Vector512.Create(w2i), c3 = Vector512.Create(w3r), s3 = Vector512.Create(w3i);
            for (; k <= count - 16; k += 16)
            {
                float* r = re + k, i = im + k;
                Vector512<float> x0r = Vector512.Load(r), x0i = Vector512.Load(i);
                Vector512<float> x1r = Vector512.Load(r + q), x1i = Vector512.Load(i + q);
                Vector512<float> x2r = Vector512.Load(r + 2 * q), x2i = Vector512.Load(i + 2 * q);
                Vector512<float> x3r = Vector512.Load(r + 3 * q), x3i = Vector512.Load(i + 3 * q);
                Vector512<float> ar = x0r + x2r, ai = x0i + x2i, br = x0r - x2r, bi = x0i - x2i;
                Vector512<float> cr = x1r + x3r, ci = x1i + x3i, dr = x1r - x3r, di = x1i - x3i;
                (ar + cr).Store(r);
                (ai + ci).Store(i);
                Vector512<float> tr = ar - cr, ti = ai - ci;
                Vector512.FusedMultiplyAdd(tr, c2, -(ti * s2)).Store(r + q);
                Vector512.FusedMultiplyAdd(tr, s2, ti * c2).Store(i + q);
                Vector512<float> ur = br + di, ui = bi - dr, vr = br - di, vi = bi + dr;
                Vector512.FusedMultiplyAdd(ur, c1, -(ui * s1)).Store(r + 2 * q);
                Vector512.FusedMultiplyAdd(ur, s1, ui * c1).Store(i + 2 * q);
                Vector512.FusedMultiplyAdd(vr, c3, -(vi * s3)).Store(r + 3 * q);
                Vector512.FusedMultiplyAdd(vr, s3, vi * c3).Store(i + 3 * q);
            }
        }
        for (; k < count; k += 8)
        {
            Vector256<float> c1 = Vector256.Create(w1r), s1 = Vector256.Create(w1i), c2 = Vector256.Create(w2r),
                s2 = Vector256.Create(w2i), c3 = Vector256.Create(w3r), s3 = Vector256.Create(w3i);
            float* r = re + k, i = im + k;
            Vector256<float> x0r = Vector256.Load(r), x0i = Vector256.Load(i);
            Vector256<float> x1r = Vector256.Load(r + q), x1i = Vector256.Load(i + q);
            Vector256<float> x2r = Vector256.Load(r + 2 * q), x2i = Vector256.Load(i + 2 * q);
            Vector256<float> x3r = Vector256.Load(r + 3 * q), x3i = Vector256.Load(i + 3 * q);
            Vector256<float> ar = x0r + x2r, ai = x0i + x2i, br = x0r - x2r, bi = x0i - x2i;
            Vector256<float> cr = x1r + x3r, ci = x1i + x3i, dr = x1r - x3r, di = x1i - x3i;
            (ar + cr).Store(r);
            (ai + ci).Store(i);
            Vector256<float> tr = ar - cr, ti = ai - ci;
            Vector256.FusedMultiplyAdd(tr, c2, -(ti * s2)).Store(r + q);
            Vector256.FusedMultiplyAdd(tr, s2, ti * c2).Store(i + q);
            Vector256<float> ur = br + di, ui = bi - dr, vr = br - di, vi = bi + dr;
            Vector256.FusedMultiplyAdd(ur, c1, -(ui * s1)).Store(r + 2 * q);
            Vector256.FusedMultiplyAdd(ur, s1, ui * c1).Store(i + 2 * q);
            Vector256.FusedMultiplyAdd(vr, c3, -(vi * s3)).Store(r + 3 * q);
            Vector256.FusedMultiplyAdd(vr, s3, vi * c3).Store(i + 3 * q);
        }
    }

    /// <summary>
    /// Two decimation-in-time stages on rows o, o + q, o + 2q, o + 3q with twiddles w, w², w³: with t₁ = x₁·w²,
    /// t₂ = x₂·w, t₃ = x₃·w³, y₀ = (x₀ + t₁) + (t₂ + t₃), y₂ = (x₀ + t₁) − (t₂ + t₃), y₁ = (x₀ − t₁) + i(t₂ − t₃),
    /// y₃ = (x₀ − t₁) − i(t₂ − t₃).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Radix4Inverse(float* re, float* im, nint q, int count, float w1r, float w1i, float w2r, float w2i,
        float w3r, float w3i)
    {
        int k = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            Vector512<float> c1 = Vector512.Create(w1r), s1 = Vector512.Create(w1i), c2 = Vector512.Create(w2r),
                s2 = Vector512.Create(w2i), c3 = Vector512.Create(w3r), s3 = Vector512.Create(w3i);
            for (; k <= count - 16; k += 16)
            {
                float* r = re + k, i = im + k;
                Vector512<float> x0r = Vector512.Load(r), x0i = Vector512.Load(i);
                Vector512<float> x1r = Vector512.Load(r + q), x1i = Vector512.Load(i + q);
                Vector512<float> x2r = Vector512.Load(r + 2 * q), x2i = Vector512.Load(i + 2 * q);
                Vector512<float> x3r = Vector512.Load(r + 3 * q), x3i = Vector512.Load(i + 3 * q);
                Vector512<float> t1r = Vector512.FusedMultiplyAdd(x1r, c2, -(x1i * s2));
                Vector512<float> t1i = Vector512.FusedMultiplyAdd(x1r, s2, x1i * c2);
                Vector512<float> t2r = Vector512.FusedMultiplyAdd(x2r, c1, -(x2i * s1));
                Vector512<float> t2i = Vector512.FusedMultiplyAdd(x2r, s1, x2i * c1);
                Vector512<float> t3r = Vector512.FusedMultiplyAdd(x3r, c3, -(x3i * s3));
                Vector512<float> t3i = Vector512.FusedMultiplyAdd(x3r, s3, x3i * c3);
                Vector512<float> ar = x0r + t1r, ai = x0i + t1i, br = x0r - t1r, bi = x0i - t1i;
                Vector512<float> cr = t2r + t3r, ci = t2i + t3i, dr = t2r - t3r, di = t2i - t3i;
                (ar + cr).Store(r);
                (ai + ci).Store(i);
                (ar - cr).Store(r + 2 * q);
                (ai - ci).Store(i + 2 * q);
                (br - di).Store(r + q);
                (bi + dr).Store(i + q);
                (br + di).Store(r + 3 * q);
                (bi - dr).Store(i + 3 * q);
            }
        }
        for (; k < count; k += 8)
        {
            Vector256<float> c1 = Vector256.Create(w1r), s1 = Vector256.Create(w1i), c2 = Vector256.Create(w2r),
                s2 = Vector256.Create(w2i), c3 = Vector256.Create(w3r), s3 = Vector256.Create(w3i);
            float* r = re + k, i = im + k;
            Vector256<float> x0r = Vector256.Load(r), x0i = Vector256.Load(i);
            Vector256<float> x1r = Vector256.Load(r + q), x1i = Vector256.Load(i + q);
            Vector256<float> x2r = Vector256.Load(r + 2 * q), x2i = Vector256.Load(i + 2 * q);
            Vector256<float> x3r = Vector256.Load(r + 3 * q), x3i = Vector256.Load(i + 3 * q);
            Vector256<float> t1r = Vector256.FusedMultiplyAdd(x1r, c2, -(x1i * s2));
            Vector256<float> t1i = Vector256.FusedMultiplyAdd(x1r, s2, x1i * c2);
            Vector256<float> t2r = Vector256.FusedMultiplyAdd(x2r, c1, -(x2i * s1));
            Vector256<float> t2i = Vector256.FusedMultiplyAdd(x2r, s1, x2i * c1);
            Vector256<float> t3r = Vector256.FusedMultiplyAdd(x3r, c3, -(x3i * s3));
            Vector256<float> t3i = Vector256.FusedMultiplyAdd(x3r, s3, x3i * c3);
            Vector256<float> ar = x0r + t1r, ai = x0i + t1i, br = x0r - t1r, bi = x0i - t1i;
            Vector256<float> cr = t2r + t3r, ci = t2i + t3i, dr = t2r - t3r, di = t2i - t3i;
            (ar + cr).Store(r);
            (ai + ci).Store(i);
            (ar - cr).Store(r + 2 * q);
            (ai - ci).Store(i + 2 * q);
            (br - di).Store(r + q);
            (bi + dr).Store(i + q);
            (br + di).Store(r + 3 * q);
            (bi - dr).Store(i + 3 * q);
        }
    }

    /// <summary>
    /// z = Σ over the planes of x·v (complex, elementwise): <paramref name="x"/> and <paramref name="v"/> hold
    /// <paramref name="planes"/> complex planes of <paramref name="part"/> floats a part, [<paramref name="rows"/>]
    /// [<paramref name="columns"/>] each with padded rows; the sums stay in registers over the planes.
    /// </summary>
    static void Products(float* x, float* v, int planes, int part, int columns, int rows, float* z)
    {
        nint length = 2 * (nint)part;
        for (int row = 0; row < rows; row++)
        {
            nint at = (nint)row * (columns + Padding);
            int k = 0;
            if (Vector512.IsHardwareAccelerated)
                for (; k <= columns - 16; k += 16)
                {
                    var r = Vector512<float>.Zero;
                    var i = Vector512<float>.Zero;
                    for (int p = 0; p < planes; p++)
                    {
                        float* xp = x + p * length + at + k, vp = v + p * length + at + k;
                        var ar = Vector512.Load(xp);
                        var ai = Vector512.Load(xp + part);
                        var br = Vector512.Load(vp);
                        var bi = Vector512.Load(vp + part);
                        r = Vector512.FusedMultiplyAdd(ar, br, r);
                        i = Vector512.FusedMultiplyAdd(ar, bi, i);
                        r = Vector512.FusedMultiplyAdd(-ai, bi, r);
                        i = Vector512.FusedMultiplyAdd(ai, br, i);
                    }
                    r.Store(z + at + k);
                    i.Store(z + part + at + k);
                }
            for (; k <= columns - 8; k += 8)
            {
                var r = Vector256<float>.Zero;
                var i = Vector256<float>.Zero;
                for (int p = 0; p < planes; p++)
                {
                    float* xp = x + p * length + at + k, vp = v + p * length + at + k;
                    var ar = Vector256.Load(xp);
                    var ai = Vector256.Load(xp + part);
                    var br = Vector256.Load(vp);
                    var bi = Vector256.Load(vp + part);
                    r = Vector256.FusedMultiplyAdd(ar, br, r);
                    i = Vector256.FusedMultiplyAdd(ar, bi, i);
                    r = Vector256.FusedMultiplyAdd(-ai, bi, r);
                    i = Vector256.FusedMultiplyAdd(ai, br, i);
                }
                r.Store(z + at + k);
                i.Store(z + part + at + k);
            }
            for (; k < columns; k++)
            {
                float r = 0f, i = 0f;
                for (int p = 0; p < planes; p++)
                {
                    float* xp = x + p * length + at + k, vp = v + p * length + at + k;
                    r = MathF.FusedMultiplyAdd(-xp[part], vp[part], MathF.FusedMultiplyAdd(xp[0], vp[0], r));
                    i = MathF.FusedMultiplyAdd(xp[part], vp[0], MathF.FusedMultiplyAdd(xp[0], vp[part], i));
                }
                z[at + k] = r;
                z[part + at + k] = i;
            }
        }
    }

    /// <summary>[rows][columns] → [columns][rows], rows <see cref="Padding"/> floats longer on both sides, in 8 × 8
    /// blocks of AVX shuffles when both are multiples of 8.</summary>
    static void Transpose(float* source, float* target, int rows, int columns)
    {
        int sourceStride = columns + Padding, targetStride = rows + Padding;
        if (!Avx.IsSupported || rows % 8 != 0 || columns % 8 != 0)
        {
            for (int r = 0; r < rows; r++)
                for (int c = 0; c < columns; c++)
                    target[(nint)c * targetStride + r] = source[(nint)r * sourceStride + c];
            return;
        }
        for (int r = 0; r < rows; r += 8)
            for (int c = 0; c < columns; c += 8)
                Transpose8(source + (nint)r * sourceStride + c, sourceStride, target + (nint)c * targetStride + r,
                    targetStride);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Transpose8(float* s, int sourceStride, float* t, int targetStride)
    {
        var r0 = Avx.LoadVector256(s);
        var r1 = Avx.LoadVector256(s + sourceStride);
        var r2 = Avx.LoadVector256(s + 2 * sourceStride);
        var r3 = Avx.LoadVector256(s + 3 * sourceStride);
        var r4 = Avx.LoadVector256(s + 4 * sourceStride);
        var r5 = Avx.LoadVector256(s + 5 * sourceStride);
        var r6 = Avx.LoadVector256(s + 6 * sourceStride);
        var r7 = Avx.LoadVector256(s + 7 * sourceStride);
        // elements interleaved in pairs of rows, then pairs of pairs, then the 128-bit halves exchanged
        var a0 = Avx.UnpackLow(r0, r1);
        var a1 = Avx.UnpackHigh(r0, r1);
        var a2 = Avx.UnpackLow(r2, r3);
        var a3 = Avx.UnpackHigh(r2, r3);
        var a4 = Avx.UnpackLow(r4, r5);
        var a5 = Avx.UnpackHigh(r4, r5);
        var a6 = Avx.UnpackLow(r6, r7);
        var a7 = Avx.UnpackHigh(r6, r7);
        var b0 = Avx.Shuffle(a0, a2, 0x44);
        var b1 = Avx.Shuffle(a0, a2, 0xEE);
        var b2 = Avx.Shuffle(a1, a3, 0x44);
        var b3 = Avx.Shuffle(a1, a3, 0xEE);
        var b4 = Avx.Shuffle(a4, a6, 0x44);
        var b5 = Avx.Shuffle(a4, a6, 0xEE);
        var b6 = Avx.Shuffle(a5, a7, 0x44);
        var b7 = Avx.Shuffle(a5, a7, 0xEE);
        Avx.Store(t, Avx.Permute2x128(b0, b4, 0x20));
        Avx.Store(t + targetStride, Avx.Permute2x128(b1, b5, 0x20));
        Avx.Store(t + 2 * targetStride, Avx.Permute2x128(b2, b6, 0x20));
        Avx.Store(t + 3 * targetStride, Avx.Permute2x128(b3, b7, 0x20));
        Avx.Store(t + 4 * targetStride, Avx.Permute2x128(b0, b4, 0x31));
        Avx.Store(t + 5 * targetStride, Avx.Permute2x128(b1, b5, 0x31));
        Avx.Store(t + 6 * targetStride, Avx.Permute2x128(b2, b6, 0x31));
        Avx.Store(t + 7 * targetStride, Avx.Permute2x128(b3, b7, 0x31));
    }
}

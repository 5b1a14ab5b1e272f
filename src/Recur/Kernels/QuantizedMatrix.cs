using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Recur.Kernels;

/// <summary>
/// A row-major matrix in int8 for dynamic quantisation, the scheme of PyTorch's <c>quantize_dynamic</c>: each row
/// (output channel) r is stored as q[r, k] = round(W[r, k] / s_r), s_r = max_k |W[r, k]| / 127, and the vector it
/// multiplies is quantised when it arrives to the 129 levels −64…64, x ≈ s_x·q_x with s_x = max|x| / 64 — about the
/// 7 bits of PyTorch's <c>reduce_range</c> for activations, and for the same reason: stored offset by 64 as unsigned
/// bytes in [0, 128], a pair of products with int8 weights sums to at most 2·128·127 = 32,512, so the 16-bit sums of
/// <c>vpmaddubsw</c> are exact. A product is then <c>y_r = s_r·s_x·Σ_k q[r, k]·q_x[k]</c>, the sum exact in 32-bit
/// integers — Σ (q_x[k] + 64)·q[r, k] less 64·Σ_k q[r, k], kept per row — so it does not depend on the order of
/// summation, the instruction set or the thread split. Rows are padded with zeros to a multiple of 64 columns. The sum
/// is AVX-VNNI's <c>vpdpbusd</c> where the CPU has it, else AVX-512BW's or AVX2's <c>vpmaddubsw</c> and
/// <c>vpmaddwd</c>, else a portable widening path; all give the same bits. For AVX-512BW the values are kept in tiles
/// of 16 rows instead (four columns of each row a 32-bit lane), whose sums build up in the lanes of one register per
/// tile: no horizontal sum per row, which in the row-major form cost a fifth of a 256-wide product.
/// </summary>
internal sealed class QuantizedMatrix
{
    /// <summary>Columns per padded row: the width of one AVX-512 step.</summary>
    public const int Alignment = 64;

    /// <summary>The largest magnitude of a quantised vector element, and the offset of its stored byte.</summary>
    public const int VectorLevels = 64;

    /// <summary>The best path a flow may take (tests compare every path the machine has).</summary>
    static readonly AsyncLocal<IntegerPath> bestAllowed = new();

    /// <summary>Rows (output channels).</summary>
    public int Rows { get; }

    /// <summary>Columns of the original matrix.</summary>
    public int Columns { get; }

    /// <summary>Bytes per stored row (Columns rounded up to <see cref="Alignment"/>).</summary>
    public int Stride { get; }

    /// <summary>The int8 values, row-major with <see cref="Stride"/>, in pinned memory; null while only
    /// <see cref="tiles"/> holds them (see <see cref="RowMajor"/>).</summary>
    sbyte[]? data;

    /// <summary>s_r per row.</summary>
    public float[] Scales { get; }

    /// <summary>Σ_k q[r, k] per row.</summary>
    readonly int[] rowSums;

    /// <summary>Rows of a tile of the AVX-512 path: one 32-bit lane each.</summary>
    const int TileRows = 16;

    /// <summary>
    /// The values for the AVX-512BW path, in place of the row-major form (null without AVX-512BW): tile t, column
    /// group g is 64 bytes holding columns 4g…4g + 3 of rows 16t…16t + 15, so that one <c>vpmaddubsw</c> and
    /// <c>vpmaddwd</c> against the vector's four bytes broadcast add four columns to the sums of 16 rows, each in its
    /// lane. The last tile is padded with zero rows.
    /// </summary>
    sbyte[]? tiles;

    /// <summary>Where the tiles start in <see cref="tiles"/>: the first 64-byte boundary of the pinned array, so that
    /// no load of a tile's 64 bytes straddles two cache lines (which costs two loads; with an arbitrary start, every
    /// load did, and the int8 step ran at two speeds from one allocation to the next).</summary>
    int tilesOffset;

    QuantizedMatrix(int rows, int columns)
    {
        (Rows, Columns) = (rows, columns);
        Stride = (columns + Alignment - 1) / Alignment * Alignment;
        data = GC.AllocateArray<sbyte>(Math.Max(1, rows * Stride), pinned: true);
        Scales = new float[rows];
        rowSums = new int[rows];
    }

    /// <summary>Where value [r, k] lies in <see cref="tiles"/>.</summary>
    int TileIndex(int r, int k) =>
        tilesOffset + r / TileRows * TileRows * Stride + k / 4 * 4 * TileRows + r % TileRows * 4 + k % 4;

    /// <summary>Moves the row-major values, once they are all set, into <see cref="tiles"/> where the CPU has
    /// AVX-512BW: an int8 matrix is kept once, a quarter of its float size.</summary>
    void Tile()
    {
        if (!Avx512BW.IsSupported) return;
        var tiled = GC.AllocateArray<sbyte>(Math.Max(1, (Rows + TileRows - 1) / TileRows * TileRows * Stride) + 63,
            pinned: true);
        unsafe
        {
            // pinned arrays never move, so the offset stays right for the array's life
            nint start = (nint)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(tiled));
            tilesOffset = (int)(((start + 63) & ~(nint)63) - start);
        }
        for (int r = 0; r < Rows; r++)
            for (int k = 0; k < Stride; k += 4)
                data.AsSpan(r * Stride + k, 4).CopyTo(tiled.AsSpan(TileIndex(r, k), 4));
        (tiles, data) = (tiled, null);
    }

    /// <summary>The row-major values, rebuilt from the tiles when a flow takes a row-major path (tests compare
    /// the paths on one matrix).</summary>
    sbyte[] RowMajor => LazyInitializer.EnsureInitialized(ref data, () =>
    {
        var rows = GC.AllocateArray<sbyte>(Math.Max(1, Rows * Stride), pinned: true);
        for (int r = 0; r < Rows; r++)
            for (int k = 0; k < Stride; k++) rows[r * Stride + k] = tiles![TileIndex(r, k)];
        return rows;
    });

    /// <summary>Value [r, k], from whichever form holds it.</summary>
    sbyte Value(int r, int k) => tiles != null ? tiles[TileIndex(r, k)] : data![r * Stride + k];

    /// <summary>Whether the integer sums use AVX-VNNI here (otherwise AVX-512BW tiles, <c>vpmaddubsw</c> on AVX2 or a
    /// portable widening path, same results).</summary>
    public static bool UsesVnni => Current == IntegerPath.Vnni;

    /// <summary>The instructions the integer sums take in this flow, for printing beside a figure.</summary>
    public static string PathName => Current switch
    {
        IntegerPath.Avx512 => "AVX-512BW tiles",
        IntegerPath.Vnni => "AVX-VNNI",
        IntegerPath.Avx2 => "AVX2",
        _ => "portable",
    };

    /// <summary>The path the integer sums take in this flow: the best the CPU supports, at most the one a test
    /// allowed. AVX-512BW's tiles come before AVX-VNNI where a CPU has both (Zen 5): 64 columns of 16 rows a step
    /// and no sums across lanes beat <c>vpdpbusd</c> on 32 columns of a row (an LSTM step, H = 256, batch 1: 3.6
    /// against 4.7 µs).</summary>
    internal static IntegerPath Current =>
        Avx512BW.IsSupported && bestAllowed.Value <= IntegerPath.Avx512 ? IntegerPath.Avx512
        : AvxVnni.IsSupported && bestAllowed.Value <= IntegerPath.Vnni ? IntegerPath.Vnni
        : Avx2.IsSupported && bestAllowed.Value <= IntegerPath.Avx2 ? IntegerPath.Avx2
        : IntegerPath.Portable;

    /// <summary>Makes the calling flow take <paramref name="path"/> or a slower one until disposed (tests compare the
    /// paths).</summary>
    internal static IDisposable AtMost(IntegerPath path) => FlowOverride.Set(bestAllowed, path);

    /// <summary>Quantises <paramref name="w"/> [rows, columns] row by row.</summary>
    public static QuantizedMatrix Quantize(ReadOnlySpan<float> w, int rows, int columns)
    {
        if (w.Length != rows * columns)
            throw new ArgumentException($"QuantizedMatrix: {w.Length} values are not [{rows}, {columns}].");
        var q = new QuantizedMatrix(rows, columns);
        for (int r = 0; r < rows; r++)
        {
            var row = w.Slice(r * columns, columns);
            float max = columns == 0 ? 0f : MathF.Abs(TensorPrimitives.MaxMagnitude(row));
            if (!float.IsFinite(max))
                throw new ArgumentException($"QuantizedMatrix: row {r} holds a NaN or infinite weight.");
            float scale = max > 0f ? max / 127f : 1f;
            q.Scales[r] = scale;
            int sum = 0;
            for (int k = 0; k < columns; k++)
            {
                int v = (int)MathF.Round(row[k] / scale);
                v = Math.Clamp(v, -127, 127);
                q.data![r * q.Stride + k] = (sbyte)v;
                sum += v;
            }
            q.rowSums[r] = sum;
        }
        q.Tile();
        return q;
    }

    /// <summary>
    /// A matrix from int8 values saved earlier (<see cref="CopyValues"/>, <see cref="Scales"/>): row-major
    /// <paramref name="values"/> [rows, columns] in [−127, 127] and a finite positive scale per row. Errors name
    /// <paramref name="source"/> and the first value out of range.
    /// </summary>
    public static QuantizedMatrix FromValues(ReadOnlySpan<sbyte> values, ReadOnlySpan<float> scales, int rows,
        int columns, string source)
    {
        if (values.Length != rows * columns || scales.Length != rows)
            throw new ArgumentException($"{source}: {values.Length} values and {scales.Length} scales are not "
                + $"[{rows}, {columns}] and [{rows}].");
        var q = new QuantizedMatrix(rows, columns);
        for (int r = 0; r < rows; r++)
        {
            if (!(scales[r] > 0f) || !float.IsFinite(scales[r]))
                throw new ArgumentException($"{source}: the scale of row {r} is {scales[r]}, not a positive number.");
            q.Scales[r] = scales[r];
            int sum = 0;
            for (int k = 0; k < columns; k++)
            {
                sbyte v = values[r * columns + k];
                if (v == sbyte.MinValue)
                    throw new ArgumentException($"{source}: [{r}, {k}] is −128; int8 weights lie in [−127, 127].");
                q.data![r * q.Stride + k] = v;
                sum += v;
            }
            q.rowSums[r] = sum;
        }
        q.Tile();
        return q;
    }

    /// <summary>Copies the int8 values, row-major [<see cref="Rows"/>, <see cref="Columns"/>] without padding, into
    /// <paramref name="destination"/>.</summary>
    public void CopyValues(Span<sbyte> destination)
    {
        for (int r = 0; r < Rows; r++)
            for (int k = 0; k < Columns; k++) destination[r * Columns + k] = Value(r, k);
    }

    /// <summary>The value the int8 form stands for (for tests and error measurement).</summary>
    public float Dequantized(int row, int column) => Value(row, column) * Scales[row];

    /// <summary>
    /// Quantises a vector of <see cref="Columns"/> values into <paramref name="q"/> (<see cref="Stride"/> bytes,
    /// offset by 64, the padding 64 = zero) and returns its scale s_x = max|x| / 64 (1 for a zero vector). NaN or
    /// infinity in <paramref name="x"/> gives a NaN scale, so the products it feeds are NaN rather than silently
    /// wrong.
    /// </summary>
    public float QuantizeVector(ReadOnlySpan<float> x, Span<byte> q)
    {
        float max = x.IsEmpty ? 0f : MathF.Abs(TensorPrimitives.MaxMagnitude(x));
        if (!float.IsFinite(max))
        {
            q[..Stride].Fill(VectorLevels);
            return float.NaN;
        }
        float scale = max > 0f ? max / VectorLevels : 1f;
        float inverse = 1f / scale;
        int k = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            // 32 values a round: scale, round half to even (as MathF.Round), offset, narrow to bytes
            var multiplier = Vector256.Create(inverse);
            var offset = Vector256.Create(VectorLevels);
            for (; k + 32 <= x.Length; k += 32)
            {
                var a = Narrowed(x.Slice(k, 8), multiplier, offset);
                var b = Narrowed(x.Slice(k + 8, 8), multiplier, offset);
                var c = Narrowed(x.Slice(k + 16, 8), multiplier, offset);
                var d = Narrowed(x.Slice(k + 24, 8), multiplier, offset);
                var bytes = Vector256.Narrow(Vector256.Narrow(a, b).AsUInt16(), Vector256.Narrow(c, d).AsUInt16());
                bytes.CopyTo(q.Slice(k, 32));
            }
        }
        for (; k < x.Length; k++)
            q[k] = (byte)(Math.Clamp((int)MathF.Round(x[k] * inverse), -VectorLevels, VectorLevels) + VectorLevels);
        q[x.Length..Stride].Fill(VectorLevels);
        return scale;
    }

    /// <summary>Eight values scaled, rounded, clamped to ±64 and offset by 64 (as int32, ready to narrow).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector256<int> Narrowed(ReadOnlySpan<float> x, Vector256<float> multiplier, Vector256<int> offset)
    {
        var rounded = Vector256.ConvertToInt32(Vector256.Round(Vector256.Create(x) * multiplier));
        return Vector256.Clamp(rounded, Vector256.Create(-VectorLevels), Vector256.Create(VectorLevels)) + offset;
    }

    /// <summary>
    /// <c>y[b·ldy + r − row0] = s_r·xScales[b]·Σ_k q[r, k]·q_x[b, k]</c> for rows r in [row0, row0 + rows) and b in
    /// [0, batch); <paramref name="x"/> holds the vectors as <see cref="QuantizeVector"/> left them, one per
    /// <paramref name="ldx"/> bytes.
    /// </summary>
    public unsafe void RowDots(int row0, int rows, byte* x, nint ldx, float* xScales, int batch, float* y, nint ldy)
    {
        if (row0 < 0 || rows < 0 || row0 + rows > Rows)
            throw new ArgumentOutOfRangeException(nameof(rows),
                $"QuantizedMatrix: rows [{row0}, {row0 + rows}) of {Rows}.");
        var path = Current;
        if (path == IntegerPath.Avx512 && tiles != null)
            TiledDots(row0, row0 + rows, x, ldx, xScales, batch, y, ldy);
        else RowMajorDots(path, row0, row0 + rows, x, ldx, xScales, batch, y, ldy);
    }

    /// <summary>Rows [row0, to) of <see cref="RowDots"/> from the row-major values, four at a time where the path
    /// has vectors.</summary>
    unsafe void RowMajorDots(IntegerPath path, int row0, int to, byte* x, nint ldx, float* xScales, int batch,
        float* y, nint ldy)
    {
        fixed (sbyte* w0 = RowMajor)
        fixed (float* scales = Scales)
        fixed (int* sums = rowSums)
        {
            int r = row0;
            if (path != IntegerPath.Portable)
                for (; r + 4 <= to; r += 4)
                {
                    sbyte* w = w0 + (nint)r * Stride;
                    // 64·Σq of the four rows, and their scales, for every vector
                    var correction = Vector128.Load(sums + r) * VectorLevels;
                    var rowScales = Vector128.Load(scales + r);
                    for (int b = 0; b < batch; b++)
                    {
                        byte* xb = x + b * ldx;
                        var dots = path switch
                        {
                            IntegerPath.Vnni => FourVnni(w, Stride, xb),
                            IntegerPath.Avx512 => FourAvx512(w, Stride, xb),
                            _ => FourAvx2(w, Stride, xb),
                        };
                        var products = Vector128.ConvertToSingle(dots - correction);
                        (rowScales * Vector128.Create(xScales[b]) * products).Store(y + b * ldy + r - row0);
                    }
                }
            for (; r < to; r++)
            {
                sbyte* w = w0 + (nint)r * Stride;
                for (int b = 0; b < batch; b++)
                {
                    byte* xb = x + b * ldx;
                    int dot = path switch
                    {
                        IntegerPath.Vnni => DotVnni(w, xb, Stride),
                        IntegerPath.Avx512 => DotAvx512(w, xb, Stride),
                        IntegerPath.Avx2 => DotAvx2(w, xb, Stride),
                        _ => DotPortable(w, xb, Stride),
                    } - VectorLevels * rowSums[r];
                    y[b * ldy + r - row0] = Scales[r] * xScales[b] * dot;
                }
            }
        }
    }

    /// <summary>Rows [row0, to) of <see cref="RowDots"/> from <see cref="tiles"/>: four whole tiles (64 rows) at a
    /// time, sharing each broadcast of the vector, then one; a tile the range only partly covers is summed whole and
    /// the rows in the range kept.</summary>
    unsafe void TiledDots(int row0, int to, byte* x, nint ldx, float* xScales, int batch, float* y, nint ldy)
    {
        nint tileBytes = (nint)TileRows * Stride;
        fixed (sbyte* tilesStart = tiles)
        fixed (float* scales = Scales)
        fixed (int* sums = rowSums)
        {
            var ones = Vector512.Create((short)1);
            for (int r = row0; r < to;)
            {
                int tileStart = r / TileRows * TileRows, next = Math.Min(to, tileStart + TileRows);
                bool whole = r == tileStart && next == tileStart + TileRows;
                int count = whole && to - r >= 4 * TileRows ? 4 : 1;
                sbyte* t = tilesStart + tilesOffset + (nint)(r / TileRows) * tileBytes;
                for (int b = 0; b < batch; b++)
                {
                    byte* xb = x + b * ldx;
                    var xScale = Vector512.Create(xScales[b]);
                    float* yb = y + b * ldy + r - row0;
                    Vector512<int> s0 = default, s1 = default, s2 = default, s3 = default;
                    if (count == 4)
                        for (int k = 0; k < Stride; k += 4)
                        {
                            var xk = Vector512.Create(*(int*)(xb + k)).AsByte();
                            nint at = (nint)k * TileRows;
                            s0 += Product(xk, Vector512.Load(t + at), ones);
                            s1 += Product(xk, Vector512.Load(t + tileBytes + at), ones);
                            s2 += Product(xk, Vector512.Load(t + 2 * tileBytes + at), ones);
                            s3 += Product(xk, Vector512.Load(t + 3 * tileBytes + at), ones);
                        }
                    else
                        for (int k = 0; k < Stride; k += 4)
                            s0 += Product(Vector512.Create(*(int*)(xb + k)).AsByte(),
                                Vector512.Load(t + (nint)k * TileRows), ones);
                    if (!whole)
                    {
                        // the rows of this tile in the range, as the row-major scalar path rounds them
                        for (int row = r; row < next; row++)
                            yb[row - r] = Scales[row] * xScales[b]
                                * (s0.GetElement(row - tileStart) - VectorLevels * rowSums[row]);
                        continue;
                    }
                    Finish(s0, sums + r, scales + r, xScale, yb);
                    if (count == 4)
                    {
                        Finish(s1, sums + r + TileRows, scales + r + TileRows, xScale, yb + TileRows);
                        Finish(s2, sums + r + 2 * TileRows, scales + r + 2 * TileRows, xScale, yb + 2 * TileRows);
                        Finish(s3, sums + r + 3 * TileRows, scales + r + 3 * TileRows, xScale, yb + 3 * TileRows);
                    }
                }
                r = whole ? r + count * TileRows : next;
            }
        }
    }

    /// <summary>y = s_r·s_x·(Σ (q_x + 64)·q − 64·Σq) for a tile's 16 rows, rounded as the row-major paths round
    /// it.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static unsafe void Finish(Vector512<int> dots, int* sums, float* scales, Vector512<float> xScale, float* y)
    {
        var products = Vector512.ConvertToSingle(dots - Vector512.Load(sums) * VectorLevels);
        (Vector512.Load(scales) * xScale * products).Store(y);
    }

    /// <summary>Four rows' sums at once: four independent chains hide the latency of <c>vpdpbusd</c>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static unsafe Vector128<int> FourVnni(sbyte* w, int stride, byte* x)
    {
        Vector256<int> s0 = default, s1 = default, s2 = default, s3 = default;
        for (int i = 0; i < stride; i += 32)
        {
            var xi = Vector256.Load(x + i);
            s0 = AvxVnni.MultiplyWideningAndAdd(s0, xi, Vector256.Load(w + i));
            s1 = AvxVnni.MultiplyWideningAndAdd(s1, xi, Vector256.Load(w + stride + i));
            s2 = AvxVnni.MultiplyWideningAndAdd(s2, xi, Vector256.Load(w + 2 * stride + i));
            s3 = AvxVnni.MultiplyWideningAndAdd(s3, xi, Vector256.Load(w + 3 * stride + i));
        }
        return Four(s0, s1, s2, s3);
    }

    /// <summary>The four 8-lane sums, one lane each: pairwise adds within 128-bit lanes, then the two lanes added.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector128<int> Four(Vector256<int> s0, Vector256<int> s1, Vector256<int> s2, Vector256<int> s3)
    {
        var sums = Avx2.HorizontalAdd(Avx2.HorizontalAdd(s0, s1), Avx2.HorizontalAdd(s2, s3));
        return sums.GetLower() + sums.GetUpper();
    }

    /// <summary>
    /// Four rows' sums without VNNI, 64 columns a step: <c>vpmaddubsw</c> multiplies the vector's unsigned bytes by
    /// the weights and adds pairs exactly in 16 bits, <c>vpmaddwd</c> against ones widens them to 32.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static unsafe Vector128<int> FourAvx512(sbyte* w, int stride, byte* x)
    {
        Vector512<int> s0 = default, s1 = default, s2 = default, s3 = default;
        var ones = Vector512.Create((short)1);
        for (int i = 0; i < stride; i += 64)
        {
            var xi = Vector512.Load(x + i);
            s0 += Product(xi, Vector512.Load(w + i), ones);
            s1 += Product(xi, Vector512.Load(w + stride + i), ones);
            s2 += Product(xi, Vector512.Load(w + 2 * stride + i), ones);
            s3 += Product(xi, Vector512.Load(w + 3 * stride + i), ones);
        }
        return Four(s0.GetLower() + s0.GetUpper(), s1.GetLower() + s1.GetUpper(), s2.GetLower() + s2.GetUpper(),
            s3.GetLower() + s3.GetUpper());
    }

    /// <summary>As <see cref="FourAvx512"/>, 32 columns a step.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static unsafe Vector128<int> FourAvx2(sbyte* w, int stride, byte* x)
    {
        Vector256<int> s0 = default, s1 = default, s2 = default, s3 = default;
        var ones = Vector256.Create((short)1);
        for (int i = 0; i < stride; i += 32)
        {
            var xi = Vector256.Load(x + i);
            s0 += Product(xi, Vector256.Load(w + i), ones);
            s1 += Product(xi, Vector256.Load(w + stride + i), ones);
            s2 += Product(xi, Vector256.Load(w + 2 * stride + i), ones);
            s3 += Product(xi, Vector256.Load(w + 3 * stride + i), ones);
        }
        return Four(s0, s1, s2, s3);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector512<int> Product(Vector512<byte> x, Vector512<sbyte> w, Vector512<short> ones) =>
        Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(x, w), ones);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector256<int> Product(Vector256<byte> x, Vector256<sbyte> w, Vector256<short> ones) =>
        Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(x, w), ones);

    static unsafe int DotAvx512(sbyte* w, byte* x, int stride)
    {
        Vector512<int> sum = default;
        var ones = Vector512.Create((short)1);
        for (int i = 0; i < stride; i += 64) sum += Product(Vector512.Load(x + i), Vector512.Load(w + i), ones);
        return Vector512.Sum(sum);
    }

    static unsafe int DotAvx2(sbyte* w, byte* x, int stride)
    {
        Vector256<int> sum = default;
        var ones = Vector256.Create((short)1);
        for (int i = 0; i < stride; i += 32) sum += Product(Vector256.Load(x + i), Vector256.Load(w + i), ones);
        return Vector256.Sum(sum);
    }

    static unsafe int DotVnni(sbyte* w, byte* x, int stride)
    {
        Vector256<int> s = default;
        for (int i = 0; i < stride; i += 32)
            s = AvxVnni.MultiplyWideningAndAdd(s, Vector256.Load(x + i), Vector256.Load(w + i));
        return Vector256.Sum(s);
    }

    /// <summary>Σ x[k]·w[k] with x's bytes as they are stored (offset included), like the other paths.</summary>
    static unsafe int DotPortable(sbyte* w, byte* x, int stride)
    {
        var sum = Vector128<int>.Zero;
        for (int i = 0; i < stride; i += 16)
        {
            var (xLow, xHigh) = Vector128.Widen(Vector128.Load(x + i));
            var (wLow, wHigh) = Vector128.Widen(Vector128.Load(w + i));
            sum += Products(xLow.AsInt16(), wLow) + Products(xHigh.AsInt16(), wHigh);
        }
        return Vector128.Sum(sum);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector128<int> Products(Vector128<short> a, Vector128<short> b)
    {
        var (aLow, aHigh) = Vector128.Widen(a);
        var (bLow, bHigh) = Vector128.Widen(b);
        return aLow * bLow + aHigh * bHigh;
    }
}

/// <summary>The ways <see cref="QuantizedMatrix"/> forms its integer sums, fastest first; all give the same bits.
/// </summary>
internal enum IntegerPath
{
    /// <summary>AVX-512BW's <c>vpmaddubsw</c> and <c>vpmaddwd</c>, 64 columns a step.</summary>
    Avx512,
    /// <summary>AVX-VNNI's <c>vpdpbusd</c>, 32 columns a step.</summary>
    Vnni,
    /// <summary>AVX2's <c>vpmaddubsw</c> and <c>vpmaddwd</c>, 32 columns a step.</summary>
    Avx2,
    /// <summary>Widening to 16 and 32 bits with the portable vector API.</summary>
    Portable,
}

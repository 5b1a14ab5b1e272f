using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Recur.Kernels;

/// <summary>
/// A row-major matrix in int8 for dynamic quantisation, the scheme of PyTorch's <c>quantize_dynamic</c>: each row
/// (output channel) r is stored as q[r, k] = round(W[r, k] / s_r), s_r = max_k |W[r, k]| / 127, and the vector it
/// multiplies is quantised the same way when it arrives, x ≈ s_x·q_x. A product is then
/// <c>y_r = s_r·s_x·Σ_k q[r, k]·q_x[k]</c>, the sum exact in 32-bit integers, so it does not depend on the order of
/// summation, the instruction set or the thread split. Rows are padded with zeros to a multiple of 32 columns.
/// On AVX-VNNI machines the sum is <c>vpdpbusd</c> (unsigned × signed bytes): vectors are stored offset by 128 as
/// unsigned bytes, and 128·Σ_k q[r, k], kept per row, is subtracted.
/// </summary>
internal sealed class QuantizedMatrix
{
    /// <summary>Columns per padded row: the width of one AVX-VNNI step.</summary>
    public const int Alignment = 32;

    static readonly AsyncLocal<bool> portableOnly = new();

    /// <summary>Rows (output channels).</summary>
    public int Rows { get; }

    /// <summary>Columns of the original matrix.</summary>
    public int Columns { get; }

    /// <summary>Bytes per stored row (Columns rounded up to <see cref="Alignment"/>).</summary>
    public int Stride { get; }

    /// <summary>The int8 values, row-major with <see cref="Stride"/>, in pinned memory.</summary>
    readonly sbyte[] data;

    /// <summary>s_r per row.</summary>
    public float[] Scales { get; }

    /// <summary>Σ_k q[r, k] per row.</summary>
    readonly int[] rowSums;

    QuantizedMatrix(int rows, int columns)
    {
        (Rows, Columns) = (rows, columns);
        Stride = (columns + Alignment - 1) / Alignment * Alignment;
        data = GC.AllocateArray<sbyte>(Math.Max(1, rows * Stride), pinned: true);
        Scales = new float[rows];
        rowSums = new int[rows];
    }

    /// <summary>Whether the integer sums use AVX-VNNI here (otherwise a portable widening path, same
    /// results).</summary>
    public static bool UsesVnni => AvxVnni.IsSupported && !portableOnly.Value;

    /// <summary>Whether, without AVX-VNNI, the integer sums use AVX2's byte products (<c>vpmaddubsw</c> on |w| and
    /// sign(w)·x, exact in 16 bits since both lie in [−127, 127]); otherwise a portable widening path, same
    /// results.</summary>
    static bool UsesAvx2 => Avx2.IsSupported && !portableOnly.Value;

    /// <summary>Makes the calling flow use the portable path until disposed (tests compare the two).</summary>
    internal static IDisposable PortableOnly() => FlowOverride.Set(portableOnly, true);

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
                q.data[r * q.Stride + k] = (sbyte)v;
                sum += v;
            }
            q.rowSums[r] = sum;
        }
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
                q.data[r * q.Stride + k] = v;
                sum += v;
            }
            q.rowSums[r] = sum;
        }
        return q;
    }

    /// <summary>Copies the int8 values, row-major [<see cref="Rows"/>, <see cref="Columns"/>] without padding, into
    /// <paramref name="destination"/>.</summary>
    public void CopyValues(Span<sbyte> destination)
    {
        for (int r = 0; r < Rows; r++)
            data.AsSpan(r * Stride, Columns).CopyTo(destination.Slice(r * Columns, Columns));
    }

    /// <summary>The value the int8 form stands for (for tests and error measurement).</summary>
    public float Dequantized(int row, int column) => data[row * Stride + column] * Scales[row];

    /// <summary>
    /// Quantises a vector of <see cref="Columns"/> values into <paramref name="q"/> (<see cref="Stride"/> bytes,
    /// offset by 128, the padding 128 = zero) and returns its scale s_x = max|x| / 127 (1 for a zero vector). NaN or
    /// infinity in <paramref name="x"/> gives a NaN scale, so the products it feeds are NaN rather than silently
    /// wrong.
    /// </summary>
    public float QuantizeVector(ReadOnlySpan<float> x, Span<byte> q)
    {
        float max = x.IsEmpty ? 0f : MathF.Abs(TensorPrimitives.MaxMagnitude(x));
        if (!float.IsFinite(max))
        {
            q[..Stride].Fill(128);
            return float.NaN;
        }
        float scale = max > 0f ? max / 127f : 1f;
        float inverse = 1f / scale;
        int k = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            // 32 values a round: scale, round half to even (as MathF.Round), offset, narrow to bytes
            var multiplier = Vector256.Create(inverse);
            var offset = Vector256.Create(128);
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
            q[k] = (byte)(Math.Clamp((int)MathF.Round(x[k] * inverse), -127, 127) + 128);
        q[x.Length..Stride].Fill(128);
        return scale;
    }

    /// <summary>Eight values scaled, rounded, clamped to ±127 and offset by 128 (as int32, ready to narrow).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector256<int> Narrowed(ReadOnlySpan<float> x, Vector256<float> multiplier, Vector256<int> offset)
    {
        var rounded = Vector256.ConvertToInt32(Vector256.Round(Vector256.Create(x) * multiplier));
        return Vector256.Clamp(rounded, Vector256.Create(-127), Vector256.Create(127)) + offset;
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
        bool vnni = UsesVnni, avx2 = !vnni && UsesAvx2;
        fixed (sbyte* w0 = data)
        {
            int r = row0, end = row0 + rows;
            if (vnni || avx2)
                for (; r + 4 <= end; r += 4)
                {
                    sbyte* w = w0 + (nint)r * Stride;
                    fixed (float* scales = Scales)
                    fixed (int* sums = rowSums)
                    {
                        // 128·Σq of the four rows, and their scales, for every vector
                        var correction = Vector128.Load(sums + r) * 128;
                        var rowScales = Vector128.Load(scales + r);
                        for (int b = 0; b < batch; b++)
                        {
                            var dots = Vector128.ConvertToSingle(vnni ? FourVnni(w, Stride, x + b * ldx) - correction
                                : FourAvx2(w, Stride, x + b * ldx));
                            (rowScales * Vector128.Create(xScales[b]) * dots).Store(y + b * ldy + r - row0);
                        }
                    }
                }
            for (; r < end; r++)
            {
                sbyte* w = w0 + (nint)r * Stride;
                for (int b = 0; b < batch; b++)
                {
                    int dot = vnni ? DotVnni(w, x + b * ldx, Stride) - 128 * rowSums[r]
                        : avx2 ? DotAvx2(w, x + b * ldx, Stride) : DotPortable(w, x + b * ldx, Stride);
                    y[b * ldy + r - row0] = Scales[r] * xScales[b] * dot;
                }
            }
        }
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
        // the four sums at once: pairwise adds within 128-bit lanes, then the two lanes added
        var sums = Avx2.HorizontalAdd(Avx2.HorizontalAdd(s0, s1), Avx2.HorizontalAdd(s2, s3));
        return sums.GetLower() + sums.GetUpper();
    }

    /// <summary>
    /// Four rows' sums without VNNI: the vector x (stored offset by 128) is made signed, and w·x is formed as
    /// |w| · (sign(w) ⊙ x) with <c>vpmaddubsw</c> — pairs of products in [−127², 127²] sum exactly in 16 bits — then
    /// widened to 32 bits by <c>vpmaddwd</c> against ones.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static unsafe Vector128<int> FourAvx2(sbyte* w, int stride, byte* x)
    {
        Vector256<int> s0 = default, s1 = default, s2 = default, s3 = default;
        var flip = Vector256.Create((byte)0x80);
        var ones = Vector256.Create((short)1);
        for (int i = 0; i < stride; i += 32)
        {
            var xi = (Vector256.Load(x + i) ^ flip).AsSByte();
            s0 += Product(Vector256.Load(w + i), xi, ones);
            s1 += Product(Vector256.Load(w + stride + i), xi, ones);
            s2 += Product(Vector256.Load(w + 2 * stride + i), xi, ones);
            s3 += Product(Vector256.Load(w + 3 * stride + i), xi, ones);
        }
        var sums = Avx2.HorizontalAdd(Avx2.HorizontalAdd(s0, s1), Avx2.HorizontalAdd(s2, s3));
        return sums.GetLower() + sums.GetUpper();
    }

    /// <summary>One row's sum as <see cref="FourAvx2"/> forms it.</summary>
    static unsafe int DotAvx2(sbyte* w, byte* x, int stride)
    {
        Vector256<int> sum = default;
        var flip = Vector256.Create((byte)0x80);
        var ones = Vector256.Create((short)1);
        for (int i = 0; i < stride; i += 32)
            sum += Product(Vector256.Load(w + i), (Vector256.Load(x + i) ^ flip).AsSByte(), ones);
        return Vector256.Sum(sum);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector256<int> Product(Vector256<sbyte> w, Vector256<sbyte> x, Vector256<short> ones) =>
        Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(Avx2.Abs(w), Avx2.Sign(x, w)), ones);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static unsafe int DotVnni(sbyte* w, byte* x, int stride)
    {
        Vector256<int> s = default;
        for (int i = 0; i < stride; i += 32)
            s = AvxVnni.MultiplyWideningAndAdd(s, Vector256.Load(x + i), Vector256.Load(w + i));
        return Vector256.Sum(s);
    }

    static unsafe int DotPortable(sbyte* w, byte* x, int stride)
    {
        var sum = Vector128<int>.Zero;
        var offset = Vector128.Create((short)128);
        for (int i = 0; i < stride; i += 16)
        {
            var (xLow, xHigh) = Vector128.Widen(Vector128.Load(x + i));
            var (wLow, wHigh) = Vector128.Widen(Vector128.Load(w + i));
            sum += Products(xLow.AsInt16() - offset, wLow) + Products(xHigh.AsInt16() - offset, wHigh);
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

using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Recur.Kernels;

/// <summary>
/// Products of a row-major matrix with a few vectors, <c>y_b[r] = W[r]·x_b</c>, for the small-batch recurrent steps
/// of inference: no packing (W is read in place, once per step, which is the whole cost), four rows at a time so
/// four independent accumulators hide the latency of the fused multiply-add, and each vector of a small batch taken
/// while the four rows are still in L1. Every dot product is summed in one fixed order — one vector accumulator
/// over the full-width chunks of k, its lanes summed, then the tail — whichever rows it is grouped with, so splitting
/// the rows across threads never changes a result.
/// </summary>
internal static class MatrixVector
{
    /// <summary>
    /// <c>y[b·ldy + r] = W[r]·x[b·ldx..]</c> for rows r in [0, rows) of <paramref name="w"/> (leading dimension
    /// <paramref name="ldw"/>, k columns) and b in [0, batch).
    /// </summary>
    public static unsafe void RowDots(float* w, nint ldw, int rows, int k, float* x, nint ldx, int batch, float* y,
        nint ldy)
    {
        int r = 0;
        for (; r + 4 <= rows; r += 4)
        {
            float* w0 = w + r * ldw;
            for (int b = 0; b < batch; b++)
            {
                float* xb = x + b * ldx, yb = y + b * ldy + r;
                if (Vector512.IsHardwareAccelerated) Four512(w0, ldw, k, xb, yb);
                else Four256(w0, ldw, k, xb, yb);
            }
        }
        for (; r < rows; r++)
            for (int b = 0; b < batch; b++)
                y[b * ldy + r] = Vector512.IsHardwareAccelerated ? One512(w + r * ldw, k, x + b * ldx)
                    : One256(w + r * ldw, k, x + b * ldx);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static unsafe void Four512(float* w, nint ldw, int k, float* x, float* y)
    {
        Vector512<float> s0 = default, s1 = default, s2 = default, s3 = default;
        int i = 0;
        for (; i + 16 <= k; i += 16)
        {
            var xi = Vector512.Load(x + i);
            s0 = Vector512.FusedMultiplyAdd(Vector512.Load(w + i), xi, s0);
            s1 = Vector512.FusedMultiplyAdd(Vector512.Load(w + ldw + i), xi, s1);
            s2 = Vector512.FusedMultiplyAdd(Vector512.Load(w + 2 * ldw + i), xi, s2);
            s3 = Vector512.FusedMultiplyAdd(Vector512.Load(w + 3 * ldw + i), xi, s3);
        }
        y[0] = Tail(w, i, k, x, Vector512.Sum(s0));
        y[1] = Tail(w + ldw, i, k, x, Vector512.Sum(s1));
        y[2] = Tail(w + 2 * ldw, i, k, x, Vector512.Sum(s2));
        y[3] = Tail(w + 3 * ldw, i, k, x, Vector512.Sum(s3));
    }

    static unsafe float One512(float* w, int k, float* x)
    {
        Vector512<float> s = default;
        int i = 0;
        for (; i + 16 <= k; i += 16) s = Vector512.FusedMultiplyAdd(Vector512.Load(w + i), Vector512.Load(x + i), s);
        return Tail(w, i, k, x, Vector512.Sum(s));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static unsafe void Four256(float* w, nint ldw, int k, float* x, float* y)
    {
        Vector256<float> s0 = default, s1 = default, s2 = default, s3 = default;
        int i = 0;
        for (; i + 8 <= k; i += 8)
        {
            var xi = Vector256.Load(x + i);
            s0 = Vector256.FusedMultiplyAdd(Vector256.Load(w + i), xi, s0);
            s1 = Vector256.FusedMultiplyAdd(Vector256.Load(w + ldw + i), xi, s1);
            s2 = Vector256.FusedMultiplyAdd(Vector256.Load(w + 2 * ldw + i), xi, s2);
            s3 = Vector256.FusedMultiplyAdd(Vector256.Load(w + 3 * ldw + i), xi, s3);
        }
        y[0] = Tail(w, i, k, x, Vector256.Sum(s0));
        y[1] = Tail(w + ldw, i, k, x, Vector256.Sum(s1));
        y[2] = Tail(w + 2 * ldw, i, k, x, Vector256.Sum(s2));
        y[3] = Tail(w + 3 * ldw, i, k, x, Vector256.Sum(s3));
    }

    static unsafe float One256(float* w, int k, float* x)
    {
        Vector256<float> s = default;
        int i = 0;
        for (; i + 8 <= k; i += 8) s = Vector256.FusedMultiplyAdd(Vector256.Load(w + i), Vector256.Load(x + i), s);
        return Tail(w, i, k, x, Vector256.Sum(s));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static unsafe float Tail(float* w, int i, int k, float* x, float sum)
    {
        for (; i < k; i++) sum = MathF.FusedMultiplyAdd(w[i], x[i], sum);
        return sum;
    }
}

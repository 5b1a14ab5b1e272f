using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Recur.Cli.Bench;

/// <summary>
/// The weight-streaming limit of a small-batch recurrent step: at batch 1 a step reads all of W_hh once and does
/// little else, so no kernel can take less time than those bytes take to arrive. The bandwidth is measured here, on
/// this machine, the way the small-batch path reads: each thread reading its own share of the bytes over and over
/// (so a share that fits a core's L2 is read from L2, a larger one from L3 or memory).
/// </summary>
static class WeightStreaming
{
    /// <summary>Bytes per second that <paramref name="threads"/> threads reach together, each reading its own
    /// 64-byte-aligned buffer of <paramref name="bytesPerThread"/> bytes repeatedly for about
    /// <paramref name="seconds"/>.</summary>
    public static unsafe double Bandwidth(long bytesPerThread, int threads, double seconds = 0.4)
    {
        bytesPerThread = Math.Max(4096, bytesPerThread / 256 * 256);
        var buffers = new nint[threads];
        for (int t = 0; t < threads; t++)
        {
            buffers[t] = (nint)NativeMemory.AlignedAlloc((nuint)bytesPerThread, 64);
            new Span<byte>((void*)buffers[t], (int)bytesPerThread).Fill(1);
        }
        try
        {
            var read = new long[threads];
            var start = new Barrier(threads);
            var stopwatch = new Stopwatch();
            bool stop = false;
            var workers = Enumerable.Range(0, threads).Select(t => new Thread(() =>
            {
                float* data = (float*)buffers[t];
                long floats = bytesPerThread / sizeof(float), passes = 0;
                float sink = Pass(data, floats); // warm the caches
                start.SignalAndWait();
                if (t == 0) stopwatch.Start();
                while (!Volatile.Read(ref stop))
                {
                    sink += Pass(data, floats);
                    passes++;
                }
                read[t] = passes * bytesPerThread + (sink == -1 ? 1 : 0);
            })).ToList();
            workers.ForEach(w => w.Start());
            Thread.Sleep(TimeSpan.FromSeconds(seconds));
            Volatile.Write(ref stop, true);
            workers.ForEach(w => w.Join());
            return read.Sum() / stopwatch.Elapsed.TotalSeconds;
        }
        finally
        {
            foreach (nint b in buffers) NativeMemory.AlignedFree((void*)b);
        }
    }

    /// <summary>Reads every float of <paramref name="data"/> once, in four independent sums.</summary>
    static unsafe float Pass(float* data, long floats)
    {
        if (Vector512.IsHardwareAccelerated)
        {
            Vector512<float> s0 = default, s1 = default, s2 = default, s3 = default;
            for (long i = 0; i + 64 <= floats; i += 64)
            {
                s0 += Vector512.Load(data + i);
                s1 += Vector512.Load(data + i + 16);
                s2 += Vector512.Load(data + i + 32);
                s3 += Vector512.Load(data + i + 48);
            }
            return Vector512.Sum((s0 + s1) + (s2 + s3));
        }
        Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default;
        for (long i = 0; i + 32 <= floats; i += 32)
        {
            a0 += Vector256.Load(data + i);
            a1 += Vector256.Load(data + i + 8);
            a2 += Vector256.Load(data + i + 16);
            a3 += Vector256.Load(data + i + 24);
        }
        return Vector256.Sum((a0 + a1) + (a2 + a3));
    }
}

using System.Collections.Concurrent;
using System.Runtime.CompilerServices;

namespace Recur;

/// <summary>
/// A caching allocator for large tensor storage (as PyTorch's caching allocator, for the same reason): a fresh
/// multi-megabyte array costs a page fault per 4 KiB on first touch — about 3 ms per MiB measured on the development
/// VM, which doubled the time of an LSTM forward pass. Arrays are reused only after the GC has proven them unreachable:
/// each pooled array carries a finalizable lease attached through a <see cref="ConditionalWeakTable{TKey, TValue}"/>,
/// which lives exactly as long as the array, so a view, a span or a closure that still uses the array keeps it out of
/// the pool. Large arrays are proven dead only by full collections, so after 16 MiB of fresh large arrays the allocator
/// asks for one (non-compacting); measured on an LSTM inference loop: 47 → 29 ms per call, 1 100 → 260 page faults per
/// call. A training step frees its intermediate gradients as its backward runs, so the arrays it needs next are often
/// dead but unproven: a miss after 64 MiB of pooled allocations since the last collection also asks for one — on a
/// WaveNet training step (660 MiB of tensors) 30 MiB of fresh arrays and 2 collections per step became none and 6, and
/// the step went from 290 to 215 ms.
/// </summary>
internal static class StorageAllocator
{
    /// <summary>Smaller arrays stay with the GC's own allocator (below the large-object heap, whose threshold is
    /// 85,000 bytes, they are cheap; above it, every fresh array faulted its pages in: a batch-1 RNN's 100 KiB of
    /// outputs per call cost 7% of its time).</summary>
    public const int PooledMinimum = 85_000 / sizeof(float);
    const long MaxRetainedBytes = 1L << 30;

    static readonly ConcurrentDictionary<int, ConcurrentBag<float[]>> Free = new();
    static readonly ConditionalWeakTable<float[], Lease> Leases = new();
    static long retainedBytes;
    static long freshBytes, allocatedBytes;
    const long CollectAfterFreshBytes = 16L << 20;
    const long CollectAfterAllocatedBytes = 64L << 20;

    /// <summary>
    /// An array of exactly <paramref name="length"/> elements, zeroed unless <paramref name="clear"/> is false — then
    /// it may hold the values of a dead tensor, and the caller must write every element before anything reads it.
    /// </summary>
    public static float[] Allocate(int length, bool clear = true)
    {
        if (length < PooledMinimum) return clear ? new float[length] : GC.AllocateUninitializedArray<float>(length);
        float[]? array = null;
        if (Free.TryGetValue(length, out var bag) && bag.TryTake(out array))
        {
            Interlocked.Add(ref retainedBytes, -4L * length);
            if (clear) Array.Clear(array);
        }
        long since = Interlocked.Add(ref allocatedBytes, 4L * length);
        if (array is null && (since > CollectAfterAllocatedBytes
            || Interlocked.Add(ref freshBytes, 4L * length) > CollectAfterFreshBytes))
        {
            // Large arrays are only proven dead by a full collection; without one, dead tensors wait while fresh
            // (page-faulting) arrays are made. A non-compacting full collection of a heap of large arrays takes
            // about a millisecond; it refills the pool for the next calls.
            Interlocked.Exchange(ref freshBytes, 0);
            Interlocked.Exchange(ref allocatedBytes, 0);
            GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: false);
            GC.WaitForPendingFinalizers(); // the leases' finalizers put the dead arrays back in the pool
            if (Free.TryGetValue(length, out bag) && bag.TryTake(out array))
            {
                Interlocked.Add(ref retainedBytes, -4L * length);
                if (clear) Array.Clear(array);
            }
        }
        array ??= new float[length]; // fresh pages come zeroed from the system either way
        Leases.AddOrUpdate(array, new Lease(array));
        return array;
    }

    static void Return(float[] array)
    {
        if (Interlocked.Add(ref retainedBytes, 4L * array.Length) > MaxRetainedBytes)
        {
            Interlocked.Add(ref retainedBytes, -4L * array.Length); // over the cap: let the GC have it
            return;
        }
        Free.GetOrAdd(array.Length, _ => []).Add(array);
    }

    /// <summary>Returns its array to the pool when the GC finds the array unreachable.</summary>
    sealed class Lease(float[] array)
    {
        ~Lease()
        {
            if (!Environment.HasShutdownStarted) Return(array);
        }
    }
}

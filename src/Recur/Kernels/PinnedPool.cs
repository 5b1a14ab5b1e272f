using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Recur.Kernels;

/// <summary>A float buffer on the pinned heap with a 64-byte-aligned start, rented from
/// <see cref="PinnedPool"/>.</summary>
internal sealed unsafe class PinnedBuffer
{
    readonly float[] storage;
    public float* Pointer { get; }
    public int Capacity { get; }

    public PinnedBuffer(int capacity)
    {
        // pinned-heap arrays never move, so the aligned pointer stays valid for the buffer's life
        storage = GC.AllocateUninitializedArray<float>(capacity + 16, pinned: true);
        nint address = (nint)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(storage));
        Pointer = (float*)((address + 63) & ~(nint)63);
        Capacity = capacity;
    }

    public Span<float> AsSpan(int length) => new(Pointer, length);
}

/// <summary>
/// Reuses large pinned buffers (packed weights, saved activations) so that repeated forward/backward passes do not
/// ask the operating system for fresh pages each time. Buffers are bucketed by power-of-two capacity.
/// </summary>
internal static class PinnedPool
{
    const int MaxPerBucket = 16;
    static readonly ConcurrentDictionary<int, ConcurrentBag<PinnedBuffer>> Buckets = new();

    public static PinnedBuffer Rent(int length)
    {
        int capacity = (int)Math.Min(int.MaxValue - 64,
            System.Numerics.BitOperations.RoundUpToPowerOf2((uint)Math.Max(length, 64)));
        if (Buckets.TryGetValue(capacity, out var bag) && bag.TryTake(out var buffer)) return buffer;
        return new PinnedBuffer(capacity);
    }

    public static void Return(PinnedBuffer buffer)
    {
        var bag = Buckets.GetOrAdd(buffer.Capacity, _ => []);
        if (bag.Count < MaxPerBucket) bag.Add(buffer);
    }
}

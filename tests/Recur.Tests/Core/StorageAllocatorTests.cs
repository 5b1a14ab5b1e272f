using System.Runtime.CompilerServices;

namespace Recur.Tests.Core;

public class StorageAllocatorTests
{
    const int Large = StorageAllocator.PooledMinimum * 2;

    [MethodImpl(MethodImplOptions.NoInlining)]
    static void DropDirtyTensors(int count)
    {
        for (int i = 0; i < count; i++) Tensor.Zeros(Large).Span.Fill(float.NaN);
    }

    [Fact]
    public void ReusedStorageComesBackZeroed()
    {
        DropDirtyTensors(8);
        GC.Collect();
        GC.WaitForPendingFinalizers();
        for (int i = 0; i < 8; i++)
            Assert.All(Tensor.Zeros(Large).ToArray(), v => Assert.Equal(0f, v));
    }

    [Fact]
    public void LiveStorageIsNeverHandedOutAgain()
    {
        var live = Enumerable.Range(0, 6).Select(i => Tensor.Full(i + 1, Large)).ToList();
        DropDirtyTensors(6);
        GC.Collect();
        GC.WaitForPendingFinalizers();
        var fresh = Enumerable.Range(0, 12).Select(_ => Tensor.Zeros(Large)).ToList();
        foreach (var t in fresh) t.Span.Fill(-1f);
        for (int i = 0; i < live.Count; i++)
            Assert.All(live[i].ToArray(), v => Assert.Equal(i + 1, v));
    }
}

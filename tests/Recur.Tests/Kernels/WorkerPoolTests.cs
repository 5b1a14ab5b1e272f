using Recur.Kernels;
using Recur.Nn.Recurrent;

namespace Recur.Tests.Kernels;

public sealed class WorkerPoolTests
{
    /// <summary>
    /// A worker must not keep the flow settings of the thread that created its pool: the shared pool is created by
    /// whichever code first needs it, and a test's override (here the inference chunk size) would otherwise reach every
    /// later job on that worker and change which kernel path, and so which bits, a run takes.
    /// </summary>
    [Fact]
    public void WorkersDoNotInheritTheCreatorsFlowSettings()
    {
        int fresh = RecurrentKernel.InferenceChunkFloats;
        WorkerPool pool;
        using (RecurrentKernel.WithInferenceChunk(7)) pool = WorkerPool.Create(1);
        var seen = new int[2];
        Assert.True(pool.TryRunTogether(2, part => seen[part] = RecurrentKernel.InferenceChunkFloats));
        Assert.Equal([fresh, fresh], seen);
    }
}

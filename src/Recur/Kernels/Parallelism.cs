namespace Recur.Kernels;

/// <summary>How many cores Recur's large kernels may use.</summary>
public static class Parallelism
{
    static int maxThreads = Environment.ProcessorCount;

    /// <summary>Upper bound on threads for one kernel call (default: the processor count). Results are identical for any value.</summary>
    public static int MaxThreads
    {
        get => maxThreads;
        set => maxThreads = value >= 1 ? value : throw new ArgumentOutOfRangeException(nameof(value), value, "MaxThreads must be at least 1.");
    }
}

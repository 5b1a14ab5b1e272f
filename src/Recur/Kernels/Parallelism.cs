namespace Recur.Kernels;

/// <summary>
/// How many cores Recur's large kernels may use. The limit is scoped, not global: <see cref="Limit"/> sets it for the
/// calling thread and the work it starts (an <see cref="AsyncLocal{T}"/>), so two runs in one process — a server's
/// requests, tests running side by side — each keep their own setting, and nothing outlives the scope.
/// </summary>
public static class Parallelism
{
    static readonly AsyncLocal<int> limit = new();

    /// <summary>
    /// Upper bound on threads for one kernel call in the current scope: the innermost <see cref="Limit"/>, else the
    /// processor count. Results are identical for any value.
    /// </summary>
    public static int MaxThreads => limit.Value > 0 ? limit.Value : Environment.ProcessorCount;

    /// <summary>
    /// Limits kernels called from this thread (and the tasks it starts) to <paramref name="threads"/> until the
    /// returned
    /// scope is disposed; the previous limit then applies again. Scopes nest.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="threads"/> is below 1.</exception>
    public static IDisposable Limit(int threads)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(threads, 1);
        var scope = new Scope(limit.Value);
        limit.Value = threads;
        return scope;
    }

    sealed class Scope(int previous) : IDisposable
    {
        bool disposed;

        public void Dispose()
        {
            if (disposed) return;
            disposed = true;
            limit.Value = previous;
        }
    }
}

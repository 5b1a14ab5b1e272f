using System.Runtime.ExceptionServices;

namespace Recur.Kernels;

/// <summary>
/// Dedicated kernel threads for fine-grained parallel work: a recurrent step's GEMM takes tens of microseconds, less
/// than a thread-pool wake-up through the operating system. Workers spin for a short while after each job (as
/// OpenMP's active wait policy does) and then sleep, so an idle process does not burn a core. One job runs at a
/// time; a caller that finds the pool busy, or calls from inside a job, runs through <see cref="Parallel.For(int, int,
/// Action{int})"/>.
/// </summary>
internal sealed class WorkerPool
{
    const int SpinIterations = 20_000; // ~50–100 µs of waiting before a worker sleeps

    static readonly Lazy<WorkerPool> SharedPool = new(() => new WorkerPool(Math.Max(0,
        Environment.ProcessorCount - 1)));

    /// <summary>The process-wide pool, with one worker per core beyond the caller's.</summary>
    public static WorkerPool Shared => SharedPool.Value;

    [ThreadStatic] static bool insideJob;
    static readonly bool NoPool = Environment.GetEnvironmentVariable("RECUR_NO_POOL") == "1";

    readonly Worker[] workers;
    readonly object gate = new();
    Action<int>? job;
    int jobCount;
    int generation;
    int pending;
    ExceptionDispatchInfo? failure;

    /// <summary>A pool of its own (tests; everything else shares <see cref="Shared"/>).</summary>
    internal static WorkerPool Create(int count) => new(count);

    WorkerPool(int count)
    {
        workers = new Worker[count];
        for (int i = 0; i < count; i++)
        {
            workers[i] = new Worker(this, i + 1);
            var thread = new Thread(workers[i].Loop) { IsBackground = true, Name = $"Recur kernel worker {i + 1}" };
            // not Start(): it would hand the worker, for good, the flow settings (AsyncLocal overrides such as a test's
            // chunk size) of whichever thread happened to create the pool, and jobs would see them
            thread.UnsafeStart();
        }
    }

    /// <summary>Runs <paramref name="body"/>(0 .. count−1) in parallel, index 0 on the calling thread; returns when all
    /// are done.</summary>
    public void For(int count, Action<int> body)
    {
        if (!TryRunTogether(count, body))
            Parallel.For(0, count, new ParallelOptions { MaxDegreeOfParallelism = count }, body);
    }

    /// <summary>
    /// Splits [0, <paramref name="count"/>) into <paramref name="parts"/> fixed contiguous ranges (the same split on
    /// every call) and runs <paramref name="body"/>(part, first, last) for each, in parallel through <see cref="For"/>;
    /// on the calling thread alone when there is one part.
    /// </summary>
    public void ForRanges(int count, int parts, Action<int, int, int> body)
    {
        if (parts <= 1) { body(0, 0, count); return; }
        For(parts, w => body(w, (int)((long)w * count / parts), (int)((long)(w + 1) * count / parts)));
    }

    /// <summary>
    /// Runs <paramref name="body"/>(0 .. count−1) at the same time, each index on its own thread (index 0 on the
    /// calling thread), so the bodies may wait for one another — a barrier at every step of a sequence. Returns false
    /// without running anything when the pool cannot promise that: it is busy, the caller is inside a job, the pool
    /// is switched off (<c>RECUR_NO_POOL=1</c>) or has fewer workers than asked for.
    /// </summary>
    public bool TryRunTogether(int count, Action<int> body)
    {
        if (count <= 1) { body(0); return true; }
        if (NoPool || count > workers.Length + 1 || insideJob || !Monitor.TryEnter(gate)) return false;
        try
        {
            job = body;
            jobCount = count;
            failure = null;
            Volatile.Write(ref pending, count - 1);
            Interlocked.Increment(ref generation);
            for (int i = 0; i < count - 1; i++) workers[i].WakeIfSleeping();
            insideJob = true;
            try { body(0); }
            finally { insideJob = false; }
            int spins = 0;
            while (Volatile.Read(ref pending) > 0) StepBarrier.Pause(ref spins);
            job = null;
            failure?.Throw();
        }
        finally
        {
            Monitor.Exit(gate);
        }
        return true;
    }

    /// <summary>Workers beyond the calling thread: the most <see cref="TryRunTogether"/> can take is one
    /// more.</summary>
    public int Workers => workers.Length;

    sealed class Worker(WorkerPool pool, int index)
    {
        readonly SemaphoreSlim wake = new(0);
        int sleeping;

        public void WakeIfSleeping()
        {
            if (Interlocked.Exchange(ref sleeping, 0) == 1) wake.Release();
        }

        public void Loop()
        {
            int seen = 0;
            while (true)
            {
                int spins = 0;
                while (Volatile.Read(ref pool.generation) == seen)
                {
                    if (spins++ < SpinIterations)
                    {
                        Thread.SpinWait(8);
                        continue;
                    }
                    Interlocked.Exchange(ref sleeping, 1);
                    if (Volatile.Read(ref pool.generation) != seen)
                    {
                        // a job arrived while going to sleep; if its caller already released us, take that release
                        if (Interlocked.Exchange(ref sleeping, 0) == 0) wake.Wait();
                        break;
                    }
                    wake.Wait();
                    spins = 0;
                }
                seen = Volatile.Read(ref pool.generation);
                if (index < pool.jobCount && pool.job is { } body)
                {
                    insideJob = true;
                    try { body(index); }
                    catch (Exception e) { pool.failure ??= ExceptionDispatchInfo.Capture(e); }
                    finally { insideJob = false; }
                    Interlocked.Decrement(ref pool.pending);
                }
            }
        }
    }
}

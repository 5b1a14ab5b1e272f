namespace Recur.Kernels;

/// <summary>
/// A spinning barrier for threads that run a sequence together (<see cref="WorkerPool.TryRunTogether"/>) and meet
/// after every step, which lasts microseconds: waiting through the operating system would cost more than the step.
/// When one participant fails, <see cref="Fail"/> releases the others, whose waits then throw
/// <see cref="OperationCanceledException"/> instead of spinning forever.
/// </summary>
internal sealed class StepBarrier(int participants)
{
    int arrived;
    int phase;
    volatile bool failed;

    /// <summary>Whether a participant called <see cref="Fail"/>.</summary>
    public bool Failed => failed;

    /// <summary>Waits until every participant has arrived at this step's end.</summary>
    public void SignalAndWait()
    {
        int current = Volatile.Read(ref phase);
        if (Interlocked.Increment(ref arrived) == participants)
        {
            arrived = 0; // published by the release write below, before anyone can arrive again
            Volatile.Write(ref phase, current + 1);
            return;
        }
        int spins = 0;
        while (Volatile.Read(ref phase) == current)
        {
            if (failed) throw new OperationCanceledException("Another participant of the step barrier failed.");
            Pause(ref spins);
        }
    }

    /// <summary>
    /// One round of a short wait: pause instructions for the first ~100 µs (a yield to the operating system costs
    /// microseconds, more in a virtual machine, which is the length of a whole step), then a yield each round.
    /// </summary>
    internal static void Pause(ref int spins)
    {
        if (spins++ < 4096) Thread.SpinWait(8);
        else Thread.Yield();
    }

    /// <summary>Releases every participant waiting now or later.</summary>
    public void Fail() => failed = true;
}

using Recur.Kernels;

namespace Recur.Tests.Kernels;

public class StepBarrierTests
{
    [Fact]
    public void NoParticipantPassesAStepBeforeEveryoneArrives()
    {
        const int participants = 3, steps = 2000;
        var barrier = new StepBarrier(participants);
        var arrivals = new int[steps];
        var late = new bool[participants];
        var threads = Enumerable.Range(0, participants).Select(p => new Thread(() =>
        {
            for (int s = 0; s < steps; s++)
            {
                Interlocked.Increment(ref arrivals[s]);
                barrier.SignalAndWait();
                if (Volatile.Read(ref arrivals[s]) != participants) late[p] = true;
            }
        })).ToArray();
        foreach (var thread in threads) thread.Start();
        foreach (var thread in threads) Assert.True(thread.Join(TimeSpan.FromSeconds(60)), "a participant is stuck");
        Assert.All(arrivals, a => Assert.Equal(participants, a));
        Assert.DoesNotContain(true, late);
    }

    [Fact]
    public void AFailureReleasesTheParticipantsWaiting()
    {
        var barrier = new StepBarrier(2);
        Exception? caught = null;
        var waiter = new Thread(() =>
        {
            try { barrier.SignalAndWait(); }
            catch (Exception e) { caught = e; }
        });
        waiter.Start();
        Thread.Sleep(50);
        barrier.Fail();
        Assert.True(waiter.Join(TimeSpan.FromSeconds(30)), "the waiting participant was not released");
        Assert.IsType<OperationCanceledException>(caught);
        Assert.True(barrier.Failed);
    }
}

using System.Collections.Concurrent;

namespace Recur.Explore;

/// <summary>
/// The one door to a model: its modules are not safe to call from two threads at once, so every computation on it —
/// a batch of predictions, a generation, an explanation — runs on one dedicated thread, one after another. The thread
/// is the model's own, not the pool's: a long model call never starves the pool threads that serve connections and
/// fire timeouts (the kernels parallelise inside a call on their own workers).
/// </summary>
sealed class ModelGate : IDisposable
{
    readonly BlockingCollection<Action> work = [];
    readonly Thread thread;

    public ModelGate()
    {
        thread = new Thread(() =>
        {
            foreach (var item in work.GetConsumingEnumerable()) item();
        })
        { IsBackground = true, Name = "recur-explore-model" };
        thread.Start();
    }

    /// <summary>
    /// Runs <paramref name="compute"/> on the model's thread after what is queued before it. Cancellation answers the
    /// caller at once (a request that runs out of time is not held until the model is free); work not yet started is
    /// then skipped, work already running finishes and its result is dropped.
    /// </summary>
    public Task<T> RunAsync<T>(Func<T> compute, CancellationToken cancellation)
    {
        var result = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
        var registration = cancellation.Register(() => result.TrySetCanceled(cancellation));
        Post(() =>
        {
            using (registration)
            {
                if (result.Task.IsCompleted) return;
                try { result.TrySetResult(compute()); }
                catch (Exception e) { result.TrySetException(e); }
            }
        });
        return result.Task;
    }

    /// <summary>Queues <paramref name="item"/> (which handles its own errors) on the model's thread.</summary>
    public void Post(Action item) => work.Add(item);

    /// <summary>Lets the thread end once the queue is empty.</summary>
    public void Dispose() => work.CompleteAdding();
}

/// <summary>
/// Batches concurrent requests: each request joins a queue; whenever the model is free, everything waiting (up to
/// <c>maxBatch</c> items) runs as one batch, so requests that arrive while a batch computes share the next one. No
/// request waits for a timer: a lone request runs at once, and the batch size grows with the load by itself (the
/// adaptive batching of serving systems such as TensorFlow Serving with a zero batch timeout).
/// </summary>
sealed class RequestBatcher<TIn, TOut>(ModelGate gate, Func<IReadOnlyList<TIn>, IReadOnlyList<TOut>> run,
    int maxBatch)
{
    sealed record Pending(TIn Item, TaskCompletionSource<TOut> Result);

    readonly ConcurrentQueue<Pending> queue = new();
    int scheduled;
    long batches, requests, largest;

    /// <summary>Batches run so far.</summary>
    public long Batches => Interlocked.Read(ref batches);

    /// <summary>Requests answered so far.</summary>
    public long Requests => Interlocked.Read(ref requests);

    /// <summary>The largest batch so far.</summary>
    public long Largest => Interlocked.Read(ref largest);

    /// <summary>The answer to <paramref name="item"/>, computed in a batch with whatever else is waiting.</summary>
    public Task<TOut> SubmitAsync(TIn item, CancellationToken cancellation)
    {
        var result = new TaskCompletionSource<TOut>(TaskCreationOptions.RunContinuationsAsynchronously);
        var registration = cancellation.Register(() => result.TrySetCanceled(cancellation));
        _ = result.Task.ContinueWith(_ => registration.Dispose(), TaskScheduler.Default);
        queue.Enqueue(new Pending(item, result));
        if (Interlocked.CompareExchange(ref scheduled, 1, 0) == 0) gate.Post(Drain);
        return result.Task;
    }

    /// <summary>One batch, on the model's thread: everything waiting that has not been cancelled, up to the limit.
    /// </summary>
    void Drain()
    {
        // cleared first: a request queued from here on schedules the next batch itself
        Volatile.Write(ref scheduled, 0);
        var batch = new List<Pending>();
        while (batch.Count < maxBatch && queue.TryDequeue(out var p))
            if (!p.Result.Task.IsCompleted) batch.Add(p);
        if (batch.Count > 0)
        {
            try
            {
                var outputs = run(batch.Select(p => p.Item).ToList());
                for (int i = 0; i < batch.Count; i++) batch[i].Result.TrySetResult(outputs[i]);
            }
            catch (Exception e)
            {
                // a bad item fails its batch: each is then answered alone, so only the bad one reports its error
                if (batch.Count == 1) batch[0].Result.TrySetException(e);
                else foreach (var p in batch)
                {
                    try { p.Result.TrySetResult(run([p.Item])[0]); }
                    catch (Exception single) { p.Result.TrySetException(single); }
                }
            }
            Interlocked.Increment(ref batches);
            Interlocked.Add(ref requests, batch.Count);
            if (batch.Count > Largest) Interlocked.Exchange(ref largest, batch.Count); // only this thread writes
        }
        if (!queue.IsEmpty && Interlocked.CompareExchange(ref scheduled, 1, 0) == 0) gate.Post(Drain);
    }
}

"""The timer every peer script shares (it is written beside them when `recur bench` runs one): the same warm-up
and median rule as Recur's own `Timing.Measure`."""
import time


def best_time(function, min_seconds, repeat=5):
    """Warms up for at least 10 runs and 1 s and then until two runs agree within 5% (at most 5 s), then times at
    least `repeat` runs and `min_seconds` in all; returns (median, min, max) seconds per run."""
    previous, warm, i = float("inf"), 0.0, 0
    while warm < 5:
        start = time.perf_counter()
        function()
        t = time.perf_counter() - start
        warm += t
        if i >= 9 and warm >= 1 and abs(t - previous) <= 0.05 * min(t, previous):
            break
        previous = t
        i += 1
    times = []
    while len(times) < repeat or sum(times) < min_seconds:
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    times.sort()
    n = len(times)
    median = times[n // 2] if n % 2 else (times[n // 2 - 1] + times[n // 2]) / 2
    return median, times[0], times[-1]


def read_request():
    """The JSON request `recur bench` writes to the peer's standard input (or gives as the first argument, for a
    run by hand)."""
    import json
    import sys
    return json.loads(sys.argv[1]) if len(sys.argv) > 1 else json.load(sys.stdin)


def print_step_times(step, batches, r):
    """Times passes over `batches` (one timed run calls `step(batch)` for each, in order) and prints the JSON answer
    of the training-step peers: {"step": seconds, "step_min", "step_max"}, per batch."""
    import json

    def epoch():
        for batch in batches:
            step(batch)

    median, low, high = best_time(epoch, r["min_seconds"], r.get("repeat", 5))
    n = len(batches)
    print(json.dumps({"step": median / n, "step_min": low / n, "step_max": high / n}))

using System.Diagnostics;

namespace Recur.Cli.Bench;

/// <summary>Seconds per run of a timed action: the median and the spread of the timed repetitions.</summary>
sealed record Timing(double Median, double Min, double Max, int Runs)
{
    /// <summary>
    /// Warms <paramref name="action"/> for at least 10 runs and 1 s, and then until two consecutive runs agree within
    /// 5% (at most 5 s), then times at least <paramref name="repeat"/> runs and at least <paramref name="minSeconds"/>
    /// in all. The floor matters: two runs can agree while the JIT is still recompiling the hot methods at tier 1 on a
    /// thread that competes with the kernel threads, and a first configuration measured then read 1.8× slow (an LSTM
    /// at 193,000 steps/s that runs at 344,000 once the JIT has finished).
    /// </summary>
    public static Timing Measure(Action action, double minSeconds, int repeat)
    {
        double previous = double.MaxValue, warm = 0;
        for (int i = 0; warm < 5; i++)
        {
            double t = Once(action);
            warm += t;
            if (i >= 9 && warm >= 1 && Math.Abs(t - previous) <= 0.05 * Math.Min(t, previous)) break;
            previous = t;
        }
        var times = new List<double>();
        double total = 0;
        while (times.Count < repeat || total < minSeconds)
        {
            double t = Once(action);
            times.Add(t);
            total += t;
        }
        times.Sort();
        double median = times.Count % 2 == 1 ? times[times.Count / 2] : (times[times.Count / 2 - 1]
            + times[times.Count / 2]) / 2;
        return new Timing(median, times[0], times[^1], times.Count);
    }

    static double Once(Action action)
    {
        long start = Stopwatch.GetTimestamp();
        action();
        return Stopwatch.GetElapsedTime(start).TotalSeconds;
    }

    /// <summary>Rounds of the same measurement taken apart in time: the median of their medians, the smallest
    /// minimum and the largest maximum.</summary>
    public static Timing Combine(IReadOnlyList<Timing> rounds)
    {
        var medians = rounds.Select(r => r.Median).Order().ToArray();
        double median = medians.Length % 2 == 1 ? medians[medians.Length / 2]
            : (medians[medians.Length / 2 - 1] + medians[medians.Length / 2]) / 2;
        return new Timing(median, rounds.Min(r => r.Min), rounds.Max(r => r.Max), rounds.Sum(r => r.Runs));
    }

    /// <summary>The spread as "−a% / +b%" around the median.</summary>
    public string Spread => FormattableString.Invariant($"−{100 * (Median - Min) / Median:F0}% / +{100 * (
        Max - Median) / Median:F0}%");
}

namespace Recur.Energy;

/// <summary>Recall at one load of the capacity experiment.</summary>
/// <param name="Patterns">Stored random patterns P.</param>
/// <param name="Load">P/N.</param>
/// <param name="RecallRate">Fraction of probed patterns recalled (final overlap with the pattern ≥ the
/// criterion).</param>
/// <param name="MeanOverlap">Mean final overlap with the probed pattern.</param>
public sealed record CapacityPoint(int Patterns, double Load, double RecallRate, double MeanOverlap);

/// <summary>
/// The storage-capacity experiment: store more and more random ±1 patterns in an N-unit network and, at each load
/// P/N, start asynchronous recall from stored patterns (optionally corrupted) and count how many end near the pattern
/// they started from. With the Hebbian rule recall collapses near P/N ≈ 0.138 (Amit, Gutfreund &amp; Sompolinsky 1985);
/// Storkey's rule holds out longer.
/// </summary>
public static class HopfieldCapacity
{
    /// <summary>
    /// Runs the experiment for each count in <paramref name="patternCounts"/> (ascending; patterns are added to the
    /// same networks), over <paramref name="trials"/> independent networks, probing up to <paramref name="probes"/>
    /// stored patterns per network and load. A probe counts as recalled when its final overlap is at least
    /// <paramref name="criterion"/>. The default 0.967 is the overlap of the retrieval state at the capacity limit in
    /// the mean-field theory of Amit, Gutfreund &amp; Sompolinsky (1985): a state with less overlap is off the
    /// retrieval branch.
    /// </summary>
    public static IReadOnlyList<CapacityPoint> Measure(int neurons, HopfieldRule rule,
        IReadOnlyList<int> patternCounts, RandomGenerator random,
        int trials = 1, int probes = 20, double noise = 0, double criterion = 0.967, int maxSweeps = 50)
    {
        if (patternCounts.Count == 0 || patternCounts[0] < 1 || patternCounts.Zip(patternCounts.Skip(1)).Any(p
            => p.Second <= p.First))
            throw new ArgumentException("HopfieldCapacity: pattern counts must be positive and strictly increasing.");
        if (trials < 1
            || probes < 1) throw new ArgumentException(
            $"HopfieldCapacity: trials and probes must be positive, got {trials} and {probes}.");
        var recalled = new double[patternCounts.Count];
        var overlaps = new double[patternCounts.Count];
        var tried = new int[patternCounts.Count];
        for (int trial = 0; trial < trials; trial++)
        {
            var network = new HopfieldNetwork(neurons);
            var patterns = new List<sbyte[]>();
            for (int k = 0; k < patternCounts.Count; k++)
            {
                var added = new List<sbyte[]>();
                while (patterns.Count < patternCounts[k])
                {
                    var p = HopfieldNetwork.RandomPattern(neurons, random);
                    patterns.Add(p);
                    added.Add(p);
                }
                network.Store(added, rule);
                int count = Math.Min(probes, patterns.Count);
                for (int probe = 0; probe < count; probe++)
                {
                    var target = patterns[(int)((long)probe * patterns.Count / count)];
                    var start = noise > 0 ? HopfieldNetwork.Corrupt(target, noise, random) : target;
                    var result = network.Recall(start, HopfieldUpdate.Asynchronous, random, maxSweeps);
                    double m = HopfieldNetwork.Overlap(result.State, target);
                    overlaps[k] += m;
                    if (m >= criterion) recalled[k]++;
                    tried[k]++;
                }
            }
        }
        return patternCounts.Select((p, k) => new CapacityPoint(p, (double)p / neurons, recalled[k] / tried[k],
            overlaps[k] / tried[k])).ToArray();
    }

    /// <summary>
    /// The load at which the recall rate first falls below <paramref name="level"/> (one half: the midpoint of the
    /// collapse; 0.9: its onset), interpolated linearly between the two loads around the crossing; null when it never
    /// falls that low (or starts below it).
    /// </summary>
    public static double? EstimateCapacity(IReadOnlyList<CapacityPoint> points, double level = 0.5)
    {
        for (int k = 1; k < points.Count; k++)
        {
            var (a, b) = (points[k - 1], points[k]);
            if (a.RecallRate >= level && b.RecallRate < level)
                return a.Load + (a.RecallRate - level) / (a.RecallRate - b.RecallRate) * (b.Load - a.Load);
        }
        return null;
    }
}

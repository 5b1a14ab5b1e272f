using Recur.Energy;

namespace Recur.Tests.Energy;

public sealed class HopfieldTests : IDisposable
{
    readonly string folder = Directory.CreateTempSubdirectory("recur-hopfield-").FullName;

    public void Dispose() => Directory.Delete(folder, recursive: true);

    static HopfieldNetwork RandomNetwork(int n, RandomGenerator random, bool biases)
    {
        var network = new HopfieldNetwork(n);
        for (int i = 0; i < n; i++)
        {
            for (int j = i + 1; j < n; j++) network.SetWeight(i, j, random.NextNormal());
            if (biases) network.Biases[i] = random.NextNormal();
        }
        return network;
    }

    /// <summary>Property: on random symmetric networks, asynchronous updates never raise the energy, and the reported
    /// energies agree with the energy recomputed from scratch.</summary>
    [Fact]
    public void AsynchronousUpdatesNeverIncreaseTheEnergy()
    {
        var random = new RandomGenerator(21);
        for (int trial = 0; trial < 40; trial++)
        {
            int n = 5 + random.NextInt(40);
            var network = RandomNetwork(n, random, biases: trial % 2 == 0);
            var start = HopfieldNetwork.RandomPattern(n, random);
            var result = network.Recall(start, HopfieldUpdate.Asynchronous, random, maxSweeps: 200);
            Assert.Equal(RecallOutcome.Converged, result.Outcome); // asynchronous dynamics always reach a fixed point
            for (int k = 1; k < result.Energies.Count; k++) Assert.True(result.Energies[k] <= result.Energies[k - 1],
                $"trial {trial}: energy rose at update {k}");
            Assert.Equal(network.Energy(result.State), result.Energies[^1], 1e-9 * Math.Max(1,
                Math.Abs(result.Energies[^1])));
            Assert.Equal(1 + result.Sweeps * n, result.Energies.Count); // one energy per unit visit, plus the start
        }
    }

    [Fact]
    public void EnergyFollowsItsDefinition()
    {
        var network = new HopfieldNetwork(3);
        network.SetWeight(0, 1, 2);
        network.SetWeight(1, 2, -1);
        network.Biases[0] = 0.5;
        // E = −Σ b_i s_i − Σ_{i<j} w_ij s_i s_j
        Assert.Equal(-(0.5 * 1) - (2 * 1 * -1 + -1 * -1 * 1), network.Energy([1, -1, 1]));
        Assert.Throws<ArgumentException>(() => network.Energy([1, 0, 1]));
        Assert.Throws<ArgumentException>(() => network.SetWeight(1, 1, 3));
    }

    [Theory]
    [InlineData(HopfieldRule.Hebbian)]
    [InlineData(HopfieldRule.Storkey)]
    public void StoredPatternsBelowCapacityAreRecalledExactlyFromCorruptedCues(HopfieldRule rule)
    {
        var random = new RandomGenerator(3);
        const int n = 200;
        var patterns = Enumerable.Range(0, 8).Select(_ => HopfieldNetwork.RandomPattern(n,
            random)).ToList(); // load 0.04
        var network = new HopfieldNetwork(n);
        network.Store(patterns, rule);
        for (int k = 0; k < patterns.Count; k++)
        {
            var fixedPoint = network.Recall(patterns[k], HopfieldUpdate.Asynchronous, random);
            Assert.Equal(0, fixedPoint.Flips);
            var cue = HopfieldNetwork.Corrupt(patterns[k], 0.15, random);
            foreach (var mode in new[] { HopfieldUpdate.Asynchronous, HopfieldUpdate.Synchronous })
            {
                var result = network.Recall(cue, mode, random);
                Assert.Equal(RecallOutcome.Converged, result.Outcome);
                Assert.Equal(patterns[k], result.State);
                Assert.Equal((k, false, false), HopfieldNetwork.Classify(result.State, patterns));
            }
        }
    }

    [Fact]
    public void HebbianWeightsAreTheOuterProductsAndStorkeyDiffers()
    {
        var random = new RandomGenerator(4);
        var patterns = Enumerable.Range(0, 3).Select(_ => HopfieldNetwork.RandomPattern(6, random)).ToList();
        var hebbian = new HopfieldNetwork(6);
        hebbian.Store(patterns);
        for (int i = 0; i < 6; i++)
            for (int j = 0; j < 6; j++)
                Assert.Equal(i == j ? 0 : patterns.Sum(p => p[i] * p[j]) / 6.0, hebbian.Weight(i, j), 12);
        // Storkey's first pattern gives the Hebbian weights; later ones subtract the cross-talk of the local fields
        var storkey = new HopfieldNetwork(6);
        storkey.Store(patterns.Take(1), HopfieldRule.Storkey);
        var single = new HopfieldNetwork(6);
        single.Store(patterns.Take(1));
        for (int i = 0; i < 6; i++) for (int j = 0; j < 6; j++) Assert.Equal(single.Weight(i, j), storkey.Weight(i, j),
            12);
        storkey.Store(patterns.Skip(1), HopfieldRule.Storkey);
        var p = patterns;
        // the second pattern by hand: h_ij = Σ_{k≠i,j} w_ik p_k with the weights after the first pattern
        double W(int a, int b) => a == b ? 0 : p[0][a] * p[0][b] / 6.0;
        double H(int a, int b) => Enumerable.Range(0, 6).Where(k => k != a && k != b).Sum(k => W(a, k) * p[1][k]);
        double expected = W(0, 1) + (p[1][0] * p[1][1] - p[1][0] * H(1, 0) - H(0, 1) * p[1][1]) / 6.0;
        var two = new HopfieldNetwork(6);
        two.Store(p.Take(2), HopfieldRule.Storkey);
        Assert.Equal(expected, two.Weight(0, 1), 12);
        Assert.Equal(two.Weight(0, 1), two.Weight(1, 0));
    }

    [Fact]
    public void SynchronousUpdatesDetectATwoCycle()
    {
        // two units that each want the opposite of the other's sign... with positive coupling and opposite start, they
        // swap forever
        var network = new HopfieldNetwork(2);
        network.SetWeight(0, 1, 1);
        var result = network.Recall([1, -1], HopfieldUpdate.Synchronous, new RandomGenerator(1));
        Assert.Equal(RecallOutcome.LimitCycle, result.Outcome);
        Assert.Equal(2, result.Sweeps);
        var asynchronous = network.Recall([1, -1], HopfieldUpdate.Asynchronous, new RandomGenerator(1));
        Assert.Equal(RecallOutcome.Converged, asynchronous.Outcome);
        Assert.Equal(asynchronous.State[0], asynchronous.State[1]);
    }

    [Fact]
    public void MixturesOfThreePatternsAreSpuriousAttractors()
    {
        var random = new RandomGenerator(9);
        const int n = 300;
        var patterns = Enumerable.Range(0, 3).Select(_ => HopfieldNetwork.RandomPattern(n, random)).ToList();
        var network = new HopfieldNetwork(n);
        network.Store(patterns);
        // the symmetric mixture sign(p1 + p2 + p3) is a known spurious fixed point of Hebbian networks
        var mixture = Enumerable.Range(0,
            n).Select(i => (sbyte)Math.Sign(patterns[0][i] + patterns[1][i] + patterns[2][i])).ToArray();
        var result = network.Recall(mixture, HopfieldUpdate.Asynchronous, random);
        Assert.True(HopfieldNetwork.Classify(result.State, patterns).Spurious);
        Assert.All(patterns, p => Assert.InRange(HopfieldNetwork.Overlap(result.State, p), 0.3,
            0.7)); // about ½ with each
        var inverse = patterns[1].Select(v => (sbyte)-v).ToArray();
        Assert.Equal((1, true, false), HopfieldNetwork.Classify(network.Recall(inverse, HopfieldUpdate.Asynchronous,
            random).State, patterns));
    }

    [Fact]
    public void CapacityCollapsesForHebbianAndStorkeyStoresMore()
    {
        var counts = Enumerable.Range(1, 12).Select(k => k * 10).ToArray(); // loads 0.05 … 0.6 for N = 200
        var hebbian = HopfieldCapacity.Measure(200, HopfieldRule.Hebbian, counts, new RandomGenerator(1), probes: 10);
        var storkey = HopfieldCapacity.Measure(200, HopfieldRule.Storkey, counts, new RandomGenerator(1), probes: 10);
        Assert.Equal(1.0, hebbian[0].RecallRate);
        Assert.Equal(0.0, hebbian[^1].RecallRate);
        double hebbianCapacity = HopfieldCapacity.EstimateCapacity(hebbian)!.Value;
        Assert.InRange(hebbianCapacity, 0.08, 0.25); // 0.138 in the large-N limit; small networks spread the collapse
        double storkeyCapacity = HopfieldCapacity.EstimateCapacity(storkey) ?? 1.0;
        Assert.True(storkeyCapacity > hebbianCapacity, $"Storkey {storkeyCapacity} vs Hebbian {hebbianCapacity}");
        Assert.Throws<ArgumentException>(() => HopfieldCapacity.Measure(50, HopfieldRule.Hebbian, [5, 5],
            new RandomGenerator(1)));
    }

    [Fact]
    public void SaveAndLoadRoundTripAndRejectBrokenFiles()
    {
        var random = new RandomGenerator(5);
        var patterns = Enumerable.Range(0, 3).Select(_ => HopfieldNetwork.RandomPattern(16, random)).ToList();
        var network = new HopfieldNetwork(16);
        network.Store(patterns);
        network.Biases[3] = 0.25;
        string path = Path.Combine(folder, "net.safetensors");
        network.Save(path, patterns, new Dictionary<string, string> { ["height"] = "4" });
        var (loaded, loadedPatterns, metadata) = HopfieldNetwork.Load(path);
        Assert.Equal("4", metadata["height"]);
        Assert.Equal(3, loaded.StoredPatterns);
        Assert.Equal(patterns, loadedPatterns);
        for (int i = 0; i < 16; i++) for (int j = 0; j < 16; j++) Assert.Equal((float)network.Weight(i, j),
            (float)loaded.Weight(i, j));
        Assert.Equal(0.25, loaded.Biases[3]);

        var asymmetric = new Dictionary<string, Tensor>
        {
            ["weight"] = Tensor.FromArray([0f, 1f, 2f, 0f], 2, 2),
            ["bias"] = Tensor.Zeros(2)
        };
        Recur.Serialization.SafeTensors.Save(path, asymmetric, new Dictionary<string,
            string>
        { ["format"] = "recur.hopfield" });
        Assert.Contains("symmetric", Assert.Throws<InvalidDataException>(() => HopfieldNetwork.Load(path)).Message);
    }

    [Fact]
    public void PatternFilesAreReadAndErrorsNameTheLine()
    {
        string path = Path.Combine(folder, "patterns.txt");
        File.WriteAllText(path, "// two glyphs\n#..#\n.##.\n\n####\n#..#\n");
        var (patterns, height, width) = PatternFile.Read(path);
        Assert.Equal((2, 2, 4), (patterns.Count, height, width));
        Assert.Equal(new sbyte[] { 1, -1, -1, 1, -1, 1, 1, -1 }, patterns[0]);
        File.WriteAllText(path, "#..#\n.#?.\n");
        Assert.Contains("line 2, column 3", Assert.Throws<InvalidDataException>(() => PatternFile.Read(path)).Message);
        File.WriteAllText(path, "#..#\n\n#..#\n#..#\n");
        Assert.Contains("line 3", Assert.Throws<InvalidDataException>(() => PatternFile.Read(path)).Message);
        File.WriteAllText(path, "#..#\n#.#\n");
        Assert.Contains("line 2", Assert.Throws<InvalidDataException>(() => PatternFile.Read(path)).Message);
    }
}

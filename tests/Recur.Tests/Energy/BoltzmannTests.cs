using Recur.Energy;

namespace Recur.Tests.Energy;

public sealed class RbmTests : IDisposable
{
    readonly string folder = Directory.CreateTempSubdirectory("recur-rbm-").FullName;

    public void Dispose() => Directory.Delete(folder, recursive: true);

    static RestrictedBoltzmannMachine RandomMachine(int visible, int hidden, ulong seed, float scale,
        VisibleUnits type = VisibleUnits.Binary)
    {
        var random = new RandomGenerator(seed);
        var rbm = new RestrictedBoltzmannMachine(visible, hidden, random, type);
        for (int i = 0; i < rbm.Weights.Length; i++) rbm.Weights[i] = scale * random.NextNormal();
        for (int i = 0; i < visible; i++) rbm.VisibleBias[i] = 0.5f * random.NextNormal();
        for (int j = 0; j < hidden; j++) rbm.HiddenBias[j] = 0.5f * random.NextNormal();
        return rbm;
    }

    static float[] Bits(int mask, int n) => Enumerable.Range(0, n).Select(i => (float)(mask >> i & 1)).ToArray();

    /// <summary>F(v) = −log Σ_h e^{−E(v, h)}, checked by enumerating h for binary and Gaussian visible units.</summary>
    [Theory]
    [InlineData(VisibleUnits.Binary)]
    [InlineData(VisibleUnits.Gaussian)]
    public void FreeEnergyMarginalisesTheHiddenUnits(VisibleUnits type)
    {
        var rbm = RandomMachine(5, 4, 1, 0.7f, type);
        var v = new float[] { 1, 0, 0.5f, 1, -0.3f };
        double sum = 0;
        for (int mask = 0; mask < 16; mask++)
        {
            var h = Bits(mask, 4);
            double energy = type == VisibleUnits.Binary ? -Enumerable.Range(0, 5).Sum(i => rbm.VisibleBias[i] * v[i])
                : Enumerable.Range(0, 5).Sum(i => 0.5 * (v[i] - rbm.VisibleBias[i]) * (v[i] - rbm.VisibleBias[i]));
            for (int j = 0; j < 4; j++)
            {
                energy -= rbm.HiddenBias[j] * h[j];
                for (int i = 0; i < 5; i++) energy -= v[i] * rbm.Weights[i * 4 + j] * h[j];
            }
            sum += Math.Exp(-energy);
        }
        Assert.Equal(-Math.Log(sum), rbm.FreeEnergy(v)[0], 1e-5);
    }

    [Fact]
    public void ExactPartitionFunctionAgreesWhicheverLayerIsEnumerated()
    {
        var wide = RandomMachine(6, 9, 2, 0.8f);   // enumerates the 6 visible units
        var tall = RandomMachine(9, 6, 7, 0.8f);   // enumerates the 6 hidden units
        // make tall the same machine as wide with its layers swapped: W_tall = W_wideᵀ, biases exchanged
        for (int i = 0; i < 6; i++)
            for (int j = 0; j < 9; j++) tall.Weights[j * 6 + i] = wide.Weights[i * 9 + j];
        wide.HiddenBias.CopyTo(tall.VisibleBias, 0);
        wide.VisibleBias.CopyTo(tall.HiddenBias, 0);
        // binary units on both sides: Z does not depend on which layer is called visible
        Assert.Equal(wide.ExactLogPartition(), tall.ExactLogPartition(), 1e-6);
        // and each agrees with brute force over all 2^15 joint states
        foreach (var rbm in new[] { wide, tall })
        {
            double brute = 0;
            for (int vm = 0; vm < 1 << rbm.Visible; vm++)
                for (int hm = 0; hm < 1 << rbm.Hidden; hm++)
                {
                    var v = Bits(vm, rbm.Visible);
                    var h = Bits(hm, rbm.Hidden);
                    double e = 0;
                    for (int i = 0; i < rbm.Visible; i++) e -= rbm.VisibleBias[i] * v[i];
                    for (int j = 0; j < rbm.Hidden; j++) e -= rbm.HiddenBias[j] * h[j];
                    for (int i = 0; i < rbm.Visible; i++) for (int j
                        = 0; j < rbm.Hidden; j++) e -= v[i] * rbm.Weights[i * rbm.Hidden + j] * h[j];
                    brute += Math.Exp(-e);
                }
            Assert.Equal(Math.Log(brute), rbm.ExactLogPartition(), 1e-6);
        }
    }

    [Fact]
    public void AnnealedImportanceSamplingMatchesTheExactPartitionFunction()
    {
        var rbm = RandomMachine(12, 8, 3, 1.0f);
        double exact = rbm.ExactLogPartition();
        var (estimate, _) = rbm.AnnealedImportanceSampling(runs: 200, steps: 2000, new RandomGenerator(4),
            rbm.VisibleBias);
        Assert.Equal(exact, estimate, 0.05);
    }

    /// <summary>
    /// The CD-k gradient with a long chain approaches the exact gradient of the mean log-likelihood, computed by
    /// enumerating every visible vector; CD-1 on the same data is biased but points the same way.
    /// </summary>
    [Fact]
    public void LongChainCdGradientApproachesTheExactLikelihoodGradient()
    {
        const int visible = 6, hidden = 4;
        var rbm = RandomMachine(visible, hidden, 5, 0.6f);
        var data = new[] { 0b101101, 0b110011, 0b000111, 0b111000, 0b101010 }.SelectMany(m => Bits(m,
            visible)).ToArray();
        int n = data.Length / visible;

        // exact: ⟨v p(h|v)ᵀ⟩_data − Σ_v p(v) v p(h|v)ᵀ
        var exact = new double[visible * hidden];
        double logZ = rbm.ExactLogPartition();
        var ph = new float[hidden];
        for (int r = 0; r < n; r++)
        {
            var v = data.AsSpan(r * visible, visible);
            rbm.HiddenProbabilities(v, ph);
            for (int i = 0; i < visible; i++) for (int j = 0; j < hidden; j++) exact[i * hidden
                + j] += v[i] * ph[j] / (double)n;
        }
        for (int mask = 0; mask < 1 << visible; mask++)
        {
            var v = Bits(mask, visible);
            double p = Math.Exp(-rbm.FreeEnergy(v)[0] - logZ);
            rbm.HiddenProbabilities(v, ph);
            for (int i = 0; i < visible; i++) for (int j = 0; j < hidden; j++) exact[i * hidden
                + j] -= p * v[i] * ph[j];
        }

        // CD-200 over 2,000 copies of the data: 10,000 chains, a Monte-Carlo error of about 0.005 per element
        var copies = Enumerable.Repeat(data, 2000).SelectMany(d => d).ToArray();
        var trainer = new RbmTrainer(rbm, new RbmTrainingOptions(GibbsSteps: 200, BatchSize: copies.Length / visible),
            new RandomGenerator(6));
        var estimate = trainer.Gradient(copies).Weights;
        for (int k = 0; k < exact.Length; k++) Assert.Equal(exact[k], estimate[k], 0.025);

        var cd1 = new RbmTrainer(rbm, new RbmTrainingOptions(GibbsSteps: 1, BatchSize: copies.Length / visible),
            new RandomGenerator(7)).Gradient(copies).Weights;
        double dot = 0, a = 0, b = 0;
        for (int k
            = 0; k < exact.Length; k++)
        {
            dot += exact[k] * cd1[k]; a += exact[k] * exact[k]; b += cd1[k]
            * (double)cd1[k];
        }
        Assert.True(dot / Math.Sqrt(a * b) > 0.7,
            $"CD-1 and the exact gradient disagree in direction: cosine {dot / Math.Sqrt(a * b):F3}");
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void TrainingRaisesTheExactLogLikelihoodAndIsDeterministic(bool persistent)
    {
        const int visible = 8;
        var patterns = new[] { 0b11110000, 0b00001111, 0b11001100, 0b00110011 };
        var random = new RandomGenerator(8);
        var data = Enumerable.Range(0, 200).SelectMany(_ => Bits(patterns[random.NextInt(4)], visible)).ToArray();
        double Train(out RestrictedBoltzmannMachine rbm, out double before)
        {
            rbm = new RestrictedBoltzmannMachine(visible, 6, new RandomGenerator(9));
            before = rbm.LogLikelihood(data, rbm.ExactLogPartition());
            // a small rate: persistent chains must keep up with the weights (Tieleman 2008), and CD-1 is stable with it
            // too
            var trainer = new RbmTrainer(rbm, new RbmTrainingOptions(Persistent: persistent, LearningRate: 0.02f,
                BatchSize: 10), new RandomGenerator(10));
            for (int epoch = 0; epoch < 100; epoch++) trainer.TrainEpoch(data);
            return rbm.LogLikelihood(data, rbm.ExactLogPartition());
        }
        double after = Train(out var first, out double start);
        Assert.True(after > start + 2.5, $"persistent {persistent}: log-likelihood {start:F3} → {after:F3}");
        // the four patterns (of 256 states) hold a large share of the model's probability mass
        double logZ = first.ExactLogPartition();
        double mass = patterns.Sum(m => Math.Exp(-first.FreeEnergy(Bits(m, visible))[0] - logZ));
        Assert.True(mass > 0.4, $"persistent {persistent}: the patterns hold {mass:P1} of the mass "
            + $"(log-likelihood {after:F3}, best possible −log 4)");
        Train(out var second, out _);
        Assert.Equal(first.Weights, second.Weights);
        Assert.True(first.ReconstructionError(data) < 1.0);
        Assert.True(first.PseudoLogLikelihood(data, new RandomGenerator(1)) < 0);
    }

    [Fact]
    public void SaveLoadRoundTripsAndBadFilesAreNamed()
    {
        var rbm = RandomMachine(7, 3, 11, 0.5f, VisibleUnits.Gaussian);
        string path = Path.Combine(folder, "rbm.safetensors");
        rbm.Save(path, new Dictionary<string, string> { ["height"] = "7" });
        var (loaded, metadata) = RestrictedBoltzmannMachine.Load(path);
        Assert.Equal(VisibleUnits.Gaussian, loaded.VisibleType);
        Assert.Equal(rbm.Weights, loaded.Weights);
        Assert.Equal("7", metadata["height"]);
        Recur.Serialization.SafeTensors.Save(path, new Dictionary<string, Tensor> { ["weight"] = Tensor.Zeros(2, 2) });
        Assert.Contains(path, Assert.Throws<InvalidDataException>(() => RestrictedBoltzmannMachine.Load(path)).Message);
        Assert.Throws<ArgumentException>(() => rbm.FreeEnergy(new float[5]));
    }
}

public class BoltzmannMachineTests
{
    [Fact]
    public void GibbsSamplingAtUnitTemperatureReachesTheBoltzmannDistribution()
    {
        var machine = new BoltzmannMachine(3, 2, new RandomGenerator(1));
        // give it some structure so the distribution is far from uniform
        var training = new List<byte[]> { new byte[] { 1, 1, 0 }, new byte[] { 0, 1, 1 } };
        for (int e = 0; e < 20; e++) machine.TrainEpoch(training, 0.5, new RandomGenerator((ulong)e + 2));
        var exact = machine.ExactVisibleDistribution();
        Assert.Equal(1.0, exact.Sum(), 1e-9);
        var counts = new double[8];
        var random = new RandomGenerator(3);
        var state = new byte[5];
        const int samples = 20000;
        for (int s = 0; s < samples; s++)
        {
            machine.Anneal(state, 0, [1.0], random);
            counts[state[0] | state[1] << 1 | state[2] << 2]++;
        }
        for (int k = 0; k < 8; k++) Assert.Equal(exact[k], counts[k] / samples, 0.02);
    }

    /// <summary>The 4-2-4 encoder (Ackley, Hinton &amp; Sejnowski 1985): two hidden units must code four one-hot
    /// patterns.</summary>
    [Fact]
    public void LearnsTheFourTwoFourEncoder()
    {
        var data = Enumerable.Range(0, 4).Select(k =>
        {
            var v = new byte[8];
            v[k] = 1;
            v[4 + k] = 1;
            return v;
        }).ToList();
        var machine = new BoltzmannMachine(8, 2, new RandomGenerator(4));
        double before = machine.KullbackLeibler(data);
        var random = new RandomGenerator(5);
        for (int epoch = 0; epoch < 300; epoch++) machine.TrainEpoch(data, 0.3, random, statisticsSweeps: 5);
        double after = machine.KullbackLeibler(data);
        Assert.True(after < 0.5 * before && after < 1.5, $"KL(data‖model) {before:F2} → {after:F2} nats");
        // completion: clamp the input half, anneal the rest, read the output half
        int right = 0;
        for (int k = 0; k < 4; k++)
            for (int trial = 0; trial < 10; trial++)
            {
                var state = new byte[10];
                state[k] = 1;
                machine.Anneal(state.AsSpan(), 4, BoltzmannMachine.DefaultSchedule, random);
                if (state[4 + k] == 1 && state.Skip(4).Take(4).Sum(b => b) == 1) right++;
            }
        Assert.True(right >= 28, $"{right}/40 completions right");
    }
}

using Recur.Autograd;
using Recur.Nn.Recurrent;

namespace Recur.Tests.Nn;

/// <summary>Finite-difference checks of the fused recurrent layers: inputs, initial states and every weight.</summary>
public class RecurrentGradientTests
{
    public static TheoryData<RecurrentMode> Modes() => new() { RecurrentMode.RnnTanh, RecurrentMode.RnnRelu,
        RecurrentMode.Lstm, RecurrentMode.Gru };

    internal static void CheckLayer(RecurrentConfig config, int steps, int batch, int[]? lengths, bool initialStates,
        double epsilon = 1e-2, bool perturb = false, bool training = false)
    {
        var random = new RandomGenerator(11);
        var layer = new RecurrentLayer(config, random);
        if (perturb)
            foreach (var parameter in layer.Parameters()) Perturb(parameter, random);
        if (!training) layer.Eval(); // dropout off, so the function is deterministic
        int[] inputShape = config.BatchFirst ? [batch, steps, config.InputSize] : [steps, batch, config.InputSize];
        var input = Tensor.RandomNormal(random, inputShape);
        int states = config.NumLayers * config.Directions;
        var h0 = initialStates ? Tensor.RandomNormal(random, [states, batch, config.OutputWidth], 0f, 0.5f) : null;
        var c0 = initialStates && config.Mode == RecurrentMode.Lstm ? Tensor.RandomNormal(random, [states, batch,
            config.HiddenSize], 0f, 0.5f) : null;
        var inputs = new List<Tensor> { input };
        if (h0 != null) inputs.Add(h0);
        if (c0 != null) inputs.Add(c0);
        inputs.AddRange(layer.Parameters());
        var result = GradientCheck.Compare(() =>
        {
            var output = layer.Forward(input, h0, c0, lengths);
            // every output feeds the check: the sequence, h_n and (LSTM) c_n
            var parts = new List<Tensor> { output.Output.Reshape(-1), output.HiddenState.Reshape(-1) };
            if (output.CellState != null) parts.Add(output.CellState.Reshape(-1));
            return Tensor.Concat(parts, 0);
        }, inputs, epsilon: epsilon);
        Assert.True(result.Passed, $"{config}: error {result.MaxError:G3}× tolerance at {result.Where}");
    }

    [Theory]
    [InlineData(RecurrentMode.RnnTanh)]
    [InlineData(RecurrentMode.Lstm)]
    [InlineData(RecurrentMode.Gru)]
    public void WeightDroppedStacksPassFiniteDifferencesWithTheirMaskFixed(RecurrentMode mode)
    {
        var random = new RandomGenerator(17);
        var layer = new RecurrentLayer(new RecurrentConfig(mode, 3, 4, NumLayers: 2, Bidirectional: true, Dropout: 0.3f,
            WeightDrop: 0.4f, VariationalDropout: true), random);
        var input = Tensor.RandomNormal(random, [4, 3, 3]);
        var generator = layer.NamedRandomGenerators().Single().Value;
        string start = generator.SaveState();
        var result = GradientCheck.Compare(() =>
        {
            generator.RestoreState(start); // the same masks at every evaluation
            return layer.Forward(input, lengths: [4, 2, 3]).Output.Reshape(-1);
        }, [input, .. layer.Parameters()]);
        Assert.True(result.Passed, $"{mode}: error {result.MaxError:G3}× tolerance at {result.Where}");
    }

    [Fact]
    public void WeightDropIsOneMaskOnTheRecurrentMatrixForTheWholeSequence()
    {
        var config = new RecurrentConfig(RecurrentMode.Lstm, 3, 5, WeightDrop: 0.5f);
        var dropped = new RecurrentLayer(config, new RandomGenerator(3));
        var plain = new RecurrentLayer(config with { WeightDrop = 0f }, new RandomGenerator(3));
        var input = Tensor.RandomNormal(new RandomGenerator(4), [6, 2, 3]);
        var generator = dropped.NamedRandomGenerators().Single().Value;
        string start = generator.SaveState();
        var trained = dropped.Forward(input).Output.ToArray();
        // the mask the layer drew: Dropout's first draw from the same generator state
        generator.RestoreState(start);
        var weightHh = plain.NamedParameters().Single(p => p.Name == "weight_hh_l0").Value;
        var mask = Functional.Dropout(Tensor.Ones(weightHh.ShapeArray()), 0.5f, true, generator).ToArray();
        Assert.Contains(0f, mask);
        var masked = weightHh.ToArray().Select((w, i) => w * mask[i]).ToArray();
        masked.CopyTo(weightHh.Span);
        plain.Eval();
        var expected = plain.Forward(input).Output.ToArray();
        for (int i = 0; i < expected.Length; i++) Assert.Equal(expected[i], trained[i], 6);
        // evaluation uses the whole matrix, as a layer without weight drop does
        var whole = new RecurrentLayer(config with { WeightDrop = 0f }, new RandomGenerator(3));
        dropped.Eval();
        whole.Eval();
        Assert.Equal(whole.Forward(input).Output.ToArray(), dropped.Forward(input).Output.ToArray());
        Assert.Throws<ArgumentException>(() => new RecurrentConfig(RecurrentMode.Lstm, 3, 5, WeightDrop: 1f)
            .Validate());
    }

    [Fact]
    public void FrozenLayersGetNoGradientAndChangeNoOutput()
    {
        var layer = new RecurrentLayer(new RecurrentConfig(RecurrentMode.Gru, 3, 4, NumLayers: 3),
            new RandomGenerator(5));
        var input = Tensor.RandomNormal(new RandomGenerator(6), [5, 2, 3]);
        input.RequiresGrad = true;
        var all = layer.Forward(input).Output.ToArray();
        layer.FrozenLayers = 2;
        var output = layer.Forward(input).Output;
        // frozen layers record nothing, so they run the inference kernel, whose dot products are summed in another
        // order than the training kernel's: the same values to rounding, not always the same bits
        var frozen = output.ToArray();
        for (int i = 0; i < all.Length; i++) Assert.Equal(all[i], frozen[i], 1e-6f);
        output.Sum().Backward();
        foreach (var (name, value) in layer.NamedParameters())
            Assert.Equal(name.EndsWith("_l2", StringComparison.Ordinal), value.Grad is not null);
        Assert.Null(input.Grad);
        Assert.Throws<ArgumentOutOfRangeException>(() => layer.FrozenLayers = -1);
    }

    [Fact]
    public void FusedPeepholeLstmStackWithLengthsAndStates() =>
        CheckLayer(new RecurrentConfig(RecurrentMode.Lstm, 3, 4, NumLayers: 2, Bidirectional: true, Peephole: true),
            steps: 4,
            batch: 3, lengths: [4, 2, 3], initialStates: true);

    [Fact]
    public void FusedLeakyRnnStackWithLengthsStatesAndLearntLeaks() =>
        CheckLayer(new RecurrentConfig(RecurrentMode.RnnTanh, 3, 4, NumLayers: 2, Bidirectional: true, Leak: 0.4f,
            LearnLeak: true),
            steps: 4, batch: 3, lengths: [4, 2, 3], initialStates: true);

    [Fact]
    public void FusedLeakyRnnWithOneSharedLearntLeak() =>
        CheckLayer(new RecurrentConfig(RecurrentMode.RnnTanh, 3, 4, NumLayers: 2, Leak: 0.4f, LearnLeak: true,
            SharedLeak: true), steps: 4, batch: 3, lengths: [4, 2, 3], initialStates: true);

    [Fact]
    public void ASharedLeakIsOneParameterWhoseGradientSumsThePerUnitOnes()
    {
        var shared = new RecurrentLayer(new RecurrentConfig(RecurrentMode.RnnTanh, 3, 4, Leak: 0.3f, LearnLeak: true,
            SharedLeak: true), new RandomGenerator(2));
        var perUnit = new RecurrentLayer(new RecurrentConfig(RecurrentMode.RnnTanh, 3, 4, Leak: 0.3f, LearnLeak: true),
            new RandomGenerator(2));
        Assert.Equal([1], shared.StateDict()["leak_l0"].ShapeArray());
        var x = Tensor.RandomNormal(new RandomGenerator(3), [5, 2, 3]);
        var a = shared.Forward(x).Output;
        var b = perUnit.Forward(x).Output;
        Assert.Equal(b.ToArray(), a.ToArray());
        a.Sum().Backward();
        b.Sum().Backward();
        Assert.Equal(perUnit.StateDict()["leak_l0"].Grad!.ToArray().Sum(), shared.StateDict()["leak_l0"].Grad!.Item(),
            4);
    }

    [Fact]
    public void FusedLeakyRnnMatchesTheTapeComposedLayer()
    {
        var random = new RandomGenerator(6);
        MatchesComposed(new LeakyRnnLayer(3, 5, 0.6f, random),
            new RecurrentLayer(new RecurrentConfig(RecurrentMode.RnnTanh, 3, 5, Leak: 0.6f), random), random);
    }

    [Fact]
    public void FusedPeepholeLstmMatchesTheTapeComposedLayer()
    {
        var random = new RandomGenerator(5);
        MatchesComposed(new LstmVariantLayer(3, 5, random, peephole: true),
            new RecurrentLayer(new RecurrentConfig(RecurrentMode.Lstm, 3, 5, Peephole: true), random), random);
    }

    [Theory]
    [InlineData(RecurrentMode.Lstm)]
    [InlineData(RecurrentMode.Gru)]
    public void FusedLayerNormStackWithLengthsAndStates(RecurrentMode mode)
    {
        // shifts and gains away from their 0/1 start, so every part of the normalisation's gradient is exercised
        var config = new RecurrentConfig(mode, 3, 4, NumLayers: 2, Bidirectional: true, LayerNorm: true);
        // a small step: the normalisations curve sharply where a row's spread is small, and the central difference
        // of a larger step measures that curvature, not the slope
        CheckLayer(config, steps: 4, batch: 3, lengths: [4, 2, 3], initialStates: true, epsilon: 2e-3,
            perturb: true);
    }

    [Theory]
    [InlineData(RecurrentMode.RnnTanh, 3)]
    [InlineData(RecurrentMode.RnnTanh, 6)]
    [InlineData(RecurrentMode.RnnTanh, 4)]
    public void FusedJordanStackWithLengthsAndStates(RecurrentMode mode, int outputs) =>
        CheckLayer(new RecurrentConfig(mode, 3, 4, NumLayers: 2, Bidirectional: true, ProjSize: outputs), steps: 4,
            batch: 3, lengths: [4, 2, 3], initialStates: true);

    [Fact]
    public void FusedJordanMatchesTheTapeComposedLayer()
    {
        var random = new RandomGenerator(9);
        var composed = new JordanLayer(3, 5, 2, random);
        var fused = new RecurrentLayer(new RecurrentConfig(RecurrentMode.RnnTanh, 3, 5, ProjSize: 2), random);
        fused.NamedParameters().Single(p => p.Name == "bias_hh_l0").Value.Zero(); // the composed layer has no b_hh
        MatchesComposed(composed, fused, random, names: JordanNames);
    }

    /// <summary>The composed Jordan layer's parameters by their names in a projected Elman stack.</summary>
    internal static string JordanNames(string name) => name switch
    {
        "weight_oh" => "weight_hh_l0",
        "weight_ho" => "weight_hr_l0",
        "bias_ho" => "bias_hr_l0",
        _ => Stacked(name),
    };

    [Fact]
    public void FusedChoGruStackWithLengthsAndStates() =>
        CheckLayer(new RecurrentConfig(RecurrentMode.Gru, 3, 4, NumLayers: 2, Bidirectional: true, ResetAfter: false),
            steps: 4, batch: 3, lengths: [4, 2, 3], initialStates: true);

    [Fact]
    public void FusedChoGruMatchesTheTapeComposedLayer()
    {
        var random = new RandomGenerator(8);
        MatchesComposed(new ChoGruLayer(3, 5, random),
            new RecurrentLayer(new RecurrentConfig(RecurrentMode.Gru, 3, 5, ResetAfter: false), random), random);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void FusedLayerNormCellMatchesTheTapeComposedLayer(bool gru)
    {
        var random = new RandomGenerator(7);
        var composed = new LayerNormRecurrentLayer(3, 5, random, gru);
        foreach (var parameter in composed.Parameters())
            Perturb(parameter, random);
        MatchesComposed(composed, new RecurrentLayer(new RecurrentConfig(gru ? RecurrentMode.Gru : RecurrentMode.Lstm,
            3, 5, LayerNorm: true), random), random, scaleRelative: true);
    }

    /// <summary>Adds uniform(±0.3) noise to <paramref name="parameter"/> in place.</summary>
    static void Perturb(Tensor parameter, RandomGenerator random)
    {
        var span = parameter.Span;
        for (int i = 0; i < span.Length; i++) span[i] += (random.NextFloat() - 0.5f) * 0.6f;
    }

    /// <summary>A single layer's parameter name in a stack: <c>_l0</c> before a submodule's field, else at the
    /// end.</summary>
    internal static string Stacked(string name) =>
        name.IndexOf('.') is var dot and >= 0 ? name[..dot] + "_l0" + name[dot..] : name + "_l0";

    /// <summary>
    /// The fused layer with the composed layer's weights (PyTorch's _l0 suffix) gives its outputs, final states and
    /// the gradients of the input and of every weight (the cell state, when there is one, feeds the loss too).
    /// </summary>
    static void MatchesComposed(ComposedRecurrentLayer composed, RecurrentLayer fused, RandomGenerator random,
        bool scaleRelative = false, Func<string, string>? names = null)
    {
        names ??= Stacked;
        void Close(Tensor expected, Tensor actual, string what = "") =>
            RecurrentGradientTests.Close(expected, actual, what, scaleRelative);
        var fusedState = fused.StateDict();
        foreach (var (name, value) in composed.StateDict()) value.Span.CopyTo(fusedState[names(name)].Span);
        var input = Tensor.RandomNormal(random, [6, 2, 3]);
        var x1 = input.Clone();
        var x2 = input.Clone();
        x1.RequiresGrad = x2.RequiresGrad = true;
        var (expected, state) = composed.Forward(x1);
        var actual = fused.Forward(x2);
        Close(expected, actual.Output);
        Close(state[0], actual.HiddenState.Select(0, 0));
        var projection = Tensor.RandomUniform(random, expected.ShapeArray(), -1f, 1f);
        var expectedLoss = (expected * projection).Sum();
        var actualLoss = (actual.Output * projection).Sum();
        if (actual.CellState is { } cell)
        {
            Close(state[1], cell.Select(0, 0));
            (expectedLoss, actualLoss) = (expectedLoss + state[1].Sum(), actualLoss + cell.Sum());
        }
        expectedLoss.Backward();
        actualLoss.Backward();
        Close(x1.Grad!, x2.Grad!, "input gradient");
        var fusedParameters = fused.NamedParameters().ToDictionary(p => p.Name, p => p.Value);
        foreach (var (name, parameter) in composed.NamedParameters())
            Close(parameter.Grad!, fusedParameters[names(name)].Grad!, name);
    }

    /// <summary>
    /// |e − a| ≤ 1e-5 + 1e-5·|e| element by element, or with <paramref name="scaleRelative"/> 1e-5 + 1e-5·max|e|: a
    /// normalisation's backward subtracts means of its row, so float rounding there scales with the row's largest
    /// gradient rather than with each element.
    /// </summary>
    static void Close(Tensor expected, Tensor actual, string what = "", bool scaleRelative = false)
    {
        Assert.Equal(expected.ShapeArray(), actual.ShapeArray());
        var e = expected.ToArray();
        var a = actual.ToArray();
        float scale = scaleRelative ? e.Max(Math.Abs) : 0f;
        for (int i = 0; i < e.Length; i++)
            Assert.True(Math.Abs(e[i] - a[i]) <= 1e-5f + 1e-5f * Math.Max(scale, Math.Abs(e[i])),
            $"{what}[{i}]: {e[i]} vs {a[i]}");
    }

    [Fact]
    public void ProjectedLstmStackWithLengthsAndStates() =>
        CheckLayer(new RecurrentConfig(RecurrentMode.Lstm, 3, 4, NumLayers: 2, Bidirectional: true, ProjSize: 2),
            steps: 4, batch: 3,
            lengths: [4, 2, 3], initialStates: true);

    [Theory]
    [MemberData(nameof(Modes))]
    public void SingleLayer(RecurrentMode mode) =>
        CheckLayer(new RecurrentConfig(mode, 3, 4), steps: 5, batch: 2, lengths: null, initialStates: false,
            epsilon: mode == RecurrentMode.RnnRelu ? 1e-3 : 1e-2);

    [Theory]
    [MemberData(nameof(Modes))]
    public void StackedBidirectionalWithLengthsAndInitialStates(RecurrentMode mode) =>
        CheckLayer(new RecurrentConfig(mode, 3, 4, NumLayers: 2, Bidirectional: true), steps: 4, batch: 3, lengths: [4,
            2, 1],
            initialStates: true, epsilon: mode == RecurrentMode.RnnRelu ? 1e-3 : 1e-2);

    [Theory]
    [MemberData(nameof(Modes))]
    public void BatchFirstWithoutBias(RecurrentMode mode) =>
        CheckLayer(new RecurrentConfig(mode, 2, 3, Bias: false, BatchFirst: true), steps: 3, batch: 2, lengths: [2, 3],
            initialStates: true, epsilon: mode == RecurrentMode.RnnRelu ? 1e-3 : 1e-2);

    [Fact]
    public void PackedSemanticsZeroOutputsAndFreezeStates()
    {
        var layer = new RecurrentLayer(new RecurrentConfig(RecurrentMode.Lstm, 2, 3, Bidirectional: true),
            new RandomGenerator(3));
        var input = Tensor.RandomNormal(new RandomGenerator(4), [5, 2, 2]);
        var full = layer.Forward(input, lengths: [5, 3]);
        // sequence 1 alone, truncated to its 3 real steps, must give the same outputs and final states
        var alone = layer.Forward(input.Slice(0, 0, 3).Slice(1, 1, 1));
        var fullOutput = full.Output.ToArray();
        var aloneOutput = alone.Output.ToArray();
        for (int t = 0; t < 5; t++)
            for (int j = 0; j < 6; j++)
            {
                float value = fullOutput[(t * 2 + 1) * 6 + j];
                if (t < 3) Assert.Equal(aloneOutput[t * 6 + j], value, 6);
                else Assert.Equal(0f, value);
            }
        for (int d = 0; d < 2; d++)
            for (int j = 0; j < 3; j++)
            {
                Assert.Equal(alone.HiddenState.ToArray()[d * 3 + j], full.HiddenState.ToArray()[(d * 2 + 1) * 3 + j],
                    6);
                Assert.Equal(alone.CellState!.ToArray()[d * 3 + j], full.CellState!.ToArray()[(d * 2 + 1) * 3 + j], 6);
            }
    }

    [Fact]
    public void BadShapesAreReportedWithTheExpectedShape()
    {
        var layer = new RecurrentLayer(new RecurrentConfig(RecurrentMode.Gru, 3, 4, NumLayers: 2),
            new RandomGenerator(1));
        var ex = Assert.Throws<ArgumentException>(() => layer.Forward(Tensor.Zeros(5, 2, 4)));
        Assert.Contains("[5, 2, 4]", ex.Message);
        ex = Assert.Throws<ArgumentException>(() => layer.Forward(Tensor.Zeros(5, 2, 3), h0: Tensor.Zeros(1, 2, 4)));
        Assert.Contains("expected [2, 2, 4]", ex.Message);
        ex = Assert.Throws<ArgumentException>(() => layer.Forward(Tensor.Zeros(5, 2, 3), lengths: [5, 6]));
        Assert.Contains("length 6", ex.Message);
        Assert.Throws<ArgumentException>(() => new RecurrentLayer(new RecurrentConfig(RecurrentMode.Lstm, 3, 0),
            new RandomGenerator(1)));
    }

    [Fact]
    public void ParametersCarryPyTorchNames()
    {
        var layer = new RecurrentLayer(new RecurrentConfig(RecurrentMode.Lstm, 3, 4, NumLayers: 2,
            Bidirectional: true), new RandomGenerator(1));
        var names = layer.NamedParameters().Select(p => p.Name).ToArray();
        Assert.Equal(16, names.Length);
        Assert.Contains("weight_ih_l0", names);
        Assert.Contains("bias_hh_l1_reverse", names);
        Assert.Equal([16, 8], layer.StateDict()["weight_ih_l1"].ShapeArray());
    }
}

public class RecurrentInferenceTests
{
    public static TheoryData<string> Cells() => [.. RecurrentCells.Names];

    public static TheoryData<string> StepwiseCells() => [.. RecurrentCells.Stepwise.Select(RecurrentCells.Name)];

    [Theory]
    [MemberData(nameof(Cells))]
    public void NoGradForwardInChunksEqualsTrainingForward(string cell)
    {
        using var chunk = RecurrentKernel.WithInferenceChunk(1); // one step per chunk
        var config = RecurrentCells.Configure(RecurrentCells.Parse(cell), new RecurrentConfig(RecurrentMode.Lstm, 3, 5,
            NumLayers: 2,
            Bidirectional: true));
        var mode = config.Mode;
        var layer = new RecurrentLayer(config, new RandomGenerator(2));
        layer.Eval(); // bn-lstm's noise on h_0 (training only) would make the two forwards differ
        var input = Tensor.RandomNormal(new RandomGenerator(3), [7, 3, 3]);
        int[] lengths = [7, 4, 1];
        var training = layer.Forward(input, lengths: lengths);
        Assert.True(training.Output.RequiresGrad);
        RecurrentOutput inference;
        using (Recur.Autograd.GradMode.NoGrad()) inference = layer.Forward(input, lengths: lengths);
        Assert.False(inference.Output.RequiresGrad);
        // Same maths, but a one-step chunk makes the input product thin (3 rows), which the GEMM sums with
        // interleaved chains: values agree to float rounding, not bit for bit.
        AssertClose(training.Output, inference.Output);
        AssertClose(training.HiddenState, inference.HiddenState);
        if (mode == RecurrentMode.Lstm) AssertClose(training.CellState!, inference.CellState!);
    }

    [Theory]
    [MemberData(nameof(StepwiseCells))]
    public void StepByStepEqualsTheWholeSequence(string cell)
    {
        // one step of one sequence reads W_hh directly instead of packing it: the same maths
        var config = RecurrentCells.Configure(RecurrentCells.Parse(cell), new RecurrentConfig(RecurrentMode.Lstm, 3,
            5));
        var layer = new RecurrentLayer(config, new RandomGenerator(4));
        var input = Tensor.RandomNormal(new RandomGenerator(5), [6, 1, 3]);
        using var _ = Recur.Autograd.GradMode.NoGrad();
        var whole = layer.Forward(input);
        Tensor? h = null, c = null;
        var outputs = new List<Tensor>();
        for (int t = 0; t < 6; t++)
        {
            var step = layer.Forward(input.Slice(0, t, 1), h, c);
            (h, c) = (step.HiddenState, step.CellState);
            outputs.Add(step.Output);
        }
        AssertClose(whole.Output, Tensor.Concat(outputs, 0));
        AssertClose(whole.HiddenState, h!);
    }

    static void AssertClose(Tensor expected, Tensor actual)
    {
        var e = expected.ToArray();
        var a = actual.ToArray();
        Assert.Equal(e.Length, a.Length);
        for (int i = 0; i < e.Length; i++)
            Assert.True(Math.Abs(e[i] - a[i]) <= 1e-6 + 1e-6 * Math.Abs(e[i]),
                $"[{i}]: training {e[i]:G9}, inference {a[i]:G9}");
    }

    [Fact]
    public void SecondBackwardThroughTheSameLayerCallIsRefused()
    {
        var layer = new RecurrentLayer(new RecurrentConfig(RecurrentMode.Lstm, 2, 3), new RandomGenerator(1));
        var output = layer.Forward(Tensor.RandomNormal(new RandomGenerator(2), [4, 2, 2])).Output.Sum();
        output.Backward();
        var ex = Assert.Throws<InvalidOperationException>(() => output.Backward());
        Assert.Contains("back-propagated already", ex.Message);
        // a fused layer frees its saved activations in its backward, so even a retained graph cannot pass it twice
        var retained = layer.Forward(Tensor.RandomNormal(new RandomGenerator(2), [4, 2, 2])).Output.Sum();
        retained.Backward(retainGraph: true);
        ex = Assert.Throws<InvalidOperationException>(() => retained.Backward());
        Assert.Contains("run the forward again", ex.Message);
    }
}

public class ResidualRecurrentTests
{
    [Theory]
    [InlineData(RecurrentMode.Lstm)]
    [InlineData(RecurrentMode.Gru)]
    public void ResidualStackPassesGradientCheckAndAddsTheLayerInput(RecurrentMode mode)
    {
        // input width equals 2·H, so every layer (the first too) gets a skip connection
        var config = new RecurrentConfig(mode, 6, 3, NumLayers: 2, Bidirectional: true, Residual: true);
        var layer = new RecurrentLayer(config, new RandomGenerator(4));
        var input = Tensor.RandomNormal(new RandomGenerator(5), [3, 2, 6]);
        int[] lengths = [3, 2];
        var inputs = new List<Tensor> { input };
        inputs.AddRange(layer.Parameters());
        var result = Recur.Autograd.GradientCheck.Compare(() => layer.Forward(input, lengths: lengths).Output, inputs);
        Assert.True(result.Passed, result.Where);

        // with one layer the output is exactly the plain layer's output plus the input, zero past each length
        var single = new RecurrentLayer(config with { NumLayers = 1 }, new RandomGenerator(6));
        var plain = new RecurrentLayer(config with { NumLayers = 1, Residual = false }, new RandomGenerator(6));
        var withSkip = single.Forward(input, lengths: lengths).Output.ToArray();
        var without = plain.Forward(input, lengths: lengths).Output.ToArray();
        var x = input.ToArray();
        for (int i = 0; i < withSkip.Length; i++)
        {
            bool padded = i / 6 % 2 == 1 && i / 12 >= 2; // sequence 1 past its length 2
            Assert.Equal(padded ? 0f : without[i] + x[i], withSkip[i], 6);
        }
    }
}

using Recur.Autograd;
using Recur.Nn;
using Recur.Nn.Recurrent;
using Recur.Serialization;

namespace Recur.Tests.Nn;

/// <summary>Dynamic int8 quantisation of recurrent stacks.</summary>
public class QuantizationTests
{
    public static TheoryData<string> Cells() => [.. RecurrentCells.Names];

    static RecurrentLayer Layer(string cell, int seed = 3) => new(RecurrentCells.Configure(RecurrentCells.Parse(cell),
        new RecurrentConfig(RecurrentMode.Lstm, 8, 48, NumLayers: 2, Bidirectional: true)),
        new RandomGenerator((ulong)seed));

    [Theory]
    [MemberData(nameof(Cells))]
    public void AQuantisedStackStaysCloseToTheFloatOne(string cell)
    {
        var layer = Layer(cell);
        if (!layer.CanQuantize)
        {
            Assert.Throws<NotSupportedException>(layer.QuantizeDynamic);
            return;
        }
        var input = Tensor.RandomNormal(new RandomGenerator(4), [12, 3, 8]);
        int[] lengths = [12, 7, 3];
        Tensor reference;
        using (GradMode.NoGrad()) reference = layer.Forward(input, lengths: lengths).Output;
        layer.QuantizeDynamic();
        Assert.True(layer.IsQuantized);
        var quantised = layer.Forward(input, lengths: lengths).Output; // frozen: no NoGrad scope needed
        Assert.False(quantised.RequiresGrad);
        float worst = reference.MaxAbsDifference(quantised);
        // int8 weights and states keep about two decimal digits; through 12 steps and 2 layers the drift stays small
        Assert.True(worst < 0.05f, $"{cell}: largest difference {worst}");
        Assert.True(worst > 0f, $"{cell}: the quantised stack gave the float results, so int8 was not used");
        // past a sequence's length the outputs stay zero, as in float
        Assert.Equal(0f, quantised.Select(0, 11).Select(0, 1).Abs().Sum().Item());
    }

    [Fact]
    public void LargeBatchesRunInInt8Too()
    {
        var layer = Layer("lstm");
        var input = Tensor.RandomNormal(new RandomGenerator(5), [6, 9, 8]); // 9 rows: past the small-batch limit
        Tensor floatOutput;
        using (GradMode.NoGrad()) floatOutput = layer.Forward(input).Output;
        layer.QuantizeDynamic();
        var all = layer.Forward(input);
        for (int b = 0; b < 9; b += 4)
        {
            // alone, a row takes the small-batch path; in the batch of 9 it must get the same int8 maths (the float
            // input projection's summation order may differ with the batch: that is all)
            var alone = layer.Forward(input.Slice(1, b, 1)).Output;
            var inBatch = all.Output.Slice(1, b, 1);
            Assert.True(alone.MaxAbsDifference(inBatch) < 1e-5f);
            Assert.True(floatOutput.Slice(1, b, 1).MaxAbsDifference(inBatch) > 1e-4f, "the batch of 9 ran in float");
        }
    }

    [Fact]
    public void ThreadSplitsGiveTheSameBits()
    {
        var layer = Layer("gru");
        layer.QuantizeDynamic();
        var input = Tensor.RandomNormal(new RandomGenerator(6), [7, 2, 8]);
        Tensor Run(int threads)
        {
            using var _ = RecurrentKernel.WithSmallBatchThreads(threads);
            return layer.Forward(input).Output;
        }
        Assert.Equal(Run(1).ToArray(), Run(2).ToArray());
    }

    [Fact]
    public void TrainingAQuantisedStackIsRefusedWithTheWayOut()
    {
        var layer = Layer("lstm");
        layer.QuantizeDynamic();
        Assert.All(layer.Parameters(), p => Assert.False(p.RequiresGrad));
        layer.Parameters()[0].RequiresGrad = true;
        var ex = Assert.Throws<InvalidOperationException>(() => layer.Forward(Tensor.Zeros(3, 1, 8)));
        Assert.Contains("inference only", ex.Message);
        Assert.Contains("NoGrad", ex.Message);
    }

    [Fact]
    public void LoadingWeightsQuantisesThemAgain()
    {
        var layer = Layer("lstm", seed: 1);
        var other = Layer("lstm", seed: 2);
        layer.QuantizeDynamic();
        other.QuantizeDynamic();
        var input = Tensor.RandomNormal(new RandomGenerator(7), [4, 1, 8]);
        var expected = other.Forward(input).Output;
        layer.LoadStateDict(other.StateDict());
        Assert.Equal(expected.ToArray(), layer.Forward(input).Output.ToArray());
    }

    [Theory]
    [InlineData(RecurrentMode.Lstm)]
    [InlineData(RecurrentMode.Gru)]
    [InlineData(RecurrentMode.RnnTanh)]
    public void ADecoderCellStepsInInt8AsAOneLayerStackDoes(RecurrentMode mode)
    {
        var cell = new RecurrentCell(mode, 8, 40, new RandomGenerator(9));
        var layer = new RecurrentLayer(new RecurrentConfig(mode, 8, 40), new RandomGenerator(10));
        layer.LoadStateDict(cell.StateDict().ToDictionary(p => p.Key + "_l0", p => p.Value));
        var x = Tensor.RandomNormal(new RandomGenerator(11), [2, 8]);
        Tensor reference;
        using (GradMode.NoGrad()) reference = cell.Forward(x).Hidden;
        cell.QuantizeDynamic();
        layer.QuantizeDynamic();
        Assert.True(cell.IsQuantized);
        var (hidden, _) = cell.Forward(x);
        Assert.True(reference.MaxAbsDifference(hidden) is > 0f and < 0.02f);
        Assert.Equal(layer.Forward(x.Reshape(1, 2, 8)).HiddenState.ToArray(), hidden.ToArray());
    }

    [Fact]
    public void AQuantisedLinearLayerStaysCloseAndEachRowStandsAlone()
    {
        var linear = new Linear(70, 9, new RandomGenerator(12));
        var x = Tensor.RandomNormal(new RandomGenerator(13), [3, 5, 70]);
        Tensor reference;
        using (GradMode.NoGrad()) reference = linear.Forward(x);
        linear.QuantizeDynamic();
        Assert.True(linear.IsQuantized);
        var y = linear.Forward(x);
        Assert.Equal([3, 5, 9], y.ShapeArray());
        Assert.True(reference.MaxAbsDifference(y) is > 0f and < 0.05f);
        // a row alone gives the bits it gets among the others (and whatever the thread split)
        var alone = linear.Forward(x.Select(0, 2).Slice(0, 3, 1));
        Assert.Equal(y.Select(0, 2).Slice(0, 3, 1).ToArray(), alone.ToArray());
        var wide = Tensor.RandomNormal(new RandomGenerator(14), [4000, 70]); // large enough for several threads
        var all = linear.Forward(wide);
        Assert.Equal(all.Slice(0, 3999, 1).ToArray(), linear.Forward(wide.Slice(0, 3999, 1)).ToArray());
        Assert.Throws<ArgumentException>(() => linear.Forward(Tensor.Zeros(2, 69)));
        linear.Weight.RequiresGrad = true;
        Assert.Throws<InvalidOperationException>(() => linear.Forward(x));
    }

    [Fact]
    public void QuantizeDynamicFindsTheStacksOfAModel()
    {
        var model = new SequenceModel(new SequenceModelConfig(CellKind.Gru, 5, 16, 4), new RandomGenerator(8));
        var names = Quantization.QuantizeDynamic(model);
        Assert.Contains("rnn", names);
        foreach (var (name, module) in model.NamedModules())
            Assert.Equal(names.Contains(name), module switch
            {
                RecurrentLayer layer => layer.IsQuantized,
                Linear linear => linear.IsQuantized,
                _ => false,
            });
    }

    [Fact]
    public void ALinearLayersLossIsMeasuredOnWhatItComputes()
    {
        var linear = new Linear(6, 5, new RandomGenerator(3));
        var x = Tensor.RandomNormal(new RandomGenerator(4), [3, 2, 6]);
        int[] targets = [0, 4, 2, 1, 3, 3];
        using (GradMode.NoGrad())
        {
            float fused = linear.CrossEntropy(x, targets).Item();
            Assert.Equal(Losses.CrossEntropy(linear.Forward(x), targets).Item(), fused, 5);
            linear.QuantizeDynamic();
            float int8 = linear.CrossEntropy(x, targets).Item();
            Assert.Equal(Losses.CrossEntropy(linear.Forward(x), targets).Item(), int8); // the int8 logits' loss
            Assert.NotEqual(fused, int8);
        }
    }

    static SequenceModel Model(int seed, CellKind cell = CellKind.Lstm) => new(new SequenceModelConfig(cell, 5, 24, 3,
        NumLayers: 2, Bidirectional: true), new RandomGenerator((ulong)seed));

    [Fact]
    public void AQuantisedModelSavedAndLoadedComputesExactlyWhatItDid()
    {
        string folder = Directory.CreateTempSubdirectory("recur-int8-").FullName;
        try
        {
            var model = Model(1);
            string floatPath = Path.Combine(folder, "float.safetensors");
            string path = Path.Combine(folder, "int8.safetensors");
            model.Save(floatPath);
            Quantization.QuantizeDynamic(model);
            model.Save(path);
            var input = Tensor.RandomNormal(new RandomGenerator(2), [9, 2, 5]);
            var expected = model.Forward(input).ToArray();

            var loaded = Model(7); // other weights, still in float
            loaded.Load(path);
            Assert.All(loaded.NamedModules().Select(m => m.Value).OfType<RecurrentLayer>(),
                l => Assert.True(l.IsQuantized));
            Assert.True(loaded.NamedModules().Select(m => m.Value).OfType<Linear>().All(l => l.IsQuantized));
            Assert.Equal(expected, loaded.Forward(input).ToArray()); // bit for bit: the saved integers and scales
            // asking again keeps the loaded integers rather than quantising their float stand-ins afresh
            Quantization.QuantizeDynamic(loaded);
            Assert.Equal(expected, loaded.Forward(input).ToArray());
            // the float parameters hold what the integers stand for, and saving again writes the same file
            var tensors = SafeTensors.Load(path, out var metadata, out var dtypes);
            Assert.Equal("dynamic-int8", metadata["recur.quantization"]);
            var weight = loaded.StateDict()["rnn.weight_hh_l1_reverse"];
            var scale = tensors["rnn.weight_hh_l1_reverse_scale"];
            Assert.Equal("I8", dtypes["rnn.weight_hh_l1_reverse"]);
            int columns = weight.Size(1);
            Assert.Equal(tensors["rnn.weight_hh_l1_reverse"].Span[3 * columns + 4] * scale.Span[3],
                weight.Span[3 * columns + 4]);
            string again = Path.Combine(folder, "again.safetensors");
            loaded.Save(again);
            Assert.Equal(File.ReadAllBytes(path), File.ReadAllBytes(again));
            // W_ih, W_hh and the head in a byte each instead of four; biases and scales stay float
            Assert.InRange(new FileInfo(path).Length, 0.25 * new FileInfo(floatPath).Length,
                0.4 * new FileInfo(floatPath).Length);
            // and a float model loads over it in float again
            var back = Model(7);
            back.Load(floatPath);
            Assert.False(back.NamedModules().Select(m => m.Value).OfType<RecurrentLayer>().Single().IsQuantized);
        }
        finally { Directory.Delete(folder, recursive: true); }
    }

    [Fact]
    public void BrokenInt8FilesAreRefusedNamingTheTensor()
    {
        string folder = Directory.CreateTempSubdirectory("recur-int8-").FullName;
        try
        {
            var model = Model(1);
            Quantization.QuantizeDynamic(model);
            string path = Path.Combine(folder, "int8.safetensors");
            model.Save(path);
            var tensors = SafeTensors.Load(path, out _, out var dtypes);
            var int8 = dtypes.Where(d => d.Value == "I8").Select(d => d.Key).ToHashSet();
            string Refusal(Action<Dictionary<string, Tensor>, HashSet<string>> edit)
            {
                var copy = tensors.ToDictionary();
                var names = int8.ToHashSet();
                edit(copy, names);
                string broken = Path.Combine(folder, "broken.safetensors");
                SafeTensors.Save(broken, copy, null, names);
                var e = Assert.Throws<ArgumentException>(() => Model(3).Load(broken));
                Assert.StartsWith(broken, e.Message);
                return e.Message;
            }
            Assert.Contains("no F32 scales 'rnn.weight_ih_l0_scale'",
                Refusal((t, _) => t.Remove("rnn.weight_ih_l0_scale")));
            Assert.Contains("the scale of row 2 is 0", Refusal((t, _) =>
            {
                var scales = t["rnn.weight_ih_l0_scale"].Clone();
                scales.Span[2] = 0f;
                t["rnn.weight_ih_l0_scale"] = scales;
            }));
            Assert.Contains("is −128", Refusal((t, _) =>
            {
                var values = t["head.weight"].Clone();
                values.Span[1] = -128f;
                t["head.weight"] = values;
            }));
            Assert.Contains("but not for rnn.weight_hh_l0", Refusal((t, names) =>
            {
                t["rnn.weight_hh_l0"] = loadedFloat(t, "rnn.weight_hh_l0");
                t.Remove("rnn.weight_hh_l0_scale");
                names.Remove("rnn.weight_hh_l0");
            }));
        }
        finally { Directory.Delete(folder, recursive: true); }

        static Tensor loadedFloat(Dictionary<string, Tensor> t, string name) =>
            t[name] * t[name + "_scale"].Reshape(-1, 1);
    }
}

using System.Text.Json;
using Recur.Autograd;
using Recur.Kernels;

namespace Recur.Tests.Autograd;

/// <summary>Convolution and pooling: finite differences, and parity with torch.nn.functional
/// (Fixtures/make_conv_fixtures.py).</summary>
public sealed class ConvolutionTests
{
    static readonly JsonElement Root = JsonDocument.Parse(File.ReadAllText(
        Path.Combine(AppContext.BaseDirectory, "Fixtures", "conv_pytorch.json"))).RootElement;

    public static TheoryData<string> Cases() => [.. Root.GetProperty("cases").EnumerateArray().Select(c
        => c.GetProperty("name").GetString()!)];

    static float[] Floats(JsonElement e) => e.EnumerateArray().Select(v => (float)v.GetDouble()).ToArray();

    static int[] Ints(JsonElement e) => e.EnumerateArray().Select(v => v.GetInt32()).ToArray();

    static (int, int) Pair(JsonElement args, string name, int fallback)
    {
        if (!args.TryGetProperty(name, out var v)) return (fallback, fallback);
        return v.ValueKind == JsonValueKind.Array ? (v[0].GetInt32(), v[1].GetInt32()) : (v.GetInt32(), v.GetInt32());
    }

    static int One(JsonElement args, string name, int fallback) => args.TryGetProperty(name, out var v) ? v.GetInt32()
        : fallback;

    static Tensor Apply(string op, JsonElement args, Tensor x, Tensor? w, Tensor? b) => op switch
    {
        "conv1d" => Functional.Conv1d(x, w!, b, One(args, "stride", 1), One(args, "padding", 0), One(args, "dilation",
            1), One(args, "groups", 1)),
        "causal_conv1d" => Functional.CausalConv1d(x, w!, b, One(args, "dilation", 1)),
        "conv2d" => Functional.Conv2d(x, w!, b, Pair(args, "stride", 1), Pair(args, "padding", 0), Pair(args,
            "dilation", 1), One(args, "groups", 1)),
        "max_pool1d" => Functional.MaxPool1d(x, One(args, "kernel_size", 1), One(args, "stride", One(args,
            "kernel_size", 1)), One(args, "padding", 0)),
        "avg_pool1d" => Functional.AvgPool1d(x, One(args, "kernel_size", 1), One(args, "stride", One(args,
            "kernel_size", 1)), One(args, "padding", 0)),
        "max_pool2d" => Functional.MaxPool2d(x, Pair(args, "kernel_size", 1), Pair(args, "stride", 1), Pair(args,
            "padding", 0)),
        "avg_pool2d" => Functional.AvgPool2d(x, Pair(args, "kernel_size", 1), Pair(args, "stride", 1), Pair(args,
            "padding", 0)),
        _ => throw new ArgumentException(op),
    };

    static (Tensor X, Tensor? W, Tensor? B) Tensors(JsonElement c)
    {
        var x = Tensor.FromArray(Floats(c.GetProperty("input")), Ints(c.GetProperty("input_shape")));
        var w = c.TryGetProperty("weight", out var wv) ? Tensor.FromArray(Floats(wv),
            Ints(c.GetProperty("weight_shape"))) : null;
        var b = c.TryGetProperty("bias", out var bv) ? Tensor.FromArray(Floats(bv), bv.GetArrayLength()) : null;
        return (x, w, b);
    }

    static JsonElement Case(string name) => Root.GetProperty("cases").EnumerateArray().Single(e
        => e.GetProperty("name").GetString() == name);

    [Theory]
    [MemberData(nameof(Cases))]
    public void MatchesPyTorch(string name)
    {
        var c = Case(name);
        var (x, w, b) = Tensors(c);
        foreach (var t in new[] { x, w, b }) if (t != null) t.RequiresGrad = true;
        var y = Apply(c.GetProperty("op").GetString()!, c.GetProperty("args"), x, w, b);
        Assert.Equal(Ints(c.GetProperty("output_shape")), y.ShapeArray());
        Close.Values(Floats(c.GetProperty("output")), y.Span, "output", 1e-5, 1e-5);
        var g = Tensor.FromArray(Floats(c.GetProperty("output_grad")), y.ShapeArray());
        (y * g).Sum().Backward();
        Close.Values(Floats(c.GetProperty("input_grad")), x.Grad!.Span, "input gradient", 1e-5, 1e-5);
        if (w != null) Close.Values(Floats(c.GetProperty("weight_grad")), w.Grad!.Span, "weight gradient", 1e-5, 1e-5);
        if (b != null) Close.Values(Floats(c.GetProperty("bias_grad")), b.Grad!.Span, "bias gradient", 1e-5, 1e-5);
    }

    /// <summary>Every 2-D fixture the transform path can serve (groups 1, no dilation), forced through it, against
    /// PyTorch: output and every gradient.</summary>
    [Theory]
    [InlineData("conv2d_basic")]
    [InlineData("conv2d_stride_pad")]
    [InlineData("conv2d_large_kernel")]
    public void TransformPathMatchesPyTorch(string name)
    {
        using var force = FftConvolution.Force();
        MatchesPyTorch(name);
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void GradientsMatchFiniteDifferences(string name)
    {
        var c = Case(name);
        var (x, w, b) = Tensors(c);
        string op = c.GetProperty("op").GetString()!;
        if (op.StartsWith("max_pool", StringComparison.Ordinal))
        {
            // max pooling has a kink wherever two inputs of a window are within ε: use distinct values 0.1 apart
            var order = Enumerable.Range(0, x.Length).ToArray();
            new Random(5).Shuffle(order);
            for (int i = 0; i < order.Length; i++) x.Span[i] = 0.1f * order[i] - 0.05f * order.Length;
        }
        var result = GradientCheck.Compare(() => Apply(op, c.GetProperty("args"), x, w, b),
            new[] { x, w, b }.Where(t => t != null).Select(t => t!).ToList(), epsilon: 1e-2);
        Assert.True(result.Passed, $"{name}: error {result.MaxError:G3}× tolerance at {result.Where}");
    }

    /// <summary>The implicit (polyphase) columns against the defining sum, on geometries the fixtures do not
    /// cover: strides up to 4 with dilation, padding wider than the stride, kernels wider than the input.</summary>
    [Theory]
    [InlineData(1, 3, 1, 1, 0, 0, 1, 1, 1)]
    [InlineData(2, 1, 4, 3, 5, 2, 3, 1, 2)]
    [InlineData(3, 2, 2, 4, 1, 6, 1, 3, 1)]
    [InlineData(1, 2, 3, 3, 4, 4, 2, 2, 2)]
    public void Conv2dMatchesTheDefiningSum(int seed, int channels, int strideH, int strideW, int padH, int padW,
        int dilationH, int dilationW, int groups)
    {
        var random = new RandomGenerator((ulong)seed);
        int inC = channels * groups, outC = 2 * groups, h = 9, w = 13, kh = 3, kw = 5;
        var x = Tensor.RandomNormal(random, [2, inC, h, w]);
        var weight = Tensor.RandomNormal(random, [outC, channels, kh, kw]);
        var bias = Tensor.RandomNormal(random, [outC]);
        var y = Functional.Conv2d(x, weight, bias, (strideH, strideW), (padH, padW), (dilationH, dilationW), groups);
        AssertDefiningSum(x, weight, bias, y, (strideH, strideW), (padH, padW), (dilationH, dilationW), groups);
    }

    /// <summary>The direct kernel (32 filters a block, 12 pixels a tile, here on AVX-512) against the defining sum
    /// and the GEMM path, on rows that end in one or two narrow tiles or a partial tile, output rows whose kernel lies
    /// partly or wholly in the zero margin, with and without bias; the same bits on one and two threads.</summary>
    [Theory]
    [InlineData(1, 1, 32, 1, 1, 0, 0, 1, 1, true)]
    [InlineData(2, 3, 64, 2, 2, 4, 2, 1, 1, false)]
    [InlineData(3, 2, 32, 2, 3, 1, 5, 2, 3, true)]
    [InlineData(4, 1, 32, 3, 1, 6, 0, 1, 2, true)]
    [InlineData(5, 2, 32, 1, 1, 2, 0, 1, 3, false)]
    public void DirectKernelMatchesTheDefiningSumAndTheGemmPath(int seed, int channels, int outC, int strideH,
        int strideW, int padH, int padW, int dilationH, int dilationW, bool withBias)
    {
        var random = new RandomGenerator((ulong)seed);
        int h = 11, w = 29, kh = 3, kw = 5;
        var x = Tensor.RandomNormal(random, [3, channels, h, w]);
        var weight = Tensor.RandomNormal(random, [outC, channels, kh, kw]);
        var bias = withBias ? Tensor.RandomNormal(random, [outC]) : null;
        (int, int) stride = (strideH, strideW), pad = (padH, padW), dilation = (dilationH, dilationW);
        Tensor direct, oneThread, gemm;
        using (Parallelism.Limit(2)) direct = Functional.Conv2d(x, weight, bias, stride, pad, dilation);
        using (Parallelism.Limit(1)) oneThread = Functional.Conv2d(x, weight, bias, stride, pad, dilation);
        using (DirectConvolution.Off()) gemm = Functional.Conv2d(x, weight, bias, stride, pad, dilation);
        Assert.Equal(System.Runtime.Intrinsics.X86.Avx512F.IsSupported, DirectConvolution.Applies(outC, 1));
        AssertDefiningSum(x, weight, bias, direct, stride, pad, dilation, 1);
        Assert.Equal(direct.ToArray(), oneThread.ToArray());
        Close.Values(gemm.Span, direct.Span, "direct against GEMM", 1e-5, 1e-5);
    }

    /// <summary>The transform path (forced) against the defining sum and the other paths: strides 1 to 3 (1, 4 and 9
    /// polyphase planes), several channels, an odd number of filters (the last pair half empty), padding, kernels
    /// larger than the stride and not multiples of it; the same bits on one and two threads.</summary>
    [Theory]
    [InlineData(1, 1, 5, 1, 1, 2, 3, 7, 9, true)]
    [InlineData(2, 3, 4, 2, 2, 4, 1, 9, 6, false)]
    [InlineData(3, 2, 3, 3, 2, 0, 5, 10, 11, true)]
    [InlineData(4, 1, 32, 2, 1, 20, 5, 41, 11, true)]
    public void TransformPathMatchesTheDefiningSumAndTheOtherPaths(int seed, int channels, int outC, int strideH,
        int strideW, int padH, int padW, int kh, int kw, bool withBias)
    {
        var random = new RandomGenerator((ulong)seed);
        int h = 40, w = 23;
        var x = Tensor.RandomNormal(random, [3, channels, h, w]);
        var weight = Tensor.RandomNormal(random, [outC, channels, kh, kw], 0f, 0.2f);
        var bias = withBias ? Tensor.RandomNormal(random, [outC]) : null;
        (int, int) stride = (strideH, strideW), pad = (padH, padW);
        Tensor fft, oneThread, other;
        using (FftConvolution.Force())
        {
            using (Parallelism.Limit(2)) fft = Functional.Conv2d(x, weight, bias, stride, pad);
            using (Parallelism.Limit(1)) oneThread = Functional.Conv2d(x, weight, bias, stride, pad);
        }
        using (FftConvolution.Off()) other = Functional.Conv2d(x, weight, bias, stride, pad);
        AssertDefiningSum(x, weight, bias, fft, stride, pad, (1, 1), 1);
        Assert.Equal(fft.ToArray(), oneThread.ToArray());
        Close.Values(other.Span, fft.Span, "transform against the other paths", 2e-5, 2e-5);
        Assert.NotEqual(other.ToArray(), fft.ToArray()); // the transform path did run: its rounding differs
        // the backward through the transforms against the tap-by-tap one; the input gradient has the same bits on
        // one and two threads (the weight gradient's partial sums follow the split of the batch)
        var upstream = Tensor.RandomNormal(random, fft.Shape.ToArray());
        float[][] Gradients(bool transform, int threads)
        {
            using var path = transform ? FftConvolution.Force() : FftConvolution.Off();
            using var limit = Parallelism.Limit(threads);
            Tensor[] leaves = bias is null ? [x, weight] : [x, weight, bias];
            foreach (var t in leaves) { t.RequiresGrad = true; t.Grad = null; }
            (Functional.Conv2d(x, weight, bias, stride, pad) * upstream).Sum().Backward();
            return [.. leaves.Select(t => t.Grad!.ToArray())];
        }
        var transformed = Gradients(true, 2);
        var tapByTap = Gradients(false, 2);
        for (int i = 0; i < transformed.Length; i++)
            Close.Values(tapByTap[i], transformed[i], $"gradient of input {i}", 5e-5, 5e-5);
        Assert.NotEqual(tapByTap[1], transformed[1]);
        Assert.Equal(transformed[0], Gradients(true, 1)[0]);
    }

    /// <summary>Finite differences through the transform path, forward and backward (stride 2, two channels, three
    /// filters).</summary>
    [Fact]
    public void TransformPathPassesFiniteDifferences()
    {
        var random = new RandomGenerator(9);
        var x = Tensor.RandomNormal(random, [2, 2, 13, 11]);
        var w = Tensor.RandomNormal(random, [3, 2, 7, 5], 0f, 0.3f);
        var b = Tensor.RandomNormal(random, [3]);
        using var force = FftConvolution.Force();
        var check = GradientCheck.Compare(() => Functional.Conv2d(x, w, b, (2, 2), (3, 2)), [x, w, b],
            epsilon: 1e-2);
        Assert.True(check.Passed, $"error {check.MaxError:G3}× tolerance at {check.Where}");
    }

    /// <summary>The transform path's backward when only the input or only the weight needs a gradient, and when
    /// gradients accumulate over two passes: the same as the tap-by-tap backward.</summary>
    [Theory]
    [InlineData(true, false)]
    [InlineData(false, true)]
    [InlineData(true, true)]
    public void TransformBackwardServesEitherGradientAndAccumulates(bool inputGrad, bool weightGrad)
    {
        var random = new RandomGenerator(21);
        var x = Tensor.RandomNormal(random, [3, 2, 30, 17]);
        var w = Tensor.RandomNormal(random, [5, 2, 11, 6], 0f, 0.2f);
        var upstream = Tensor.RandomNormal(random, [3, 5, 11, 8]);
        (float[]? X, float[]? W) Run(bool transform)
        {
            using var path = transform ? FftConvolution.Force() : FftConvolution.Off();
            x.Grad = null;
            w.Grad = null;
            x.RequiresGrad = inputGrad;
            w.RequiresGrad = weightGrad;
            for (int pass = 0; pass < 2; pass++)
                (Functional.Conv2d(x, w, null, (2, 2), (1, 2)) * upstream).Sum().Backward();
            return (x.Grad?.ToArray(), w.Grad?.ToArray());
        }
        var (fx, fw) = Run(true);
        var (gx, gw) = Run(false);
        Assert.Equal(inputGrad, fx != null);
        Assert.Equal(weightGrad, fw != null);
        if (inputGrad) Close.Values(gx, fx, "input gradient", 1e-4, 1e-4);
        if (weightGrad) Close.Values(gw, fw, "weight gradient", 1e-4, 1e-4);
    }

    /// <summary>The transform path is chosen by cost: for Deep Speech 2's first layer (41 × 11 filters, stride 2),
    /// not for 3 × 3 filters, a dilated kernel or groups.</summary>
    [Fact]
    public void TransformPathIsChosenForLargeKernelsOnly()
    {
        static DirectConvolution.Shape Shape(int c, int h, int w, int kh, int kw, (int, int) stride, (int, int) pad,
            (int, int) dilation)
        {
            int outH = (h + 2 * pad.Item1 - dilation.Item1 * (kh - 1) - 1) / stride.Item1 + 1;
            int outW = (w + 2 * pad.Item2 - dilation.Item2 * (kw - 1) - 1) / stride.Item2 + 1;
            return new(c, h, w, kh, kw, outH, outW, stride, pad, dilation);
        }
        bool vectors = System.Runtime.Intrinsics.Vector256.IsHardwareAccelerated;
        var speech = Shape(1, 161, 200, 41, 11, (2, 2), (20, 5), (1, 1));
        var plan = FftConvolution.Choose(speech, 32, 32, 1);
        Assert.Equal(vectors, plan is { TilesH: > 1 } or { TilesW: > 1 });
        Assert.Null(FftConvolution.Choose(Shape(32, 40, 50, 3, 3, (1, 1), (1, 1), (1, 1)), 32, 64, 1));
        // the speech model's own 9 × 5 layers and AlexNet's 11 × 11 stride-4 first layer run faster tap by tap
        Assert.Null(FftConvolution.Choose(Shape(1, 80, 100, 9, 5, (2, 2), (4, 2), (1, 1)), 32, 32, 1));
        Assert.Null(FftConvolution.Choose(Shape(3, 224, 224, 11, 11, (4, 4), (2, 2), (1, 1)), 8, 64, 1));
        Assert.Null(FftConvolution.Choose(Shape(1, 161, 200, 41, 11, (2, 2), (20, 5), (2, 1)), 32, 32, 1));
        Assert.Null(FftConvolution.Choose(speech with { Channels = 2 }, 32, 32, 2));
        using (FftConvolution.Off()) Assert.Null(FftConvolution.Choose(speech, 32, 32, 1));
        using (FftConvolution.Force()) Assert.Null(FftConvolution.Choose(speech, 0, 32, 1)); // an empty batch
    }

    [Theory]
    [InlineData(true, 0)]
    [InlineData(false, 1)]
    public void LargePoolingsSplitOverThreadsGiveTheSameBitsAsOne(bool max, int pad)
    {
        // [8, 16, 64, 66] with a 3 × 3 window, stride 2: enough work to be split by planes; overlapping windows and
        // padding, forward and backward, against one thread and against the defining maximum or mean
        var random = new RandomGenerator(5);
        var data = Tensor.RandomNormal(random, [8, 16, 64, 66]);
        var upstream = Tensor.RandomNormal(random, [8, 16, 31 + pad, 32 + pad]);
        (float[] Output, float[] Grad) Run(int threads)
        {
            using var limit = Parallelism.Limit(threads);
            var x = data.Clone();
            x.RequiresGrad = true;
            var y = max ? Functional.MaxPool2d(x, (3, 3), (2, 2), (pad, pad))
                : Functional.AvgPool2d(x, (3, 3), (2, 2), (pad, pad));
            (y * upstream).Sum().Backward();
            return (y.ToArray(), x.Grad!.ToArray());
        }
        var two = Run(2);
        var one = Run(1);
        Assert.Equal(one.Output, two.Output);
        Assert.Equal(one.Grad, two.Grad);
        var v = data.Span;
        int outW = 32 + pad, at = ((5 * 16 + 7) * (31 + pad) + 20) * outW + 11; // item 5, plane 7, (20, 11)
        float best = float.NegativeInfinity, sum = 0;
        for (int i = 0; i < 3; i++)
            for (int j = 0; j < 3; j++)
            {
                int r = 20 * 2 - pad + i, c = 11 * 2 - pad + j;
                float value = v[((5 * 16 + 7) * 64 + r) * 66 + c];
                (best, sum) = (Math.Max(best, value), sum + value);
            }
        Assert.Equal(max ? best : sum / 9, two.Output[at], 5);
    }

    [Fact]
    public void HalvingMaxPoolTakesTheFirstLargestOfEachWindowAndPassesItsGradient()
    {
        // 2 × 2 windows with stride 2 (their own fast path): odd sizes drop the last row and column, ties go to the
        // first in row order, a NaN wins, a window of −∞ alone passes no gradient
        var random = new RandomGenerator(9);
        var data = Tensor.RandomNormal(random, [2, 3, 7, 9]);
        var v = data.Span;
        v[0] = v[1] = 2f; // a tie in the first window of the first plane
        v[9 * 2 + 2] = float.NaN; // plane 0, row 2, column 2
        v[63 + 9 * 4 + 4] = v[63 + 9 * 4 + 5] = v[63 + 9 * 5 + 4] = v[63 + 9 * 5 + 5] = float.NegativeInfinity;
        var x = data.Clone();
        x.RequiresGrad = true;
        var y = Functional.MaxPool2d(x, (2, 2));
        Assert.Equal([2, 3, 3, 4], y.ShapeArray());
        var upstream = Tensor.RandomNormal(random, [2, 3, 3, 4]);
        (y * upstream).Sum().Backward();
        var expectedGrad = new float[data.Length];
        for (int p = 0; p < 6; p++)
            for (int oh = 0; oh < 3; oh++)
                for (int ow = 0; ow < 4; ow++)
                {
                    float best = float.NegativeInfinity;
                    int index = -1;
                    for (int i = 0; i < 2; i++)
                        for (int j = 0; j < 2; j++)
                        {
                            int at = (p * 7 + 2 * oh + i) * 9 + 2 * ow + j;
                            if (v[at] > best || float.IsNaN(v[at])) (best, index) = (v[at], at);
                        }
                    int o = (p * 3 + oh) * 4 + ow;
                    Assert.Equal(best, y.Span[o]);
                    if (index >= 0) expectedGrad[index] += upstream.Span[o];
                }
        Assert.Equal(expectedGrad, x.Grad!.ToArray());
        Assert.Equal(upstream.Span[0], x.Grad.Span[0]); // the tie: the first 2 takes the gradient
        Assert.Equal(0f, x.Grad.Span[1]);
        Assert.True(float.IsNaN(y.Span[4 + 1]));
        Assert.Equal(float.NegativeInfinity, y.Span[12 + 2 * 4 + 2]);
        Assert.Equal([0, 3, 2, 2], Functional.MaxPool2d(Tensor.Zeros(0, 3, 4, 4), (2, 2)).ShapeArray()); // no planes
    }

    static void AssertDefiningSum(Tensor x, Tensor weight, Tensor? bias, Tensor y, (int H, int W) stride,
        (int H, int W) pad, (int H, int W) dilation, int groups)
    {
        int batch = x.Size(0), inC = x.Size(1), h = x.Size(2), w = x.Size(3);
        int outC = weight.Size(0), channels = weight.Size(1), kh = weight.Size(2), kw = weight.Size(3);
        int outH = y.Size(2), outW = y.Size(3);
        Assert.Equal((h + 2 * pad.H - dilation.H * (kh - 1) - 1) / stride.H + 1, outH);
        Assert.Equal((w + 2 * pad.W - dilation.W * (kw - 1) - 1) / stride.W + 1, outW);
        for (int b = 0; b < batch; b++)
            for (int o = 0; o < outC; o++)
                for (int oh = 0; oh < outH; oh++)
                    for (int ow = 0; ow < outW; ow++)
                    {
                        double sum = bias is null ? 0 : bias.Span[o];
                        int g = o / (outC / groups);
                        for (int c = 0; c < channels; c++)
                            for (int i = 0; i < kh; i++)
                                for (int j = 0; j < kw; j++)
                                {
                                    int yy = oh * stride.H - pad.H + i * dilation.H;
                                    int xx = ow * stride.W - pad.W + j * dilation.W;
                                    if (yy < 0 || yy >= h || xx < 0 || xx >= w) continue;
                                    sum += (double)weight.Span[((o * channels + c) * kh + i) * kw + j]
                                        * x.Span[((b * inC + g * channels + c) * h + yy) * w + xx];
                                }
                        float actual = y.Span[((b * outC + o) * outH + oh) * outW + ow];
                        Assert.True(Math.Abs(actual - sum) < 1e-4, $"y[{b},{o},{oh},{ow}] = {actual}, expected {sum}");
                    }
    }

    [Fact]
    public void CausalConvolutionNeverLooksAhead()
    {
        var random = new RandomGenerator(3);
        var x = Tensor.RandomNormal(random, [1, 2, 16]);
        var w = Tensor.RandomNormal(random, [3, 2, 2]);
        var before = Functional.CausalConv1d(x, w, null, dilation: 4).ToArray();
        x.Span[10] += 5f; // channel 0, time 10
        var after = Functional.CausalConv1d(x, w, null, dilation: 4).ToArray();
        for (int o = 0; o < 3; o++)
            for (int t = 0; t < 16; t++)
                if (t < 10) Assert.Equal(before[o * 16 + t], after[o * 16 + t]);
                else if (t == 10 || t == 14) Assert.NotEqual(before[o * 16 + t], after[o * 16 + t]);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void FusedTermsAreTheConvolutionPlusTheirSumsAndPassFiniteDifferences(bool withBias)
    {
        var random = new RandomGenerator(12);
        var x = Tensor.RandomNormal(random, [3, 2, 9]);
        var w = Tensor.RandomNormal(random, [4, 2, 2]);
        var b = withBias ? Tensor.RandomNormal(random, [4]) : null;
        var perItem = Tensor.RandomNormal(random, [3, 4]);
        var addend = Tensor.RandomNormal(random, [3, 4, 9]);
        Tensor Fused() => Functional.Conv1d(x, w, b, (2, 0), 2, perItem, addend);
        Tensor Composed() => addend + Functional.CausalConv1d(x, w, b, 2) + perItem.Reshape(3, 4, 1);
        using (GradMode.NoGrad())
            Close.Values(Composed().ToArray(), Fused().ToArray(), "conv1d + bias per item + addend", 1e-5, 1e-5);
        Tensor[] inputs = withBias ? [x, w, b!, perItem, addend] : [x, w, perItem, addend];
        var check = GradientCheck.Compare(() => (Fused() * Fused()).Sum(), inputs);
        Assert.True(check.Passed, $"gradient mismatch (error {check.MaxError:G3}× tolerance): {check.Where}");
        // the addend used again after the convolution: its handed-on gradient must not be disturbed by the other use
        float[][] Gradients(Func<Tensor> output)
        {
            foreach (var t in inputs) { t.RequiresGrad = true; t.Grad = null; }
            var y = output();
            ((y * y).Sum() + (y * addend).Sum() + (addend * addend).Sum()).Backward();
            return inputs.Select(t => t.Grad!.ToArray()).ToArray();
        }
        var fusedGradients = Gradients(Fused);
        var composedGradients = Gradients(Composed);
        for (int i = 0; i < inputs.Length; i++)
            Close.Values(composedGradients[i], fusedGradients[i], $"gradient of input {i}", 1e-4, 1e-5);
        var onlyAddend = GradientCheck.Compare(() => (Functional.Conv1d(x, w, b, (0, 0), 1, null,
            Tensor.RandomNormal(new RandomGenerator(5), [3, 4, 8])) * addend.Slice(2, 0, 8)).Sum(), [x, w]);
        Assert.True(onlyAddend.Passed, $"gradient mismatch: {onlyAddend.Where}");
        var e = Assert.Throws<ArgumentException>(() => Functional.Conv1d(x, w, b, (2, 0), 2, Tensor.Zeros(3, 5),
            null));
        Assert.Contains("[3, 4]", e.Message);
        e = Assert.Throws<ArgumentException>(() => Functional.Conv1d(x, w, b, (2, 0), 2, null, Tensor.Zeros(3, 4, 8)));
        Assert.Contains("[3, 4, 9]", e.Message);
        var causal = new Recur.Nn.Conv1d(2, 4, 2, random, dilation: 2, causal: true);
        Assert.Equal(Functional.Conv1d(x, causal.Weight, causal.Bias, (2, 0), 2, perItem, addend).ToArray(),
            causal.Forward(x, perItem, addend).ToArray());
    }

    [Fact]
    public void WeightGradientsDoNotDependOnHowUnevenlyTheBatchIsSplit()
    {
        // five items over three workers: ranges of 1, 2 and 2 items, each with its own partial sum
        var random = new RandomGenerator(13);
        var x1 = Tensor.RandomNormal(random, [5, 2, 11]);
        var w1 = Tensor.RandomNormal(random, [3, 2, 2]);
        var x2 = Tensor.RandomNormal(random, [5, 2, 6, 7]);
        var w2 = Tensor.RandomNormal(random, [3, 2, 3, 3]);
        (float[] Conv1d, float[] Conv2d) Gradients(int threads)
        {
            using var limit = Parallelism.Limit(threads);
            foreach (var t in new[] { x1, w1, x2, w2 }) { t.RequiresGrad = true; t.Grad = null; }
            ((Functional.CausalConv1d(x1, w1, null, 2) * x1.Slice(1, 0, 1)).Sum()
                + (Functional.Conv2d(x2, w2, padding: (1, 1)) * x2.Slice(1, 0, 1)).Sum()).Backward();
            return (w1.Grad!.ToArray(), w2.Grad!.ToArray());
        }
        var one = Gradients(1);
        var three = Gradients(3);
        Close.Values(one.Conv1d, three.Conv1d, "conv1d weight gradient", 1e-4, 1e-5);
        Close.Values(one.Conv2d, three.Conv2d, "conv2d weight gradient", 1e-4, 1e-5);
    }

    [Fact]
    public void ShapeMistakesNameTheShapes()
    {
        var x = Tensor.Zeros(2, 3, 8);
        var e = Assert.Throws<ArgumentException>(() => Functional.Conv1d(x, Tensor.Zeros(4, 2, 3)));
        Assert.Contains("[2, 3, 1, 8]", e.Message);
        Assert.Contains("groups = 1", e.Message);
        Assert.Throws<ArgumentException>(() => Functional.Conv1d(x, Tensor.Zeros(4, 3, 9)));
        Assert.Throws<ArgumentException>(() => Functional.MaxPool1d(x, 9));
    }

    [Fact]
    public void ModulesCarryPyTorchNamesAndApplyTheirSettings()
    {
        var random = new RandomGenerator(4);
        var causal = new Recur.Nn.Conv1d(2, 3, 2, random, dilation: 4, causal: true);
        Assert.Equal(["bias", "weight"], causal.StateDict().Keys.Order());
        Assert.Equal([3, 2, 2], causal.Weight.ShapeArray());
        var x = Tensor.RandomNormal(random, [1, 2, 16]);
        Assert.Equal(Functional.CausalConv1d(x, causal.Weight, causal.Bias, 4).ToArray(), causal.Forward(x).ToArray());
        var conv = new Recur.Nn.Conv2d(1, 4, (3, 5), random, stride: (2, 2), padding: (1, 2));
        Assert.Equal([2, 4, 8, 10], conv.Forward(Tensor.RandomNormal(random, [2, 1, 16, 20])).ShapeArray());
        float bound = 1f / MathF.Sqrt(15);
        Assert.All(conv.Weight.ToArray(), v => Assert.InRange(v, -bound, bound));
    }
}

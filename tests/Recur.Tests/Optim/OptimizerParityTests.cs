using System.Text.Json;
using Recur.Optim;

namespace Recur.Tests.Optim;

/// <summary>Optimizers and schedules against Debian's PyTorch (fixtures from
/// Fixtures/make_optimizer_fixtures.py).</summary>
public class OptimizerParityTests
{
    static readonly JsonElement Root = JsonDocument.Parse(File.ReadAllText(Path.Combine(AppContext.BaseDirectory,
        "Fixtures", "optimizer_pytorch.json"))).RootElement;

    public static TheoryData<string> OptimizerCases() => [.. Root.GetProperty("optimizers").EnumerateArray().Select(c
        => c.GetProperty("name").GetString()!)];

    public static TheoryData<string> ScheduleCases() => [.. Root.GetProperty("schedules").EnumerateArray().Select(c
        => c.GetProperty("name").GetString()!)];

    static JsonElement Case(string section,
        string name) => Root.GetProperty(section).EnumerateArray().Single(c
        => c.GetProperty("name").GetString() == name);

    static float[] Floats(JsonElement e) => e.EnumerateArray().Select(v => (float)v.GetDouble()).ToArray();

    static float Option(JsonElement options, string key, float fallback) => options.TryGetProperty(key,
        out var v) ? (float)v.GetDouble() : fallback;

    internal static Optimizer Create(string type, JsonElement o, IEnumerable<Tensor> parameters)
    {
        float lr = Option(o, "lr", 0f), decay = Option(o, "weight_decay", 0f);
        float[] betas = o.TryGetProperty("betas", out var b) ? Floats(b) : [0.9f, 0.999f];
        bool Flag(string key) => o.TryGetProperty(key, out var v) && v.GetBoolean();
        return type switch
        {
            "SGD" => new Sgd(parameters, lr, Option(o, "momentum", 0f), Flag("nesterov"), decay, Option(o, "dampening",
                0f)),
            "Adam" => new Adam(parameters, lr, betas[0], betas[1], Option(o, "eps", 1e-8f), decay),
            "AdamW" => new AdamW(parameters, lr, betas[0], betas[1], Option(o, "eps", 1e-8f), Option(o, "weight_decay",
                1e-2f)),
            "RMSprop" => new RmsProp(parameters, lr, Option(o, "alpha", 0.99f), Option(o, "eps", 1e-8f), decay,
                Option(o, "momentum", 0f), Flag("centered")),
            "Adagrad" => new Adagrad(parameters, lr, Option(o, "lr_decay", 0f), decay, Option(o,
                "initial_accumulator_value", 0f), Option(o, "eps", 1e-10f)),
            _ => throw new ArgumentException(type),
        };
    }

    /// <summary>A fixture case's starting parameters (fresh tensors each call), the bowl's curvature and centre, and
    /// its optimizer.</summary>
    static (Func<Tensor[]> Fresh, float[][] Curvature, float[][] Centre, Func<Tensor[],
        Optimizer> Optimizer) Setup(JsonElement c)
    {
        var shapes = c.GetProperty("shapes").EnumerateArray().Select(s => s.EnumerateArray().Select(d
            => d.GetInt32()).ToArray()).ToArray();
        var start = c.GetProperty("start").EnumerateArray().Select(Floats).ToArray();
        var curvature = c.GetProperty("curvature").EnumerateArray().Select(Floats).ToArray();
        var centre = c.GetProperty("centre").EnumerateArray().Select(Floats).ToArray();
        Tensor[] Fresh() => shapes.Select((s, i) =>
        {
            var t = Tensor.FromArray(start[i],
            s); t.RequiresGrad = true; return t;
        }).ToArray();
        return (Fresh, curvature, centre, parameters => Create(c.GetProperty("optimizer").GetString()!,
            c.GetProperty("options"), parameters));
    }

    static void SetQuadraticGradients(Tensor[] parameters, float[][] curvature, float[][] centre)
    {
        for (int p = 0; p < parameters.Length; p++)
        {
            var g = new float[parameters[p].Length];
            var w = parameters[p].Span;
            for (int i = 0; i < g.Length; i++) g[i] = (w[i] - centre[p][i]) * curvature[p][i];
            parameters[p].Grad = Tensor.FromArray(g, parameters[p].ShapeArray());
        }
    }

    [Theory]
    [MemberData(nameof(OptimizerCases))]
    public void OptimizerMatchesPyTorchStepByStep(string name)
    {
        var c = Case("optimizers", name);
        var (fresh, curvature, centre, create) = Setup(c);
        var parameters = fresh();
        var optimizer = create(parameters);
        int step = 0;
        foreach (var after in c.GetProperty("after").EnumerateArray())
        {
            step++;
            SetQuadraticGradients(parameters, curvature, centre);
            optimizer.Step();
            var expected = after.EnumerateArray().Select(Floats).ToArray();
            for (int p = 0; p < parameters.Length; p++)
                for (int i = 0; i < expected[p].Length; i++)
                    Assert.True(Math.Abs(expected[p][i] - parameters[p].Span[i]) <= 1e-6,
                        $"{name} step {step} parameter {p}[{i}]: PyTorch {expected[p][i]}, "
                            + $"Recur {parameters[p].Span[i]}");
        }
    }

    [Theory]
    [MemberData(nameof(OptimizerCases))]
    public void SavedStateResumesExactly(string name)
    {
        var (fresh, curvature, centre, create) = Setup(Case("optimizers", name));

        var straight = fresh();
        var reference = create(straight);
        for (int s = 0; s < 6; s++) { SetQuadraticGradients(straight, curvature, centre); reference.Step(); }

        var resumed = fresh();
        var first = create(resumed);
        for (int s = 0; s < 3; s++) { SetQuadraticGradients(resumed, curvature, centre); first.Step(); }
        string path = Path.Combine(Path.GetTempPath(), $"recur-optim-{Guid.NewGuid():N}.safetensors");
        try
        {
            first.SaveState(path);
            var second = create(resumed);
            second.LoadState(path);
            for (int s = 0; s < 3; s++) { SetQuadraticGradients(resumed, curvature, centre); second.Step(); }
        }
        finally { File.Delete(path); }
        for (int p = 0; p < straight.Length; p++) Assert.Equal(straight[p].ToArray(), resumed[p].ToArray());
    }

    [Fact]
    public void StateOfAnotherOptimizerOrShapeIsRefused()
    {
        var p = Tensor.Zeros(3); p.RequiresGrad = true; p.Grad = Tensor.Ones(3);
        var adam = new Adam([p]);
        adam.Step();
        string path = Path.Combine(Path.GetTempPath(), $"recur-optim-{Guid.NewGuid():N}.safetensors");
        try
        {
            adam.SaveState(path);
            var ex = Assert.Throws<InvalidDataException>(() => new Sgd([p], 0.1f, momentum: 0.9f).LoadState(path));
            Assert.Contains("holds Adam state, but the optimizer is SGD", ex.Message);
            var q = Tensor.Zeros(4); q.RequiresGrad = true;
            ex = Assert.Throws<InvalidDataException>(() => new Adam([q]).LoadState(path));
            Assert.Contains("has 3 values, but parameter 0 has shape [4]", ex.Message);
        }
        finally { File.Delete(path); }
    }

    [Theory]
    [MemberData(nameof(ScheduleCases))]
    public void ScheduleMatchesPyTorch(string name)
    {
        var c = Case("schedules", name);
        var o = c.GetProperty("options");
        float lr = (float)c.GetProperty("base").GetDouble();
        double D(string key) => o.GetProperty(key).GetDouble();
        LearningRateSchedule schedule = name switch
        {
            "step" => new StepSchedule(lr, (int)D("step_size"), D("gamma")),
            "multistep" => new MultiStepSchedule(lr,
                o.GetProperty("milestones").EnumerateArray().Select(v => v.GetInt64()).ToArray(), D("gamma")),
            "exponential" => new ExponentialSchedule(lr, D("gamma")),
            "cosine_warmup" => new CosineWarmupSchedule(lr, (long)D("warmup"), (long)D("total"), D("min_lr"),
                D("start_factor")),
            "plateau" => new ReduceOnPlateauSchedule(lr, MetricMode.Min, D("factor"), (int)D("patience"),
                D("threshold"), (int)D("cooldown"), D("min_lr")),
            _ => throw new ArgumentException(name),
        };
        if (c.TryGetProperty("initial", out var initial)) Assert.Equal(initial.GetDouble(), schedule.LearningRate,
            1e-9);
        var metrics = c.TryGetProperty("metrics",
            out var m) ? m.EnumerateArray().Select(v => v.GetDouble()).ToArray() : null;
        int k = 0;
        foreach (var expected in c.GetProperty("lrs").EnumerateArray().Select(v => v.GetDouble()))
        {
            if (metrics != null) schedule.ReportMetric(metrics[k]);
            else schedule.Advance();
            Assert.True(Math.Abs(expected - schedule.LearningRate) <= 1e-6 * expected + 1e-12,
                $"{name} after {k + 1}: PyTorch {expected}, Recur {schedule.LearningRate}");
            k++;
        }
    }

    [Fact]
    public void LearningRateScalesGiveEachParameterItsOwnRate()
    {
        Tensor[] Parameters() =>
            [Tensor.FromArray([1f, 2f], 2), Tensor.FromArray([1f, 2f], 2), Tensor.FromArray([3f], 1)];
        foreach (var make in new Func<Tensor[], Optimizer>[]
        {
            p => new Sgd(p, 0.1f, momentum: 0.9f), p => new Adam(p, 0.1f), p => new AdamW(p, 0.1f),
            p => new RmsProp(p, 0.1f), p => new Adagrad(p, 0.1f),
        })
        {
            var full = Parameters();
            var scaled = Parameters();
            var plain = make(full);
            var grouped = make(scaled);
            grouped.LearningRateScales = [1f, 1f, 0f];
            var halved = Parameters();
            var half = make(halved);
            half.LearningRateScales = [0.5f, 0.5f, 0.5f];
            var halfRate = Parameters();
            var lower = make(halfRate);
            lower.LearningRate = 0.05f;
            foreach (var set in new[] { full, scaled, halved, halfRate })
                foreach (var p in set) p.Grad = Tensor.FromArray(Enumerable.Repeat(0.3f, p.Length).ToArray(), p.Length);
            foreach (var o in new[] { plain, grouped, half, lower }) o.Step();
            Assert.Equal(full[0].ToArray(), scaled[0].ToArray());       // scale 1: as without scales
            Assert.Equal([3f], scaled[2].ToArray());                    // scale 0: left alone
            Assert.Equal(halfRate[0].ToArray(), halved[0].ToArray());   // scale ½ is the rate halved
            Assert.Throws<ArgumentException>(() => plain.LearningRateScales = [1f]);
        }
    }

    [Fact]
    public void TheSlantedTriangleClimbsForATenthAndFallsForTheRest()
    {
        // Howard & Ruder (2018), eq. 3, with T = 100, cut_frac 0.1, ratio 32: cut = 10
        var schedule = new SlantedTriangularSchedule(3.2f, total: 100);
        var rates = new List<float> { schedule.LearningRate };
        for (int t = 1; t <= 110; t++)
        {
            schedule.Advance();
            rates.Add(schedule.LearningRate);
        }
        Assert.Equal(0.1f, rates[0], 6);                             // η/32 at the start
        Assert.Equal(3.2f * (1 + 0.5 * 31) / 32, rates[5], 5);      // halfway up
        Assert.Equal(3.2f, rates[10], 6);                            // the peak at the cut
        Assert.Equal(3.2f * (1 + 0.5 * 31) / 32, rates[55], 5);     // p = 1 − 45/90 on the way down
        Assert.Equal(0.1f, rates[100], 6);                           // back to η/32 at T
        Assert.Equal(0.1f, rates[110], 6);                           // and it stays there
        Assert.Throws<ArgumentException>(() => new SlantedTriangularSchedule(1f, total: 5));
        var resumed = new SlantedTriangularSchedule(3.2f, total: 100);
        var halfway = new SlantedTriangularSchedule(3.2f, total: 100);
        for (int t = 0; t < 37; t++) halfway.Advance();
        resumed.SetState(halfway.GetState());
        Assert.Equal(halfway.LearningRate, resumed.LearningRate);
    }

    [Fact]
    public void RestoredClosedFormSchedulesFollowTheirBaseRate()
    {
        var cosine = new CosineWarmupSchedule(1e-3f, warmup: 10, total: 100);
        for (int i = 0; i < 37; i++) cosine.Advance();
        var same = new CosineWarmupSchedule(1e-3f, warmup: 10, total: 100);
        same.SetState(cosine.GetState());
        Assert.Equal(cosine.LearningRate, same.LearningRate); // bit-identical resume
        var constant = new ConstantSchedule(1e-3f);
        for (int i = 0; i < 5; i++) constant.Advance();
        var dropped = new ConstantSchedule(1e-4f);
        dropped.SetState(constant.GetState());
        Assert.Equal(1e-4f, dropped.LearningRate); // a new --lr on resume applies from the first step
        var plateau = new ReduceOnPlateauSchedule(0.1f, patience: 0);
        plateau.ReportMetric(1.0);
        plateau.ReportMetric(2.0);
        var restored = new ReduceOnPlateauSchedule(0.1f, patience: 0);
        restored.SetState(plateau.GetState());
        Assert.Equal(plateau.LearningRate, restored.LearningRate);
        Assert.True(restored.LearningRate < 0.1f);
    }

    [Fact]
    public void PlateauStateRoundTrips()
    {
        var a = new ReduceOnPlateauSchedule(0.1f, patience: 1, cooldown: 1);
        foreach (var v in new[] { 1.0, 0.9, 0.95, 0.97 }) a.ReportMetric(v);
        var b = new ReduceOnPlateauSchedule(0.1f, patience: 1, cooldown: 1);
        b.SetState(a.GetState());
        foreach (var v in new[] { 0.99, 0.98, 0.97, 0.96, 0.95 })
        {
            a.ReportMetric(v);
            b.ReportMetric(v);
            Assert.Equal(a.LearningRate, b.LearningRate);
        }
        Assert.True(a.LearningRate < 0.01f);
    }
}

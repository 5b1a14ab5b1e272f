using Recur.Autograd;
using Recur.Nn;
using Recur.Nn.Recurrent;
using Recur.Optim;
using Recur.Tasks;
using Recur.Training;

namespace Recur.Tests.Optim;

/// <summary>
/// Hessian-free optimisation: the Gauss–Newton products of <see cref="SequenceCurvature"/> against finite differences
/// and the model's own autograd, and <see cref="HessianFree"/> on a quadratic, on an RNN and through the trainer.
/// </summary>
public sealed class HessianFreeTests : IDisposable
{
    readonly string root = Path.Combine(Path.GetTempPath(), $"recur-hf-{Guid.NewGuid():N}");

    public void Dispose()
    {
        if (Directory.Exists(root)) Directory.Delete(root, recursive: true);
    }

    /// <summary>A small model and data for each loss the sequence tasks use.</summary>
    static (SequenceModel Model, SequenceDataset Data) Case(string kind, string cell = "rnn", int layers = 2)
    {
        var random = new RandomGenerator(11);
        var data = kind switch
        {
            "adding" => SyntheticTasks.Adding(random, 6, 5),
            "order" => SyntheticTasks.TemporalOrder(random, 12, 5),
            "copy" => SyntheticTasks.Copy(random, 2, 4, symbols: 3, copyLength: 2),
            _ => SyntheticTasks.EmbeddedReber(random, 4, maxLength: 12),
        };
        bool perStep = kind is "copy" or "reber";
        var model = new SequenceModel(new SequenceModelConfig(RecurrentCells.Parse(cell), data.Features, 5,
            data.Outputs, layers,
            PerStep: perStep), new RandomGenerator(3));
        return (model, data);
    }

    static int[] AllRows(SequenceDataset data) => Enumerable.Range(0, data.Count).ToArray();

    static float[] RandomVector(int n, ulong seed)
    {
        // a unit vector: the finite differences below then step 1e-3 in parameter space
        var v = Tensor.RandomNormal(new RandomGenerator(seed), [n]).ToArray();
        float norm = MathF.Sqrt(v.Sum(x => x * x));
        return v.Select(x => x / norm).ToArray();
    }

    static int Length(SequenceModel model) => model.Parameters().Sum(p => p.Length);

    /// <summary>The model's outputs with its parameters moved by <paramref name="scale"/>·v.</summary>
    static float[] OutputsAt(SequenceModel model, SequenceDataset data, float[] v, float scale)
    {
        var saved = model.Parameters().Select(p => p.ToArray()).ToArray();
        int offset = 0;
        foreach (var p in model.Parameters())
        {
            var span = p.Span;
            for (int i = 0; i < span.Length; i++) span[i] += scale * v[offset + i];
            offset += span.Length;
        }
        using var _ = GradMode.NoGrad();
        var output = model.Forward(data.BatchInputs(AllRows(data))).ToArray();
        var parameters = model.Parameters();
        for (int k = 0; k < parameters.Count; k++) saved[k].CopyTo(parameters[k].Span);
        return output;
    }

    static void AssertClose(float[] expected, float[] actual, double relative, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        double scale = Math.Max(1e-6, expected.Max(Math.Abs));
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected[i] - actual[i]) <= relative * scale,
                $"{what}[{i}]: expected {expected[i]:G6}, got {actual[i]:G6} (scale {scale:G3})");
    }

    [Theory]
    [InlineData("adding", "rnn")]
    [InlineData("order", "relu-rnn")]
    [InlineData("copy", "rnn")]
    [InlineData("reber", "irnn")]
    [InlineData("order", "lstm")]
    [InlineData("copy", "lstm")]
    [InlineData("adding", "gru")]
    [InlineData("reber", "gru")]
    public void ItsForwardPassIsTheModels(string kind, string cell)
    {
        var (model, data) = Case(kind, cell);
        var curvature = new SequenceCurvature(model, data, AllRows(data));
        using var _ = GradMode.NoGrad();
        AssertClose(model.Forward(data.BatchInputs(AllRows(data))).ToArray(), curvature.Outputs(), 1e-5, "output");
    }

    [Theory]
    [InlineData("adding", "rnn", 1)]
    [InlineData("order", "rnn", 2)]
    [InlineData("copy", "relu-rnn", 2)]
    [InlineData("reber", "rnn", 3)]
    [InlineData("adding", "lstm", 1)]
    [InlineData("order", "lstm", 2)]
    [InlineData("copy", "gru", 2)]
    [InlineData("reber", "gru", 1)]
    public void TheROperatorIsTheDirectionalDerivativeOfTheOutputs(string kind, string cell, int layers)
    {
        var (model, data) = Case(kind, cell, layers);
        var v = RandomVector(Length(model), 5);
        var curvature = new SequenceCurvature(model, data, AllRows(data));
        // smooth cells: central differences at h and h/2, Richardson-extrapolated (O(h⁴) truncation error at a step
        // large enough for float rounding not to matter); ReLU: a step small enough that no unit crosses its kink
        float[] Central(float h) => OutputsAt(model, data, v, h).Zip(OutputsAt(model, data, v, -h),
            (a, b) => (a - b) / (2 * h)).ToArray();
        var difference = cell is not ("relu-rnn" or "irnn")
            ? Central(2e-3f).Zip(Central(4e-3f), (fine, coarse) => (4 * fine - coarse) / 3).ToArray()
            : Central(1e-4f);
        AssertClose(difference, curvature.OutputDirectional(v), 2e-3, "J·v");
    }

    [Theory]
    [InlineData("adding", "rnn")]
    [InlineData("order", "rnn")]
    [InlineData("copy", "rnn")]
    [InlineData("reber", "rnn")]
    [InlineData("adding", "lstm")]
    [InlineData("reber", "lstm")]
    [InlineData("order", "gru")]
    [InlineData("copy", "gru")]
    public void ItsBackwardPassGivesTheModelsGradient(string kind, string cell)
    {
        // Jᵀ·∂L/∂y must be the gradient autograd computes through the fused kernel
        var (model, data) = Case(kind, cell);
        var rows = AllRows(data);
        var task = new SequenceTask(model, data, null, rows.Length);
        var curvature = new SequenceCurvature(model, data, rows);
        var output = Tensor.FromArray(curvature.Outputs(), model.Forward(data.BatchInputs(rows)).Shape.ToArray());
        output.RequiresGrad = true;
        OutputLoss(data, rows, output).Backward();
        var transposed = new float[Length(model)];
        curvature.Transposed(output.Grad!.ToArray(), transposed);
        foreach (var p in model.Parameters()) p.Grad = null;
        task.BatchLoss(data, rows).Backward();
        AssertClose(model.Parameters().SelectMany(p => p.Grad!.ToArray()).ToArray(), transposed, 1e-4, "Jᵀ·g");
    }

    [Theory]
    [InlineData("adding", "rnn")]
    [InlineData("order", "rnn")]
    [InlineData("copy", "rnn")]
    [InlineData("order", "lstm")]
    [InlineData("copy", "gru")]
    public void GradientSquaresAreTheMeanOfTheSquaredPerSequenceGradients(string kind, string cell)
    {
        var (model, data) = Case(kind, cell);
        var rows = AllRows(data);
        var task = new SequenceTask(model, data, null, rows.Length);
        var squares = new float[Length(model)];
        Assert.True(((ICurvature)new SequenceCurvature(model, data, rows)).GradientSquares(squares));
        var expected = new double[squares.Length];
        foreach (int row in rows)
        {
            foreach (var p in model.Parameters()) p.Grad = null;
            task.BatchLoss(data, [row]).Backward(); // one sequence's own loss
            var g = model.Parameters().SelectMany(p => p.Grad!.ToArray()).ToArray();
            for (int i = 0; i < g.Length; i++) expected[i] += (double)g[i] * g[i] / rows.Length;
        }
        AssertClose(expected.Select(v => (float)v).ToArray(), squares, 1e-4, "diag F");
        Assert.True(squares.Max() > 1e-4);
    }

    [Fact]
    public void PreconditionedConjugateGradientSolvesTheSameSystemInFewerIterations()
    {
        // an ill-conditioned SPD matrix: scales from 1 to 10⁴ on the diagonal, a little coupling
        int n = 40;
        var random = new RandomGenerator(5);
        var a = new double[n, n];
        for (int i = 0; i < n; i++)
        {
            a[i, i] = Math.Pow(10, 4.0 * i / (n - 1));
            for (int j = 0; j < i; j++) a[i, j] = a[j, i] = 0.05 * (random.NextDouble() - 0.5)
                * Math.Sqrt(a[i, i] * a[j, j]) / n;
        }
        void Apply(ReadOnlySpan<float> v, Span<float> result)
        {
            for (int i = 0; i < n; i++)
            {
                double sum = 0;
                for (int j = 0; j < n; j++) sum += a[i, j] * v[j];
                result[i] = (float)sum;
            }
        }
        var g = Enumerable.Range(0, n).Select(i => (float)(Math.Sqrt(a[i, i]) * (random.NextDouble() - 0.5)))
            .ToArray();
        var hf = new HessianFree([Tensor.Zeros(n)], maxIterations: 400);
        var plain = hf.ConjugateGradient(Apply, g, new float[n]);
        var diagonal = Enumerable.Range(0, n).Select(i => (float)a[i, i]).ToArray();
        var preconditioned = hf.ConjugateGradient(Apply, g, new float[n], diagonal);
        // the preconditioned run gets at least as low on ½xᵀAx + gᵀx in a fraction of the iterations
        Assert.True(preconditioned[^1].Phi <= plain[^1].Phi + 1e-6 * Math.Abs(plain[^1].Phi),
            $"φ {preconditioned[^1].Phi} preconditioned against {plain[^1].Phi}");
        Assert.True(preconditioned[^1].Iteration * 3 < plain[^1].Iteration,
            $"{preconditioned[^1].Iteration} preconditioned iterations against {plain[^1].Iteration}");
        var residual = new float[n];
        Apply(preconditioned[^1].X, residual);
        for (int i = 0; i < n; i++) Assert.Equal(-g[i], residual[i], 0.02 * Math.Sqrt(a[i, i]));
    }

    /// <summary>The task's loss as a function of the outputs alone.</summary>
    static Tensor OutputLoss(SequenceDataset data, int[] rows, Tensor output) =>
        SequenceTask.OutputLoss(output, data, rows);

    /// <summary>∂L/∂y at <paramref name="values"/>, by autograd.</summary>
    static float[] OutputGradient(SequenceDataset data, int[] rows, float[] values, int[] shape)
    {
        var output = Tensor.FromArray(values, shape);
        output.RequiresGrad = true;
        OutputLoss(data, rows, output).Backward();
        return output.Grad!.ToArray();
    }

    [Theory]
    [InlineData("adding", "rnn")]
    [InlineData("order", "rnn")]
    [InlineData("copy", "rnn")]
    [InlineData("reber", "rnn")]
    [InlineData("order", "lstm")]
    [InlineData("adding", "gru")]
    public void TheProductIsJTransposeTimesTheLossHessianTimesJ(string kind, string cell)
    {
        // H_L·(J·v) by central differences of autograd's ∂L/∂y, then Jᵀ: an independent route to G·v
        var (model, data) = Case(kind, cell);
        var rows = AllRows(data);
        var curvature = new SequenceCurvature(model, data, rows);
        var v = RandomVector(Length(model), 9);
        var jv = curvature.OutputDirectional(v);
        var y = curvature.Outputs();
        int[] shape = model.Forward(data.BatchInputs(rows)).Shape.ToArray();
        const float h = 1e-3f;
        var plus = OutputGradient(data, rows, y.Zip(jv, (a, d) => a + h * d).ToArray(), shape);
        var minus = OutputGradient(data, rows, y.Zip(jv, (a, d) => a - h * d).ToArray(), shape);
        var hjv = plus.Zip(minus, (a, b) => (a - b) / (2 * h)).ToArray();
        var expected = new float[v.Length];
        curvature.Transposed(hjv, expected);
        var product = new float[v.Length];
        curvature.Product(v, product, 0f);
        AssertClose(expected, product, 2e-3, "G·v");
    }

    [Theory]
    [InlineData("rnn")]
    [InlineData("lstm")]
    [InlineData("gru")]
    public void TheProductIsSymmetricAndPositiveAndStructuralDampingAddsTheStatesCurvature(string cell)
    {
        var (model, data) = Case("order", cell, layers: 1);
        var rows = AllRows(data);
        var curvature = new SequenceCurvature(model, data, rows);
        int n = Length(model);
        var u = RandomVector(n, 1);
        var v = RandomVector(n, 2);
        var gu = new float[n];
        var gv = new float[n];
        curvature.Product(u, gu, 0f);
        curvature.Product(v, gv, 0f);
        double uGv = Dot(u, gv), vGu = Dot(v, gu);
        Assert.True(Math.Abs(uGv - vGu) <= 1e-4 * Math.Abs(uGv) + 1e-7, $"uᵀGv {uGv} vs vᵀGu {vGu}");
        Assert.True(Dot(v, gv) > 0);
        // vᵀSv = Σ‖R(h_t)‖²/B, with R(h) by central differences of the hidden states
        var damped = new float[n];
        curvature.Product(v, damped, 1f);
        double structural = Dot(v, damped) - Dot(v, gv);
        const float h = 1e-3f;
        var plus = StatesAt(model, data, v, h);
        var minus = StatesAt(model, data, v, -h);
        double expected = plus.Zip(minus, (a, b) => Math.Pow((a - b) / (2 * h), 2)).Sum() / rows.Length;
        Assert.Equal(expected, structural, expected * 2e-3);
    }

    static double Dot(float[] a, float[] b) => a.Zip(b, (x, y) => (double)x * y).Sum();

    static float[] StatesAt(SequenceModel model, SequenceDataset data, float[] v, float scale)
    {
        var saved = model.Parameters().Select(p => p.ToArray()).ToArray();
        int offset = 0;
        foreach (var p in model.Parameters())
        {
            for (int i = 0; i < p.Length; i++) p.Span[i] += scale * v[offset + i];
            offset += p.Length;
        }
        using var _ = GradMode.NoGrad();
        var states = model.ForwardWithStates(data.BatchInputs(AllRows(data))).States.ToArray();
        var parameters = model.Parameters();
        for (int k = 0; k < parameters.Count; k++) saved[k].CopyTo(parameters[k].Span);
        return states;
    }

    [Theory]
    [InlineData("peephole-lstm")]
    [InlineData("ln-lstm")]
    [InlineData("cho-gru")]
    [InlineData("leaky")]
    public void CellsWithoutAnROperatorAreRefusedByName(string cell)
    {
        var (model, data) = Case("adding", cell, 1);
        var ex = Assert.Throws<ArgumentException>(() => new SequenceCurvature(model, data, AllRows(data)));
        Assert.Contains($"'{cell}'", ex.Message);
    }

    /// <summary>f(θ) = ½θᵀAθ − bᵀθ with its exact curvature A, for the optimizer alone.</summary>
    sealed class Quadratic : ICurvature
    {
        public readonly double[,] A;
        public readonly double[] B;
        public Tensor Theta { get; }
        public IReadOnlyList<Tensor> Parameters => [Theta];

        public Quadratic(int n)
        {
            var random = new RandomGenerator(21);
            var m = Tensor.RandomNormal(random, [n, n]).ToArray();
            A = new double[n, n];
            for (int i = 0; i < n; i++)
                for (int j = 0; j < n; j++)
                {
                    for (int k = 0; k < n; k++) A[i, j] += (double)m[k * n + i] * m[k * n + j] / n;
                    if (i == j) A[i, j] += 0.1;
                }
            B = Tensor.RandomNormal(random, [n]).ToArray().Select(x => (double)x).ToArray();
            Theta = Tensor.Zeros(n);
            Theta.RequiresGrad = true;
        }

        public void Product(ReadOnlySpan<float> direction, Span<float> result, float structuralWeight)
        {
            for (int i = 0; i < result.Length; i++)
            {
                double sum = 0;
                for (int j = 0; j < direction.Length; j++) sum += A[i, j] * direction[j];
                result[i] = (float)sum;
            }
        }

        public double Value()
        {
            var t = Theta.Span;
            double value = 0;
            for (int i = 0; i < t.Length; i++)
            {
                double row = 0;
                for (int j = 0; j < t.Length; j++) row += A[i, j] * t[j];
                value += 0.5 * t[i] * row - B[i] * t[i];
            }
            return value;
        }

        public void SetGradient()
        {
            var grad = new float[Theta.Length];
            for (int i = 0; i < grad.Length; i++)
            {
                double row = -B[i];
                for (int j = 0; j < grad.Length; j++) row += A[i, j] * Theta.Span[j];
                grad[i] = (float)row;
            }
            Theta.Grad = Tensor.FromArray(grad, grad.Length);
        }
    }

    [Fact]
    public void OnAQuadraticItReachesTheMinimumAndLowersTheDamping()
    {
        var q = new Quadratic(12);
        var hf = new HessianFree([q.Theta], damping: 1f) { Curvature = q, Objective = q.Value };
        double minimum = double.PositiveInfinity;
        for (int step = 0; step < 12; step++)
        {
            q.SetGradient();
            hf.Step();
            Assert.True(hf.LastReport!.After <= hf.LastReport.Before + 1e-9, $"step {step} raised the objective");
            minimum = hf.LastReport.After;
        }
        // the exact minimum −½bᵀA⁻¹b, by solving with the optimizer's own products is circular: use the gradient
        q.SetGradient();
        Assert.True(q.Theta.Grad!.ToArray().Max(Math.Abs) < 1e-3, "the gradient at the end is not near zero");
        Assert.True(hf.Damping < 1e-2, $"λ stayed at {hf.Damping} although the quadratic model is exact");
        Assert.Equal(1.0, hf.LastReport!.Rho, 0.05);
        Assert.Equal(minimum, q.Value(), 9);
    }

    [Fact]
    public void AWarmStartThatPointsUphillIsDroppedAndABrokenCurvatureTakesNoStep()
    {
        // the previous step's direction is uphill once the objective turns around: CG must start from zero
        var q = new Quadratic(8);
        var hf = new HessianFree([q.Theta], damping: 1f, maxIterations: 3) { Curvature = q, Objective = q.Value };
        q.SetGradient();
        hf.Step();
        for (int i = 0; i < q.B.Length; i++) q.B[i] = -q.B[i];
        double before = q.Value();
        q.SetGradient();
        hf.Step();
        Assert.True(q.Value() < before, $"the objective went from {before} to {q.Value()}");
        // products that are not finite: no step at all, whatever the warm start says
        var theta = q.Theta.ToArray();
        hf.Curvature = new Broken(q);
        q.SetGradient();
        hf.Step();
        Assert.Equal(theta, q.Theta.ToArray());
        Assert.Equal(0, hf.LastReport!.Alpha);
    }

    sealed class Broken(Quadratic inner) : ICurvature
    {
        public IReadOnlyList<Tensor> Parameters => inner.Parameters;
        public void Product(ReadOnlySpan<float> direction, Span<float> result, float structuralWeight) =>
            result.Fill(float.NaN);
    }

    static (SequenceTask Task, SequenceModel Model) AddingTask(ulong seed, CellKind cell = CellKind.Rnn)
    {
        var random = new RandomGenerator(seed);
        var train = SyntheticTasks.Adding(random, 8, 256);
        var model = new SequenceModel(new SequenceModelConfig(cell, train.Features, 12, 1),
            new RandomGenerator(seed));
        return (new SequenceTask(model, train, SyntheticTasks.Adding(random, 8, 64), 128), model);
    }

    TrainerOptions Options(string name) => new()
    {
        Epochs = 10, Seed = 5, LogEvery = 1, OutputDirectory = Path.Combine(root, name),
    };

    static HessianFree Optimizer(SequenceModel model) =>
        new(model.Parameters(), damping: 1f, structuralDamping: 0.3f, maxIterations: 40, curvatureFraction: 0.5);

    [Theory]
    [InlineData(CellKind.Rnn)]
    [InlineData(CellKind.Lstm)]
    [InlineData(CellKind.Gru)]
    public void TheTrainerRunsItOnARecurrentNetworkWhichLearnsTheAddingProblem(CellKind cell)
    {
        var (task, model) = AddingTask(1, cell);
        var before = task.Metrics(SyntheticTasks.Adding(new RandomGenerator(99), 8, 256))["loss"];
        var result = new Trainer<int[]>(task, Optimizer(model), Options($"run-{cell}")).Fit();
        Assert.Equal(TrainingOutcome.Completed, result.Outcome);
        using (model.Evaluating())
        {
            double after = task.Metrics(SyntheticTasks.Adding(new RandomGenerator(99), 8, 256))["loss"];
            Assert.True(after < SyntheticTasks.AddingBaseline / 10,
                $"MSE {before:F4} → {after:F4} after 20 Hessian-free steps "
                + $"(baseline {SyntheticTasks.AddingBaseline:F4})");
        }
    }

    [Fact]
    public void PreconditionedItLearnsTheAddingProblemToo()
    {
        var (task, model) = AddingTask(1);
        var hf = new HessianFree(model.Parameters(), damping: 1f, structuralDamping: 0.3f, maxIterations: 40,
            curvatureFraction: 0.5, preconditioned: true);
        Assert.Equal(TrainingOutcome.Completed, new Trainer<int[]>(task, hf, Options("preconditioned")).Fit().Outcome);
        using (model.Evaluating())
        {
            double after = task.Metrics(SyntheticTasks.Adding(new RandomGenerator(99), 8, 256))["loss"];
            Assert.True(after < SyntheticTasks.AddingBaseline / 10, $"MSE {after:F4} after 20 preconditioned steps "
                + $"(baseline {SyntheticTasks.AddingBaseline:F4})");
        }
    }

    [Fact]
    public void AResumedRunContinuesBitIdenticallyWithItsDampingAndDirection()
    {
        var (straightTask, straight) = AddingTask(2);
        new Trainer<int[]>(straightTask, Optimizer(straight), Options("straight")).Fit();

        var (firstTask, first) = AddingTask(2);
        using var cancel = new CancellationTokenSource();
        var interrupted = new Trainer<int[]>(firstTask, Optimizer(first), Options("resumed"), null,
            new StopAfter(3, cancel)).Fit(cancel.Token);
        Assert.Equal(TrainingOutcome.Interrupted, interrupted.Outcome);

        var (secondTask, second) = AddingTask(2);
        var trainer = new Trainer<int[]>(secondTask, Optimizer(second), Options("resumed"));
        trainer.Resume(Path.Combine(root, "resumed", "last"));
        trainer.Fit();
        Assert.Equal(straight.Parameters().SelectMany(p => p.ToArray()),
            second.Parameters().SelectMany(p => p.ToArray()));
    }

    sealed class StopAfter(long step, CancellationTokenSource source) : ITrainingObserver
    {
        public void OnStart(long s, long total) { }
        public void OnStep(StepRecord record) { if (record.Step == step) source.Cancel(); }
        public void OnEvaluation(EvaluationRecord record) { }
        public void OnMessage(string message) { }
    }

    [Fact]
    public void TheTrainerRefusesItWithoutCurvatureOrWithAccumulation()
    {
        var (task, model) = AddingTask(3);
        var accumulating = Assert.Throws<ArgumentException>(() =>
            new Trainer<int[]>(task, Optimizer(model), Options("a") with { AccumulationSteps = 2 }));
        Assert.Contains("does not accumulate", accumulating.Message);
        var plain = new PlainTask(task);
        var ex = Assert.Throws<ArgumentException>(() => new Trainer<int[]>(plain, Optimizer(model), Options("b")));
        Assert.Contains("Gauss–Newton", ex.Message);
    }

    sealed class PlainTask(SequenceTask inner) : ITrainingTask<int[]>
    {
        public Module Model => inner.Model;
        public int BatchesPerEpoch => inner.BatchesPerEpoch;
        public IEnumerable<int[]> Batches(int epoch, RandomGenerator shuffle) => inner.Batches(epoch, shuffle);
        public Tensor Loss(int[] batch, TrainingContext context) => inner.Loss(batch, context);
    }
}

using System.Globalization;
using Recur.Autograd;

namespace Recur.Optim;

/// <summary>
/// The curvature of one batch's objective for <see cref="HessianFree"/>: products of the Gauss–Newton matrix
/// G = Jᵀ·H_L·J (J the Jacobian of the model's outputs with respect to <see cref="Parameters"/>, H_L the Hessian of the
/// loss with respect to those outputs, both on a curvature mini-batch) with a direction, plus the structural damping
/// term S·v = J_hᵀ·J_h·v of Martens &amp; Sutskever (2011), J_h the Jacobian of the recurrent hidden states.
/// Vectors are the parameters' values laid end to end in the order of <see cref="Parameters"/>.
/// </summary>
public interface ICurvature
{
    /// <summary>The parameters the vectors cover, in their order.</summary>
    IReadOnlyList<Tensor> Parameters { get; }

    /// <summary>
    /// Writes G·<paramref name="direction"/> + <paramref name="structuralWeight"/>·S·<paramref name="direction"/> to
    /// <paramref name="result"/>, at the parameters' current values.
    /// </summary>
    void Product(ReadOnlySpan<float> direction, Span<float> result, float structuralWeight);

    /// <summary>
    /// Writes the diagonal of the empirical Fisher matrix, (1/N)·Σᵢ ∇fᵢ ⊙ ∇fᵢ over the N examples of the curvature
    /// batch (fᵢ example i's loss), to <paramref name="result"/> and returns true; false when the curvature cannot
    /// (then <see cref="HessianFree.Preconditioned"/> steps go unpreconditioned). Martens (2010) builds his
    /// preconditioner from it. Hessian-free calls it once a step, before its no-gradient update, so it may record a
    /// tape.
    /// </summary>
    bool GradientSquares(Span<float> result) => false;
}

/// <summary>
/// Hessian-free optimisation (Martens 2010; Martens &amp; Sutskever 2011): each step minimises the quadratic model
/// q(p) = gᵀp + ½pᵀ(G + λI + λμS)p by conjugate gradient, with G the Gauss–Newton matrix of <see cref="Curvature"/>
/// (never formed — only its products), starting from ζ = 0.95 times the previous step's solution, stopping on Martens'
/// relative-progress test (k = max(10, i/10), ε = 5·10⁻⁴) or after <see cref="MaxIterations"/>. CG backtracking keeps
/// the iterates at i = ⌈1.3ʲ⌉ and takes the last whose objective is not beaten by the one before it;
/// Levenberg–Marquardt damping multiplies λ by 3/2 when the reduction ratio ρ = (f(θ+p) − f(θ))/q(p) (q without
/// damping) is below ¼ and by ⅔ above ¾; a backtracking line search (α ← 0.8α while the Armijo test with c = 10⁻²
/// fails, at most 60 times) guards the step, which is θ ← θ + lr·α·p. Call <see cref="Step"/> after a backward pass
/// of the batch's objective, with <see cref="Curvature"/> and <see cref="Objective"/> set for that batch; the
/// trainer does that for tasks that provide curvature. With <see cref="Preconditioned"/>, CG is preconditioned by
/// Martens' (2010) diagonal M = (diag(F) + λ)^ξ, ξ = ¾, F the empirical Fisher of the curvature batch
/// (<see cref="ICurvature.GradientSquares"/>): the quadratic is the same, only its conditioning for CG changes.
/// </summary>
public sealed class HessianFree : Optimizer
{
    const double Decay = 0.95, SaveRate = 1.3, ProgressTolerance = 5e-4, Armijo = 1e-2, Shrink = 0.8, Xi = 0.75;
    const int LineSearchTries = 60;

    /// <summary>The damping λ now (Levenberg–Marquardt adapts it after every step).</summary>
    public double Damping { get; private set; }

    /// <summary>The structural damping μ: the hidden states' term enters the quadratic as λμS.</summary>
    public float StructuralDamping { get; }

    /// <summary>At most this many conjugate-gradient iterations per step.</summary>
    public int MaxIterations { get; }

    /// <summary>The share of each batch the curvature products use (Martens' smaller curvature mini-batch).</summary>
    public double CurvatureFraction { get; }

    /// <summary>The curvature of the current batch; set before each <see cref="Step"/>.</summary>
    public ICurvature? Curvature { get; set; }

    /// <summary>The objective f(θ) of the current batch at the parameters' current values, without recording a
    /// tape; set before each <see cref="Step"/> (the line search and the damping rule call it).</summary>
    public Func<double>? Objective { get; set; }

    /// <summary>Whether CG is preconditioned by Martens' diagonal (when the curvature provides gradient
    /// squares).</summary>
    public bool Preconditioned { get; }

    /// <summary>What the last step did, for logs and tests.</summary>
    public HessianFreeReport? LastReport { get; private set; }

    /// <inheritdoc/>
    public override string Name => "HessianFree";

    /// <summary>
    /// Creates the optimizer. <paramref name="learningRate"/> scales the step CG and the line search found (1 takes
    /// it whole); <paramref name="damping"/> is the initial λ; <paramref name="structuralDamping"/> is μ (0: none);
    /// <paramref name="curvatureFraction"/> in (0, 1] is the share of each batch for curvature products;
    /// <paramref name="preconditioned"/> turns on Martens' diagonal preconditioner.
    /// </summary>
    public HessianFree(IEnumerable<Tensor> parameters, float learningRate = 1f, float damping = 1f,
        float structuralDamping = 0f, int maxIterations = 250, double curvatureFraction = 1,
        bool preconditioned = false)
        : base(parameters, learningRate, "cg_direction")
    {
        Preconditioned = preconditioned;
        Require(nameof(damping), damping, float.Epsilon);
        Require(nameof(structuralDamping), structuralDamping, 0f);
        if (maxIterations < 1)
            throw new ArgumentOutOfRangeException(nameof(maxIterations), maxIterations,
                "HessianFree: at least one CG iteration per step.");
        if (!(curvatureFraction > 0 && curvatureFraction <= 1))
            throw new ArgumentOutOfRangeException(nameof(curvatureFraction), curvatureFraction,
                "HessianFree: the curvature fraction must be in (0, 1].");
        (Damping, StructuralDamping, MaxIterations, CurvatureFraction) =
            (damping, structuralDamping, maxIterations, curvatureFraction);
    }

    /// <inheritdoc/>
    protected override void Update(int index, Span<float> parameter, ReadOnlySpan<float> gradient) =>
        throw new InvalidOperationException("HessianFree updates every parameter at once in Step.");

    /// <summary>One Hessian-free step from the parameters' gradients (see the class summary).</summary>
    public override void Step()
    {
        var curvature = Curvature ?? throw new InvalidOperationException(
            "HessianFree: set Curvature (and Objective) for the batch before Step; the trainer does this for tasks "
            + "that implement ICurvatureTask.");
        var objective = Objective ?? throw new InvalidOperationException("HessianFree: set Objective before Step.");
        var layout = Layout(curvature);
        int n = layout[^1].Offset + layout[^1].Tensor.Length;
        // the gradient squares may run the task's loss on the tape: before the update's no-gradient scope
        var squares = Preconditioned ? new float[n] : null;
        if (squares != null && !curvature.GradientSquares(squares)) squares = null;
        using var _ = GradMode.NoGrad();
        var g = new float[n];
        var x = new float[n];
        foreach (var (tensor, index, offset) in layout)
        {
            tensor.Grad?.Span.CopyTo(g.AsSpan(offset, tensor.Length));
            if (HasBuffer("cg_direction", index))
            {
                var previous = Buffer("cg_direction", index);
                for (int i = 0; i < previous.Length; i++) x[offset + i] = (float)(Decay * previous[i]);
            }
        }
        double lambda = Damping;
        void Apply(ReadOnlySpan<float> v, Span<float> result)
        {
            curvature.Product(v, result, (float)(lambda * StructuralDamping));
            for (int i = 0; i < v.Length; i++) result[i] += (float)(lambda * v[i]);
        }
        if (squares != null)
            for (int i = 0; i < n; i++) squares[i] = (float)Math.Pow(squares[i] + lambda, Xi); // M = (diag F + λ)^ξ
        var saved = ConjugateGradient(Apply, g, x, squares);
        int iterations = saved[^1].Iteration;
        foreach (var (tensor, index, offset) in layout)
            x.AsSpan(offset, tensor.Length).CopyTo(Buffer("cg_direction", index));

        var start = layout.Select(e => e.Tensor.Span.ToArray()).ToArray();
        void SetParameters(ReadOnlySpan<float> step, double scale)
        {
            for (int k = 0; k < layout.Length; k++)
            {
                var (tensor, _, offset) = layout[k];
                var span = tensor.Span;
                for (int i = 0; i < span.Length; i++) span[i] = (float)(start[k][i] + scale * step[offset + i]);
            }
        }
        double F()
        {
            double value = objective();
            return double.IsNaN(value) ? double.PositiveInfinity : value;
        }
        double f0 = F();
        // CG backtracking: from the last saved iterate back while an earlier one does better
        int chosen = saved.Count - 1;
        SetParameters(saved[chosen].X, 1);
        double best = F();
        while (chosen > 0)
        {
            SetParameters(saved[chosen - 1].X, 1);
            double earlier = F();
            if (!(earlier < best)) break;
            (chosen, best) = (chosen - 1, earlier);
        }
        var p = saved[chosen].X;
        var gp = new float[n];
        SetParameters(p, 0);
        curvature.Product(p, gp, 0f);
        double quadratic = Dot(g, p) + 0.5 * Dot(p, gp); // q(p) without the damping terms
        double rho = quadratic < 0 ? (best - f0) / quadratic : double.NegativeInfinity;
        if (rho < 0.25) Damping = lambda * 1.5;
        else if (rho > 0.75) Damping = lambda * 2 / 3;
        double slope = Dot(g, p), alpha = 1, value = best;
        bool descent = slope < 0; // when CG made no progress there is nothing to search along: no step
        bool Accepted() => descent && value <= f0 + Armijo * alpha * slope;
        for (int tries = 0; descent && !Accepted() && tries < LineSearchTries; tries++)
        {
            alpha *= Shrink;
            SetParameters(p, alpha);
            value = F();
        }
        if (!Accepted()) (alpha, value) = (0, f0);
        SetParameters(p, alpha * LearningRate);
        foreach (var (_, index, _) in layout) StepCounts[index]++;
        LastReport = new HessianFreeReport(f0, value, iterations, saved[chosen].Iteration, rho, lambda, alpha);
    }

    (Tensor Tensor, int Index, int Offset)[] Layout(ICurvature curvature)
    {
        var indices = new Dictionary<Tensor, int>(ReferenceEqualityComparer.Instance);
        for (int i = 0; i < Parameters.Count; i++) indices[Parameters[i]] = i;
        if (curvature.Parameters.Count != Parameters.Count || curvature.Parameters.Any(p => !indices.ContainsKey(p)))
            throw new ArgumentException($"HessianFree: the curvature covers {curvature.Parameters.Count} parameters "
                + $"that are not the optimizer's {Parameters.Count}.");
        var layout = new (Tensor, int, int)[Parameters.Count];
        int offset = 0;
        for (int k = 0; k < layout.Length; k++)
        {
            var tensor = curvature.Parameters[k];
            layout[k] = (tensor, indices[tensor], offset);
            offset += tensor.Length;
        }
        return layout;
    }

    /// <summary>
    /// Minimises ½xᵀAx + gᵀx from <paramref name="x"/> (updated in place), returning the iterates kept for
    /// backtracking (each with φ = ½xᵀAx + gᵀx), the last one where CG stopped; with a diagonal
    /// <paramref name="preconditioner"/> M, preconditioned CG (the residual's search directions taken in M⁻¹).
    /// </summary>
    internal List<(float[] X, double Phi, int Iteration)> ConjugateGradient(ApplyMatrix apply, float[] g, float[] x,
        float[]? preconditioner = null)
    {
        int n = g.Length;
        var ax = new float[n];
        var r = new float[n];
        var z = new float[n];
        apply(x, ax);
        for (int i = 0; i < n; i++) r[i] = -g[i] - ax[i]; // residual of Ax = −g
        void Precondition()
        {
            for (int i = 0; i < n; i++) z[i] = preconditioner is null ? r[i] : r[i] / preconditioner[i];
        }
        Precondition();
        var p = (float[])z.Clone();
        var ap = new float[n];
        double rr = Dot(r, z);
        // φ(x) = ½xᵀAx + gᵀx = −½xᵀ(r − g), from the residual without another product
        double Phi() => -0.5 * (Dot(x, r) - Dot(x, g));
        if (!(Phi() <= 0))
        {
            // the previous step's direction is worse than none on this batch's model: start from zero instead
            Array.Clear(x);
            for (int i = 0; i < n; i++) r[i] = -g[i];
            Precondition();
            z.CopyTo(p, 0);
            rr = Dot(r, z);
        }
        var saved = new List<(float[], double, int)>();
        var history = new List<double> { Phi() };
        double nextSave = 1;
        int iteration = 0;
        while (iteration < MaxIterations && rr > 0)
        {
            apply(p, ap);
            double curvature = Dot(p, ap);
            if (!(curvature > 0)) break;
            double step = rr / curvature;
            for (int i = 0; i < n; i++)
            {
                x[i] += (float)(step * p[i]);
                r[i] -= (float)(step * ap[i]);
            }
            iteration++;
            Precondition();
            double next = Dot(r, z), phi = Phi();
            history.Add(phi);
            for (int i = 0; i < n; i++) p[i] = (float)(z[i] + next / rr * p[i]);
            rr = next;
            if (iteration >= (int)Math.Ceiling(nextSave))
            {
                saved.Add(((float[])x.Clone(), phi, iteration));
                while (nextSave <= iteration) nextSave *= SaveRate;
            }
            int k = Math.Max(10, iteration / 10);
            if (iteration > k && phi < 0 && (phi - history[iteration - k]) / phi < k * ProgressTolerance) break;
        }
        if (saved.Count == 0 || saved[^1].Item3 != iteration) saved.Add(((float[])x.Clone(), history[^1], iteration));
        return saved;
    }

    internal delegate void ApplyMatrix(ReadOnlySpan<float> v, Span<float> result);

    static double Dot(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        double sum = 0;
        for (int i = 0; i < a.Length; i++) sum += (double)a[i] * b[i];
        return sum;
    }

    /// <inheritdoc/>
    protected override void WriteState(IDictionary<string, string> metadata) =>
        metadata["damping"] = Damping.ToString("R", CultureInfo.InvariantCulture);

    /// <inheritdoc/>
    protected override void ReadState(IReadOnlyDictionary<string, string> metadata, string path)
    {
        if (!metadata.TryGetValue("damping", out var text)
            || !double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double damping)
            || !(damping > 0) || double.IsInfinity(damping))
            throw new InvalidDataException($"{path}: HessianFree state lacks a positive damping.");
        Damping = damping;
    }
}

/// <summary>
/// One Hessian-free step: the objective before and after, the CG iterations run and the one taken after
/// backtracking, the reduction ratio ρ, the damping λ the step used, and the line search's α (0: no step).
/// </summary>
public sealed record HessianFreeReport(double Before, double After, int Iterations, int ChosenIteration, double Rho,
    double Damping, double Alpha);

using System.Numerics.Tensors;

namespace Recur.Classification;

/// <summary>
/// Limited-memory BFGS (Nocedal 1980; Nocedal &amp; Wright, Numerical Optimization, algorithm 7.4) for the smooth,
/// convex objectives of the linear text classifiers: the two-loop recursion over the last <c>memory</c> pairs of
/// steps and gradient changes, a backtracking line search that accepts the first step meeting Armijo's condition, and
/// pairs with no positive curvature left out. Deterministic: the same start gives the same answer.
/// </summary>
static class Lbfgs
{
    /// <summary>
    /// Minimises <paramref name="objective"/>, which writes its gradient at x into the second argument and returns the
    /// value, from <paramref name="start"/> (changed in place and returned). Stops when the largest gradient component
    /// is at most <paramref name="tolerance"/> × max(1, |f|), when a step no longer lowers f measurably, or after
    /// <paramref name="maxIterations"/>.
    /// </summary>
    public static (double[] Point, double Value, int Iterations) Minimise(Func<double[], double[], double> objective,
        double[] start, int maxIterations = 1000, double tolerance = 1e-8, int memory = 10)
    {
        int n = start.Length;
        var x = start;
        var gradient = new double[n];
        double value = objective(x, gradient);
        if (!double.IsFinite(value)) throw new ArgumentException("L-BFGS: the objective is not finite at the start.");
        var steps = new double[memory][];
        var changes = new double[memory][];
        var rho = new double[memory];
        var alpha = new double[memory];
        int stored = 0, newest = -1;
        var direction = new double[n];
        var trial = new double[n];
        var trialGradient = new double[n];
        var newStep = new double[n];
        var newChange = new double[n];
        int iteration = 0;
        for (; iteration < maxIterations; iteration++)
        {
            if (MaxAbs(gradient) <= tolerance * Math.Max(1, Math.Abs(value))) break;
            // two-loop recursion: direction = −H·g with H the L-BFGS inverse-Hessian estimate
            for (int i = 0; i < n; i++) direction[i] = -gradient[i];
            for (int k = 0; k < stored; k++)
            {
                int slot = (newest - k + memory) % memory;
                alpha[slot] = rho[slot] * Dot(steps[slot], direction);
                Axpy(-alpha[slot], changes[slot], direction);
            }
            double scale = stored == 0 ? 1 / Math.Max(Norm(gradient), 1e-300)
                : Dot(steps[newest], changes[newest]) / Dot(changes[newest], changes[newest]);
            for (int i = 0; i < n; i++) direction[i] *= scale;
            for (int k = stored - 1; k >= 0; k--)
            {
                int slot = (newest - k + memory) % memory;
                double beta = rho[slot] * Dot(changes[slot], direction);
                Axpy(alpha[slot] - beta, steps[slot], direction);
            }
            double slope = Dot(gradient, direction);
            if (slope >= 0)
            {
                // not a descent direction (rounding): restart from steepest descent
                stored = 0;
                for (int i = 0; i < n; i++) direction[i] = -gradient[i] / Math.Max(Norm(gradient), 1e-300);
                slope = Dot(gradient, direction);
            }
            double step = 1, trialValue = double.NaN;
            bool accepted = false;
            for (int halving = 0; halving < 60; halving++, step *= 0.5)
            {
                for (int i = 0; i < n; i++) trial[i] = x[i] + step * direction[i];
                trialValue = objective(trial, trialGradient);
                if (double.IsFinite(trialValue) && trialValue <= value
                    + 1e-4 * step * slope) { accepted = true; break; }
            }
            if (!accepted) break;
            for (int i = 0; i < n; i++)
            {
                newStep[i] = trial[i] - x[i];
                newChange[i] = trialGradient[i] - gradient[i];
            }
            double curvature = Dot(newStep, newChange);
            if (curvature > 1e-12 * Dot(newChange, newChange))
            {
                // keep the pair (replacing the oldest when memory is full); pairs without curvature are skipped
                newest = (newest + 1) % memory;
                (steps[newest], newStep) = (newStep, steps[newest] ?? new double[n]);
                (changes[newest], newChange) = (newChange, changes[newest] ?? new double[n]);
                rho[newest] = 1 / curvature;
                stored = Math.Min(stored + 1, memory);
            }
            double decrease = value - trialValue;
            (x, trial) = (trial, x);
            (gradient, trialGradient) = (trialGradient, gradient);
            value = trialValue;
            if (decrease <= 1e-15 * Math.Max(1, Math.Abs(value))) { iteration++; break; }
        }
        if (!ReferenceEquals(x, start)) Array.Copy(x, start, n);
        return (start, value, iteration);
    }

    static double Dot(double[] a, double[] b) => TensorPrimitives.Dot<double>(a, b);

    static double Norm(double[] a) => TensorPrimitives.Norm<double>(a);

    static double MaxAbs(double[] a) => a.Length == 0 ? 0 : Math.Abs(TensorPrimitives.MaxMagnitude<double>(a));

    /// <summary>y ← y + a·x.</summary>
    static void Axpy(double a, double[] x, double[] y) => TensorPrimitives.MultiplyAdd<double>(x, a, y, y);
}

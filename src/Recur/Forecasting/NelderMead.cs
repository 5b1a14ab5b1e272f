namespace Recur.Forecasting;

/// <summary>
/// Derivative-free minimisation by the Nelder–Mead simplex (reflection 1, expansion 2, contraction ½, shrink ½), the
/// optimiser the exponential-smoothing literature uses for its few smoothing parameters and initial states.
/// Deterministic: the same start gives the same answer.
/// </summary>
static class NelderMead
{
    /// <summary>
    /// Minimises <paramref name="objective"/> from <paramref name="start"/> with initial steps <paramref
    /// name="steps"/>;
    /// stops when the simplex's values agree to <paramref name="tolerance"/> (relative) or after
    /// <paramref name="maxEvaluations"/>. Non-finite values count as +∞ (an infeasible point).
    /// </summary>
    public static (double[] Point, double Value) Minimise(Func<double[], double> objective, double[] start,
        double[] steps, int maxEvaluations = 4000, double tolerance = 1e-10)
    {
        int n = start.Length;
        double Evaluate(double[] x)
        {
            double v = objective(x);
            return double.IsFinite(v) ? v : double.PositiveInfinity;
        }
        var simplex = new double[n + 1][];
        var values = new double[n + 1];
        for (int i = 0; i <= n; i++)
        {
            simplex[i] = (double[])start.Clone();
            if (i > 0) simplex[i][i - 1] += steps[i - 1];
            values[i] = Evaluate(simplex[i]);
        }
        int evaluations = n + 1;
        var order = new int[n + 1];
        var centroid = new double[n];
        var trial = new double[n];
        var second = new double[n];
        while (evaluations < maxEvaluations)
        {
            for (int i = 0; i <= n; i++) order[i] = i;
            Array.Sort(order, (a, b) => values[a].CompareTo(values[b]) is var c && c != 0 ? c : a.CompareTo(b));
            int best = order[0], worst = order[n], nextWorst = order[n - 1];
            double spread = Math.Abs(values[worst] - values[best]);
            if (double.IsFinite(values[worst]) && spread <= tolerance * (Math.Abs(values[best]) + tolerance)) break;
            Array.Clear(centroid);
            for (int i = 0; i <= n; i++)
            {
                if (i == worst) continue;
                for (int j = 0; j < n; j++) centroid[j] += simplex[i][j] / n;
            }
            for (int j = 0; j < n; j++) trial[j] = centroid[j] + (centroid[j] - simplex[worst][j]);
            double reflected = Evaluate(trial);
            evaluations++;
            if (reflected < values[best])
            {
                for (int j = 0; j < n; j++) second[j] = centroid[j] + 2 * (centroid[j] - simplex[worst][j]);
                double expanded = Evaluate(second);
                evaluations++;
                if (expanded < reflected) Replace(worst, second, expanded);
                else Replace(worst, trial, reflected);
                continue;
            }
            if (reflected < values[nextWorst])
            {
                Replace(worst, trial, reflected);
                continue;
            }
            // contraction: outside when the reflection improved on the worst point, inside otherwise
            bool outside = reflected < values[worst];
            for (int j = 0; j < n; j++)
                second[j] = outside ? centroid[j] + 0.5 * (trial[j] - centroid[j])
                    : centroid[j] + 0.5 * (simplex[worst][j] - centroid[j]);
            double contracted = Evaluate(second);
            evaluations++;
            if (contracted < Math.Min(reflected, values[worst]))
            {
                Replace(worst, second, contracted);
                continue;
            }
            for (int i = 0; i <= n; i++)
            {
                if (i == best) continue;
                for (int j = 0; j < n; j++) simplex[i][j] = simplex[best][j] + 0.5 * (simplex[i][j] - simplex[best][j]);
                values[i] = Evaluate(simplex[i]);
                evaluations++;
            }
        }
        int argmin = 0;
        for (int i = 1; i <= n; i++) if (values[i] < values[argmin]) argmin = i;
        return (simplex[argmin], values[argmin]);

        void Replace(int index, double[] point, double value)
        {
            Array.Copy(point, simplex[index], n);
            values[index] = value;
        }
    }
}

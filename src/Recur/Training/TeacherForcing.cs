namespace Recur.Training;

/// <summary>Teacher-forcing ratio schedules for <see cref="TrainerOptions.TeacherForcing"/> (scheduled sampling, Bengio
/// et al. 2015).</summary>
public static class TeacherForcing
{
    /// <summary>Always the same ratio.</summary>
    public static Func<long, double> Constant(double ratio) => _ => Math.Clamp(ratio, 0, 1);

    /// <summary>Linear decay from <paramref name="start"/> to <paramref name="end"/> over <paramref name="steps"/>
    /// steps.</summary>
    public static Func<long, double> Linear(double start, double end, long steps) =>
        step => step >= steps ? end : start + (end - start) * step / Math.Max(1, steps);

    /// <summary>Inverse-sigmoid decay k / (k + exp(step / k)) (k ≥ 1; larger k decays later).</summary>
    public static Func<long, double> InverseSigmoid(double k) => step => k / (k + Math.Exp(step / k));
}

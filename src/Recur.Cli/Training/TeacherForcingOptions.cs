using System.CommandLine;
using Recur.Training;

namespace Recur.Cli.Training;

/// <summary><c>--teacher-forcing</c> and <c>--teacher-forcing-end</c> of the decoder verbs (translation, captioning):
/// a constant ratio, or scheduled sampling that decays linearly over the run.</summary>
sealed class TeacherForcingOptions
{
    readonly Option<double> start = new("--teacher-forcing")
    {
        Description = "Teacher-forcing ratio at the start.", DefaultValueFactory = _ => 1.0,
    };

    readonly Option<double?> end = new("--teacher-forcing-end")
    {
        Description = "Scheduled sampling: the ratio decays linearly to this by the last step (default: constant).",
    };

    public void AddTo(Command command)
    {
        command.Options.Add(start);
        command.Options.Add(end);
    }

    /// <summary><paramref name="options"/> with the ratio schedule over <paramref name="steps"/> optimizer steps.
    /// </summary>
    public TrainerOptions Apply(ParseResult r, TrainerOptions options, long steps)
    {
        double first = r.GetValue(start);
        if (first is < 0 or > 1 || r.GetValue(end) is double e && e is < 0 or > 1)
            throw new UsageException("teacher-forcing ratios are in [0, 1].");
        return options with
        {
            TeacherForcing = r.GetValue(end) is double last ? TeacherForcing.Linear(first, last, steps)
                : TeacherForcing.Constant(first),
        };
    }
}

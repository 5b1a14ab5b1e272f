using System.CommandLine;
using System.Globalization;

namespace Recur.Cli;

/// <summary>
/// The ranges of every numeric option of every verb, checked in one place when the command line is parsed, so a value
/// out of range is a usage error (exit code 2) with one message style — before any file is read or any model built.
/// Options whose 0 means "off" or "all" are non-negative; verbs still check what depends on other options.
/// </summary>
static class OptionRules
{
    static readonly HashSet<string> Positive =
    [
        "--hidden", "--embed", "--layers", "--epochs", "--batch", "--threads", "--window", "--horizon", "--beam",
            "--bptt",
        "--char-hidden", "--char-embed", "--steps", "--train-size", "--valid-size", "--log-every", "--accumulate",
            "--cd",
        "--ais-runs", "--neurons", "--samples", "--season", "--test-size", "--units", "--show", "--points", "--trials",
        "--probes", "--max-sweeps", "--ensemble", "--vocab-size", "--min-frequency", "--count", "--lr", "--seconds",
        "--time-limit", "--max-load", "--repeat", "--conv-layers", "--conv-channels", "--mels", "--utterances",
            "--frames", "--damping", "--cg-iterations", "--rounds",
    ];

    static readonly HashSet<string> NonNegative =
    [
        "--patience", "--warmup", "--validate-every", "--chrono", "--difference", "--ar-order", "--top-k",
            "--ais-steps",
        "--gibbs", "--casing-embed", "--limit", "--validation-size", "--weight-decay", "--temperature",
            "--length-penalty",
        "--clip-norm", "--valid-limit", "--structural-damping", "--gradient-regulariser",
    ];

    /// <summary>Fractions in [0, 1).</summary>
    static readonly HashSet<string> Fraction = ["--dropout", "--word-dropout"];

    /// <summary>Adds the range check of every known numeric option below <paramref name="command"/>.</summary>
    public static void Apply(Command command)
    {
        foreach (var option in command.Options)
        {
            string name = option.Name;
            if (Positive.Contains(name)) Check(option, v => v > 0, "a positive number");
            else if (NonNegative.Contains(name)) Check(option, v => v >= 0, "zero or more");
            else if (Fraction.Contains(name)) Check(option, v => v >= 0 && v < 1, "in [0, 1)");
        }
        foreach (var sub in command.Subcommands) Apply(sub);
    }

    static void Check(Option option, Func<double, bool> valid, string what)
    {
        option.Validators.Add(result =>
        {
            if (result.Tokens.Count == 0) return; // the default, which the verb chose
            string text = result.Tokens[^1].Value;
            if (double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double value)
                && (!valid(value) || !double.IsFinite(value)))
                result.AddError($"{option.Name} must be {what}, got {text}.");
        });
    }
}

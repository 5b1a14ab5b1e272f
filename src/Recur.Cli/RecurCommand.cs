using System.CommandLine;

namespace Recur.Cli;

/// <summary>The <c>recur</c> root command with every verb.</summary>
static class RecurCommand
{
    public static RootCommand Create()
    {
        var root = new RootCommand("Recur: recurrent neural networks for .NET — train, evaluate and inspect RNN, "
            + "LSTM and GRU models.");
        root.Subcommands.Add(DemoCommand.Create());
        root.Subcommands.Add(BenchCommand.Create());
        root.Subcommands.Add(LayerCommand.Create());
        root.Subcommands.Add(TaskCommand.Create());
        root.Subcommands.Add(InspectCommand.Create());
        root.Subcommands.Add(HopfieldCommand.Create());
        root.Subcommands.Add(RbmCommand.Create());
        root.Subcommands.Add(ForecastCommand.Create());
        root.Subcommands.Add(ClassifyCommand.Create());
        root.Subcommands.Add(LmCommand.Create());
        root.Subcommands.Add(TagCommand.Create());
        root.Subcommands.Add(TranslateCommand.Create());
        root.Subcommands.Add(SpeechCommand.Create());
        root.Subcommands.Add(WaveNetCommand.Create());
        root.Subcommands.Add(MemnetCommand.Create());
        root.Subcommands.Add(NtmCommand.Create());
        root.Subcommands.Add(CaptionCommand.Create());
        root.Subcommands.Add(ExportCommand.Create());
        root.Subcommands.Add(QuantizeCommand.Create());
        root.Subcommands.Add(ExploreCommand.Create());
        OptionRules.Apply(root);
        return root;
    }

    /// <summary>
    /// Runs one command line and returns its exit code: 0 done, 1 the work failed (bad data, a refused file), 2 a usage
    /// mistake — an unknown or repeated option, a value of the wrong type, a missing required option — and 130 when a
    /// signal stopped training after saving a checkpoint.
    /// </summary>
    public static int Run(params string[] args)
    {
        var parsed = Create().Parse(args);
        if (parsed.Errors.Count == 0) return parsed.Invoke();
        bool help = args.Any(a => a is "-h" or "--help" or "-?");
        if (help) return parsed.Invoke();
        foreach (var error in parsed.Errors) Console.Error.WriteLine($"recur: {error.Message}");
        Console.Error.WriteLine($"recur: see `recur {string.Join(' ', CommandPath(parsed.CommandResult))} --help`.");
        return 2;
    }

    static IEnumerable<string> CommandPath(System.CommandLine.Parsing.CommandResult? result)
    {
        var names = new Stack<string>();
        for (var r = result; r?.Parent is System.CommandLine.Parsing.CommandResult parent; r = parent) names.Push(
            r.Command.Name);
        return names;
    }
}

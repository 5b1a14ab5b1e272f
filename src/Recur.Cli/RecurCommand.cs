using System.CommandLine;

namespace Recur.Cli;

/// <summary>The <c>recur</c> root command with every verb.</summary>
static class RecurCommand
{
    public static RootCommand Create()
    {
        var root = new RootCommand("Recur: recurrent neural networks for .NET — train, evaluate and inspect RNN, LSTM and GRU models.");
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
        return root;
    }

    /// <summary>Runs one command line and returns its exit code (for tests and embedding).</summary>
    public static int Run(params string[] args) => Create().Parse(args).Invoke();
}

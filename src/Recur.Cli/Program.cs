using System.CommandLine;
using Recur.Cli;

var root = new RootCommand("Recur: recurrent neural networks for .NET — train, evaluate and inspect RNN, LSTM and GRU models.");
root.Subcommands.Add(DemoCommand.Create());
root.Subcommands.Add(BenchCommand.Create());
root.Subcommands.Add(LayerCommand.Create());
root.Subcommands.Add(TaskCommand.Create());
return root.Parse(args).Invoke();

using Recur.Cli;

return RecurCommand.Run(args);

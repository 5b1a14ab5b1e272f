using Recur.Cli;

return RecurCommand.Create().Parse(args).Invoke();

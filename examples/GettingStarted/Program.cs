// dotnet run --project examples/GettingStarted: trains, evaluates, saves, reloads and uses a sentiment classifier.
GettingStarted.Example.Run(Console.Out, Path.Combine(Path.GetTempPath(), "recur-getting-started"));

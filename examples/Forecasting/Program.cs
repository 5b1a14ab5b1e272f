// dotnet run --project examples/Forecasting: classical methods and one network across many series.
Forecasting.Example.Run(Console.Out);

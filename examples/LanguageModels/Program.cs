// dotnet run --project examples/LanguageModels: a character language model trained, sampled and served.
await LanguageModels.Example.Run(Console.Out);

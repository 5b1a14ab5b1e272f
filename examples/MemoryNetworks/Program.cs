// dotnet run --project examples/MemoryNetworks: trains a memory network on generated stories and asks it a question.
MemoryNetworks.Example.Run(Console.Out);

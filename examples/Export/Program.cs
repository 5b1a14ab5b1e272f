// dotnet run --project examples/Export: trains a classifier, runs it in ONNX Runtime and writes a PyTorch project.
Export.Example.Run(Console.Out, Path.Combine(Path.GetTempPath(), "recur-export"));

// dotnet run --project examples/CustomTask: a model and a training task of your own, trained by the shared trainer.
CustomTask.Example.Run(Console.Out);

// dotnet run --project examples/Captioning: trains an attention captioner on scenes of drawn shapes and describes new
// ones, with where it looked for each word.
Captioning.Example.Run(Console.Out);

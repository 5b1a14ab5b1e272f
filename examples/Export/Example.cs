// guide:begin
using Microsoft.ML.OnnxRuntime;
using Recur;
using Recur.Classification;
using Recur.Export;
using Recur.Nn;
using Recur.Optim;
using Recur.Training;

namespace Export;

public static class Example
{
    /// <summary>
    /// Trains a small classifier, exports it to ONNX and runs it in ONNX Runtime beside Recur, writes it as a
    /// PyTorch project, then runs it in int8; returns the largest difference between the two runtimes' probabilities.
    /// </summary>
    public static double Run(TextWriter output, string folder)
    {
        // 1. a classifier of id sequences: is token 3 among them? (any trained TextClassifier will do)
        var random = new Random(2);
        int[] Text() => Enumerable.Range(0, random.Next(3, 12)).Select(_ => random.Next(2, 20)).ToArray();
        var texts = Enumerable.Range(0, 800).Select(_ => Text()).ToArray();
        var data = new LabelledTexts(texts, texts.Select(t => t.Contains(3) ? 1 : 0).ToArray());
        var config = new TextClassifierConfig(VocabularySize: 20, EmbeddingSize: 16, HiddenSize: 16, Classes: 2,
            Dropout: 0f);
        var model = new TextClassifier(config, new RandomGenerator(seed: 1));
        var task = new ClassificationTask(model, data, data, batchSize: 32);
        new Trainer<int[]>(task, new Adam(model.Parameters(), 1e-2f), new TrainerOptions { Epochs = 3 }).Fit();

        // 2. ONNX: ids [steps, batch] (int64, time-major, 0 past each text) and lengths [batch] (int32) in
        Directory.CreateDirectory(folder);
        string path = Path.Combine(folder, "classifier.onnx");
        OnnxExport.Save(model, path);
        int[][] batch = [[5, 3, 9], [7, 8, 2, 11, 4], [3]];
        var (ids, lengths, steps) = RaggedBatch.TimeMajor(batch, config.VocabularySize, "example");
        using var session = new InferenceSession(path);
        using var idValue = OrtValue.CreateTensorValueFromMemory(ids.Select(i => (long)i).ToArray(),
            [steps, batch.Length]);
        using var lengthValue = OrtValue.CreateTensorValueFromMemory(lengths, [batch.Length]);
        using var runOptions = new RunOptions();
        using var results = session.Run(runOptions, ["ids", "lengths"], [idValue, lengthValue], ["probabilities"]);
        var onnx = results[0].GetTensorDataAsSpan<float>().ToArray();

        // 3. the same texts in Recur: the two runtimes agree
        var recur = model.PredictProbabilities(batch);
        double difference = 0;
        for (int b = 0; b < batch.Length; b++)
        {
            output.WriteLine($"[{string.Join(' ', batch[b])}]: P(has 3) = {onnx[2 * b + 1]:F3} in ONNX Runtime, "
                + $"{recur[b][1]:F3} in Recur");
            difference = Math.Max(difference, Math.Abs(onnx[2 * b + 1] - recur[b][1]));
        }

        // 4. PyTorch: model.py, model.safetensors and load.py, to continue training on a GPU
        PyTorchExport.Save(model, Path.Combine(folder, "torch"));
        output.WriteLine($"wrote {path} and {Path.Combine(folder, "torch")}/model.py");

        // 5. int8 in Recur itself: recurrent and linear weights quantised per row (inference only from here on)
        var quantised = Quantization.QuantizeDynamic(model);
        var int8 = model.PredictProbabilities(batch);
        output.WriteLine($"int8 ({string.Join(", ", quantised)}): P(has 3) = "
            + string.Join(", ", int8.Select(p => $"{p[1]:F3}")));

        // 6. saved as it runs — int8 weights in a quarter of the bytes — and loaded back exactly
        string floatPath = Path.Combine(folder, "float.safetensors"), int8Path = Path.Combine(folder,
            "int8.safetensors");
        new TextClassifier(config, new RandomGenerator(seed: 1)).Save(floatPath);
        model.Save(int8Path);
        var reloaded = new TextClassifier(config, new RandomGenerator(seed: 0));
        reloaded.Load(int8Path);
        bool same = reloaded.PredictProbabilities(batch).Zip(int8).All(p => p.First.SequenceEqual(p.Second));
        output.WriteLine($"saved in int8: {new FileInfo(int8Path).Length:N0} bytes (float: "
            + $"{new FileInfo(floatPath).Length:N0}); reloaded, {(same ? "the same" : "other")} probabilities");
        return difference;
    }
}
// guide:end

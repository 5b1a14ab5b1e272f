// guide:begin
using Recur;
using Recur.Captioning;
using Recur.Nn.Recurrent;
using Recur.Optim;
using Recur.Training;

namespace Captioning;

public static class Example
{
    /// <summary>Trains a Show, Attend and Tell captioner on scenes of drawn shapes, then describes new ones.</summary>
    public static double Run(TextWriter output)
    {
        // 1. "handwriting" as MNIST stores it (28 × 28 bytes per drawing, and a label): a vertical bar is called
        //    "zero", a horizontal bar "one", a square "two"; DigitScenes.Load("../shared/data/mnist") reads real digits
        var labels = Enumerable.Range(0, 10_000).Select(i => i % 3).ToArray();
        var drawings = new byte[labels.Length * 28 * 28];
        for (int n = 0; n < labels.Length; n++)
            for (int r = 4; r < 24; r++)
                for (int c = 4; c < 24; c++)
                    if (labels[n] switch { 0 => c is >= 11 and < 17, 1 => r is >= 11 and < 17, _ => true })
                        drawings[(n * 28 + r) * 28 + c] = 255;
        var digits = new DigitScenes(drawings, labels);

        // 2. scenes of one or two drawings at random places and scales, described from left to right
        var scenes = new SceneSettings(CaptionStyle.Digits, MaxDigits: 2);

        // 3. the model: a small CNN, and a GRU that attends over the CNN's feature map for every word
        var config = new CaptionerConfig(CaptionDecoder.Attention, scenes.Vocabulary().VocabularySize,
            DigitScenes.Height, scenes.Width, Channels: 6, HiddenSize: 48, EmbeddingSize: 8, JointSize: 24,
            Cell: CellKind.Gru);
        var model = new Captioner(config, new RandomGenerator(seed: 1));

        // 4. training: scenes are made batch by batch; validation scores exact descriptions
        var task = new CaptionTask(model, digits, scenes, trainScenes: 512, seed: 1, batchSize: 32,
            validScenes: 100);
        var options = new TrainerOptions { Epochs = 12, Metric = "accuracy" };
        var result = new Trainer<int[]>(task, new Adam(model.Parameters(), 3e-3f), options).Fit();
        double accuracy = result.LastEvaluation!["accuracy"];
        output.WriteLine($"validation: {accuracy:P0} of descriptions exact");

        // 5. describe new scenes (drawings held out from training), and say where each word looked
        var captioner = new TrainedCaptioner(model, scenes);
        var test = digits.Generate(3, seed: 2, test: true, maxDigits: 2);
        var captions = captioner.Describe(CaptionTask.Images(test), beam: 3);
        var (_, columns) = config.FeatureMap;
        for (int i = 0; i < test.Count; i++)
        {
            var looked = captions[i].Attention.Take(captions[i].Words.Length).Select(a =>
                Array.IndexOf(a, a.Max()) % columns * 8 + 4); // the peak cell's centre, in pixels from the left
            var drawn = test[i].Digits.Select(d => $"{d.X}–{d.X + d.Size}");
            output.WriteLine($"\"{captions[i].Text}\" (truth \"{test[i].Caption}\"): looked at x = "
                + $"{string.Join(", ", looked)}; drawings at x = {string.Join(", ", drawn)}");
        }
        return accuracy;
    }
}
// guide:end

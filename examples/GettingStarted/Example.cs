// guide:begin
using Recur;
using Recur.Classification;
using Recur.Optim;
using Recur.Text;
using Recur.Training;

namespace GettingStarted;

public static class Example
{
    /// <summary>Trains a bidirectional LSTM sentiment classifier, evaluates, saves, loads and predicts.</summary>
    public static double Run(TextWriter output, string folder)
    {
        // 1. data: short texts with a label (here generated; in practice read from your CSV)
        var random = new Random(1);
        string[] good = ["great", "lovely", "superb", "fine", "wonderful"];
        string[] bad = ["awful", "dull", "poor", "boring", "bad"];
        string[] filler = ["the", "film", "was", "really", "quite", "and", "plot", "acting"];
        (string Text, int Label) Sample()
        {
            int label = random.Next(2);
            var words = Enumerable.Range(0, random.Next(4, 9)).Select(_ => filler[random.Next(filler.Length)]).ToList();
            words.Insert(random.Next(words.Count), (label == 1 ? good : bad)[random.Next(5)]);
            return (string.Join(' ', words), label);
        }
        var train = Enumerable.Range(0, 600).Select(_ => Sample()).ToList();
        var valid = Enumerable.Range(0, 100).Select(_ => Sample()).ToList();

        // 2. tokens → ids with a vocabulary built on the training texts
        var tokenizer = new WordTokenizer();
        var vocabulary = WordVocabulary.Build(train.Select(e => tokenizer.Tokenize(e.Text)));
        int[] Ids(string text) => vocabulary.Encode(tokenizer.Tokenize(text));
        LabelledTexts Encode(List<(string Text, int Label)> set) =>
            new(set.Select(e => Ids(e.Text)).ToArray(), set.Select(e => e.Label).ToArray());

        // 3. the model: embedding → bidirectional LSTM → max pooling → linear
        var config = new TextClassifierConfig(vocabulary.Count, EmbeddingSize: 32, HiddenSize: 32, Classes: 2,
            Dropout: 0.2f);
        var model = new TextClassifier(config, new RandomGenerator(seed: 1));

        // 4. training with the shared trainer; the best epoch by validation accuracy is kept in folder/best
        var task = new ClassificationTask(model, Encode(train), Encode(valid), batchSize: 32);
        var options = new TrainerOptions
        {
            Epochs = 8, Metric = "accuracy", MetricMode = MetricMode.Max, ClipNorm = 1f,
            OutputDirectory = folder, Overwrite = true,
        };
        new Trainer<int[]>(task, new Adam(model.Parameters(), 5e-3f), options).Fit();

        // 5. load the best checkpoint (weights, verified against its manifest) and evaluate it
        var best = Checkpoint.Open(folder,
            json => new TextClassifier(TextClassifierConfig.FromJson(json), new RandomGenerator(0)));
        var report = ClassificationTask.Report(best, Encode(valid));
        output.WriteLine($"validation accuracy {report.Accuracy:P1}");

        // 6. predict
        string[] texts = ["the acting was superb", "a boring plot"];
        var probabilities = best.PredictProbabilities(texts.Select(Ids).ToArray());
        for (int i = 0; i < texts.Length; i++) output.WriteLine($"{texts[i]}: P(positive) = {probabilities[i][1]:F2}");

        // 7. the baseline to beat: NBSVM on word and bigram features, fitted in well under a second
        IReadOnlyList<string>[] Tokens(List<(string Text, int Label)> set) =>
            set.Select(e => (IReadOnlyList<string>)tokenizer.Tokenize(e.Text)).ToArray();
        var baseline = LinearTextClassifier.Train(LinearModelKind.NbSvm, Tokens(train),
            train.Select(e => e.Label).ToArray(), classes: 2);
        var predicted = baseline.Predict(Tokens(valid));
        double baselineAccuracy = predicted.Where((p, i) => p == valid[i].Label).Count() / (double)valid.Count;
        output.WriteLine($"NBSVM validation accuracy {baselineAccuracy:P1}");
        return report.Accuracy;
    }
}
// guide:end

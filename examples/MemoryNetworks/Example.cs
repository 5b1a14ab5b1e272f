// guide:begin
using Recur;
using Recur.Memory;
using Recur.Optim;
using Recur.Training;

namespace MemoryNetworks;

public static class Example
{
    /// <summary>Trains an end-to-end memory network on generated stories, then asks it about a new one.</summary>
    public static double Run(TextWriter output)
    {
        // 1. stories in bAbI's format, here generated: people move around, and "Where is X?" asks for the last place
        var random = new Random(1);
        string[] people = ["mary", "john", "sandra", "daniel"];
        string[] places = ["kitchen", "garden", "office", "hallway", "bathroom"];
        List<string> Story(int questions)
        {
            var lines = new List<string>();
            var where = new Dictionary<string, (string Place, int Line)>();
            for (int q = 0; q < questions; q++)
            {
                for (int s = 0; s < 2; s++)
                {
                    string person = people[random.Next(4)], place = places[random.Next(5)];
                    lines.Add($"{lines.Count + 1} {person} went to the {place}.");
                    where[person] = (place, lines.Count);
                }
                var (asked, fact) = where.ElementAt(random.Next(where.Count));
                lines.Add($"{lines.Count + 1} Where is {asked}?\t{fact.Place}\t{fact.Line}");
            }
            return lines;
        }
        var train = BabiReader.Parse(Enumerable.Range(0, 150).SelectMany(_ => Story(5)), "train", task: 1);
        var valid = BabiReader.Parse(Enumerable.Range(0, 30).SelectMany(_ => Story(5)), "valid", task: 1);

        // 2. words → ids; the vocabulary holds every story word, question word and answer
        var vocabulary = StoryEncoding.Vocabulary(train);
        EncodedQuestion[] Encode(List<BabiQuestion> set) =>
            set.Select(q => StoryEncoding.Encode(q, vocabulary)).ToArray();

        // 3. the model: 3 hops of attention over the sentences, position and temporal encoding
        var config = new MemoryNetworkConfig(vocabulary.Count, StoryEncoding.SentenceLength(train), Hops: 3,
            MemorySize: 15);
        var model = new MemoryNetwork(config, new RandomGenerator(seed: 1));

        // 4. training as the paper does: linear start for 5 epochs, then plain SGD with the softmax back
        var task = new StoryTask(model, Encode(train), Encode(valid), batchSize: 32, linearStart: true,
            linearStartEpochs: 5);
        var options = new TrainerOptions { Epochs = 30, Metric = "accuracy", ClipNorm = 1.25f };
        new Trainer<EncodedQuestion[]>(task, new Sgd(model.Parameters(), 0.16f), options).Fit();
        var report = StoryTask.Report(model, Encode(valid));
        output.WriteLine($"validation accuracy {report.Accuracy:P1}");

        // 5. ask about a new story and see which sentence each hop attends to
        using var _ = model.Evaluating();
        var story = BabiReader.ParseStory(["Mary went to the garden.", "John went to the office.",
            "Mary went to the kitchen."], "story");
        var question = new EncodedQuestion(story.Select(s => vocabulary.Encode(s)).ToArray(),
            vocabulary.Encode(BabiReader.Words("Where is Mary?")), -1, 0);
        var answer = model.Forward([question]);
        var scores = answer.Logits.ToArray();
        output.WriteLine($"Where is Mary? {vocabulary.Words[Array.IndexOf(scores, scores.Max())]}");
        for (int hop = 0; hop < answer.Attention.Count; hop++)
        {
            var weights = answer.Attention[hop].ToArray(); // slot 0 is the most recent sentence
            int slot = Array.IndexOf(weights, weights.Max());
            string sentence = slot < story.Count ? string.Join(' ', story[^(slot + 1)]) : "(an empty slot)";
            output.WriteLine($"hop {hop + 1}: {sentence} ({weights[slot]:F2})");
        }
        return report.Accuracy;
    }
}
// guide:end

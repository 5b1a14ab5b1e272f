using System.Text.Json.Nodes;
using Recur.Kernels;
using Recur.Nn;
using Recur.Text;
using Recur.Training;

namespace Recur.Memory;

/// <summary>A model that answers a question about a story with one word of its vocabulary.</summary>
public interface IStoryModel
{
    /// <summary>The model's parameters and modes.</summary>
    Module Module { get; }

    /// <summary>Its settings, as written to <c>config.json</c>.</summary>
    JsonObject ToJson();

    /// <summary>Answer scores [B, V]; <paramref name="noise"/> is the generator of training-time noise (null in
    /// evaluation).</summary>
    Tensor Logits(IReadOnlyList<EncodedQuestion> batch, RandomGenerator? noise);
}

/// <summary>How a story model scores on a set of questions.</summary>
/// <param name="Loss">Mean cross-entropy of the answers.</param>
/// <param name="Accuracy">Fraction answered exactly.</param>
/// <param name="ErrorByTask">Error rate per bAbI task (task 0: questions of no task).</param>
/// <param name="Predictions">The answer's vocabulary id per question, in order.</param>
public sealed record StoryReport(double Loss, double Accuracy, IReadOnlyDictionary<int, double> ErrorByTask,
    int[] Predictions)
{
    /// <summary>Mean of the per-task error rates.</summary>
    public double MeanTaskError => ErrorByTask.Values.Average();

    /// <summary>Tasks whose error exceeds 5%, the paper's count of failed tasks.</summary>
    public int FailedTasks => ErrorByTask.Values.Count(e => e > 0.05);
}

/// <summary>Turns bAbI questions into word ids with a <see cref="WordVocabulary"/> (words it lacks become
/// &lt;unk&gt;).</summary>
public static class StoryEncoding
{
    /// <summary>A vocabulary of every story word, question word and answer of <paramref name="questions"/>.</summary>
    public static WordVocabulary Vocabulary(IEnumerable<BabiQuestion> questions) =>
        WordVocabulary.Build(questions.SelectMany(q => q.Story.Append(q.Question).Append([q.Answer])));

    /// <summary>The longest sentence or question of <paramref name="questions"/>, in words.</summary>
    public static int SentenceLength(IEnumerable<BabiQuestion> questions) =>
        questions.Max(q => Math.Max(q.Question.Length, q.Story.Count == 0 ? 0 : q.Story.Max(s => s.Length)));

    /// <summary>The ids of <paramref name="question"/>.</summary>
    public static EncodedQuestion Encode(BabiQuestion question, WordVocabulary vocabulary) => new(
        question.Story.Select(s => vocabulary.Encode(s)).ToArray(), vocabulary.Encode(question.Question),
        vocabulary.Id(question.Answer), question.Task);
}

/// <summary>
/// Trains a story model (a <see cref="MemoryNetwork"/> or the <see cref="StoryLstm"/> baseline) on bAbI questions
/// with the shared trainer, validating by loss, accuracy and mean per-task error. With linear start the memory network
/// begins without its memory softmax and gets it back at the first validation whose linear-start loss does not
/// improve (Sukhbaatar et al. 2015, §4.2); that switch is carried in checkpoints, so a resumed run makes it at the same
/// point. Validation always scores the model with its softmax — the model the checkpoints keep.
/// </summary>
public sealed class StoryTask : ITrainingTask<EncodedQuestion[]>, IStatefulTrainingTask
{
    readonly IStoryModel model;
    readonly IReadOnlyList<EncodedQuestion> train;
    readonly IReadOnlyList<EncodedQuestion>? valid;
    readonly int batchSize;
    readonly JsonObject? extraConfig;
    readonly int? linearStartEpochs;
    double bestLinearStartLoss = double.PositiveInfinity;

    /// <summary>
    /// A task over <paramref name="train"/>, validated on <paramref name="valid"/>; with
    /// <paramref name="linearStart"/> (memory networks only) training starts without the memory softmax, which comes
    /// back after <paramref name="linearStartEpochs"/> epochs — or, when that is null, at the first validation whose
    /// linear-start loss does not improve.
    /// </summary>
    public StoryTask(IStoryModel model, IReadOnlyList<EncodedQuestion> train, IReadOnlyList<EncodedQuestion>? valid,
        int batchSize, bool linearStart = false, JsonObject? extraConfig = null, int? linearStartEpochs = null)
    {
        if (linearStartEpochs is < 1)
            throw new ArgumentException($"StoryTask: linear start lasts at least one epoch, got {linearStartEpochs}.");
        this.linearStartEpochs = linearStartEpochs;
        if (batchSize < 1) throw new ArgumentException($"StoryTask: batch size must be positive, got {batchSize}.");
        if (train.Count == 0) throw new ArgumentException("StoryTask: no training questions.");
        if (linearStart && model is not MemoryNetwork)
            throw new ArgumentException("StoryTask: linear start applies to memory networks only.");
        if (linearStart && linearStartEpochs is null && valid is null)
            throw new ArgumentException("StoryTask: linear start ends when the validation loss stops improving; it "
                + "needs validation questions.");
        (this.model, this.train, this.valid, this.batchSize, this.extraConfig) =
            (model, train, valid, batchSize, extraConfig);
        if (model is MemoryNetwork memory) memory.LinearStart = linearStart;
    }

    /// <summary>Whether the memory softmax is still left out.</summary>
    public bool InLinearStart => model is MemoryNetwork { LinearStart: true };

    /// <inheritdoc/>
    public Module Model => model.Module;

    /// <inheritdoc/>
    public JsonObject Config => model.ToJson().With(extraConfig);

    /// <inheritdoc/>
    public int BatchesPerEpoch => (train.Count + batchSize - 1) / batchSize;

    /// <inheritdoc/>
    public IEnumerable<EncodedQuestion[]> Batches(int epoch, RandomGenerator shuffle)
    {
        var order = Enumerable.Range(0, train.Count).ToArray();
        shuffle.Shuffle(order);
        for (int start = 0; start < order.Length; start += batchSize)
            yield return order.Skip(start).Take(batchSize).Select(i => train[i]).ToArray();
    }

    /// <inheritdoc/>
    public int Count(EncodedQuestion[] batch) => batch.Length;

    /// <inheritdoc/>
    public Tensor Loss(EncodedQuestion[] batch, TrainingContext context)
    {
        if (model is MemoryNetwork { LinearStart: true } memory && context.Epoch >= linearStartEpochs)
            memory.LinearStart = false;
        return Losses.CrossEntropy(model.Logits(batch, context.Random), batch.Select(q => q.Answer).ToArray());
    }

    /// <inheritdoc/>
    public IReadOnlyDictionary<string, double>? Evaluate()
    {
        if (valid is null) return null;
        var metrics = new Dictionary<string, double>();
        if (model is not MemoryNetwork { LinearStart: true } memory) return Add(metrics, Report(model, valid));
        double linear = Report(model, valid).Loss;
        metrics["linear_start_loss"] = linear;
        // without a fixed length, linear start ends when its loss stops improving: the softmax comes back for good
        bool keep = linearStartEpochs != null || linear < bestLinearStartLoss;
        if (keep) bestLinearStartLoss = linear;
        memory.LinearStart = false; // scored as the checkpoints keep the model: with its softmax
        var scored = Report(model, valid);
        memory.LinearStart = keep;
        return Add(metrics, scored);
    }

    static Dictionary<string, double> Add(Dictionary<string, double> metrics, StoryReport report)
    {
        metrics["loss"] = report.Loss;
        metrics["accuracy"] = report.Accuracy;
        metrics["mean_task_error"] = report.MeanTaskError;
        return metrics;
    }

    /// <inheritdoc/>
    public IReadOnlyDictionary<string, Tensor> CarriedState() => model is MemoryNetwork memory
        ? new Dictionary<string, Tensor>
        {
            ["linear_start"] = Tensor.FromArray([memory.LinearStart ? 1f : 0f, (float)bestLinearStartLoss], 2),
        }
        : new Dictionary<string, Tensor>();

    /// <inheritdoc/>
    public void RestoreCarriedState(IReadOnlyDictionary<string, Tensor> state)
    {
        if (model is not MemoryNetwork memory || !state.TryGetValue("linear_start", out var saved)) return;
        if (saved.Length != 2) throw new InvalidDataException("the linear-start state is not [flag, best loss].");
        memory.LinearStart = saved.Span[0] != 0;
        bestLinearStartLoss = saved.Span[1];
    }

    /// <summary>Scores <paramref name="model"/> on <paramref name="data"/> in evaluation mode.</summary>
    public static StoryReport Report(IStoryModel model, IReadOnlyList<EncodedQuestion> data, int batchSize = 256)
    {
        if (data.Count == 0) throw new ArgumentException("StoryTask.Report: no questions.");
        var module = model.Module;
        double loss = 0;
        var predictions = new int[data.Count];
        using (module.Evaluating())
            for (int start = 0; start < data.Count; start += batchSize)
            {
                var batch = data.Skip(start).Take(batchSize).ToArray();
                var logits = model.Logits(batch, null);
                var answers = batch.Select(q => q.Answer).ToArray();
                if (answers.All(a => a >= 0)) loss += Losses.CrossEntropy(logits, answers).Item() * batch.Length;
                int classes = logits.Size(1);
                for (int b = 0; b < batch.Length; b++)
                    predictions[start + b] = Scores.ArgMax(logits.Span.Slice(b * classes, classes));
            }
        var errors = data.Select((q, i) => (q.Task, Wrong: predictions[i] != q.Answer)).GroupBy(x => x.Task)
            .OrderBy(g => g.Key).ToDictionary(g => g.Key, g => g.Average(x => x.Wrong ? 1.0 : 0.0));
        double accuracy = data.Where((q, i) => predictions[i] == q.Answer).Count() / (double)data.Count;
        return new(loss / data.Count, accuracy, errors, predictions);
    }
}

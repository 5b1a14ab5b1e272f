using System.Globalization;
using System.Text.Json.Nodes;
using Recur.Kernels;
using Recur.Nn;
using Recur.Serialization;
using Recur.Text;
using Recur.Training;

namespace Recur.Memory;

/// <summary>An answer to a question about a story, with what the model looked at.</summary>
/// <param name="Story">The sentences the model saw (the last memory-size ones), oldest first.</param>
/// <param name="Answer">The answer word.</param>
/// <param name="Attention">Per hop, the weight of each sentence, the most recent first (empty for the LSTM).</param>
/// <param name="Empty">Per hop, the weight resting on the memory's empty slots.</param>
/// <param name="Unknown">Words of the story or question outside the model's vocabulary (read as &lt;unk&gt;).</param>
public sealed record StoryAnswer(string[][] Story, string Answer, float[][] Attention, float[] Empty,
    string[] Unknown);

/// <summary>
/// A story model saved by training (<c>recur memnet train</c>, or a <see cref="StoryTask"/> with the vocabulary and
/// tasks in its extra configuration): the model, its vocabulary and the bAbI tasks it was trained on.
/// </summary>
public sealed class TrainedStoryModel
{
    /// <summary>Folder prefix of the models of a per-task run: task1, task2, ….</summary>
    public const string TaskFolderPrefix = "task";

    /// <summary>The model.</summary>
    public IStoryModel Model { get; }

    /// <summary>Its vocabulary.</summary>
    public WordVocabulary Vocabulary { get; }

    /// <summary>The bAbI tasks it was trained on.</summary>
    public int[] Tasks { get; }

    /// <summary>The most recent sentences it reads.</summary>
    public int MemorySize { get; }

    TrainedStoryModel(IStoryModel model, WordVocabulary vocabulary, int[] tasks, int memorySize) =>
        (Model, Vocabulary, Tasks, MemorySize) = (model, vocabulary, tasks, memorySize);

    /// <summary>The model saved in <paramref name="folder"/> (a checkpoint, or a run folder's best one).</summary>
    /// <exception cref="InvalidDataException">The configuration lacks the vocabulary or tasks, or describes no story
    /// model.</exception>
    public static TrainedStoryModel Open(string folder)
    {
        JsonObject? config = null;
        var module = Checkpoint.Open(folder, json =>
        {
            config = json;
            return (string?)json["architecture"] == "story_lstm"
                ? (Module)new StoryLstm(StoryLstmConfig.FromJson(json), new RandomGenerator(0))
                : new MemoryNetwork(MemoryNetworkConfig.FromJson(json), new RandomGenerator(0));
        });
        StoryTaskFile saved;
        try
        {
            saved = ConfigJson.Read(config!, MemoryJson.Default.StoryTaskFile, null);
        }
        catch (InvalidDataException e)
        {
            throw new InvalidDataException($"{folder}: config.json of a bAbI model: {e.Message}", e);
        }
        int memorySize = module is MemoryNetwork m ? m.Config.MemorySize : ((StoryLstm)module).Config.MemorySize;
        return new((IStoryModel)module, WordVocabulary.FromWords(saved.Vocabulary), saved.Tasks, memorySize);
    }

    /// <summary>The models of a run folder: one per task in task{N}/ for a per-task run, otherwise the one
    /// model.</summary>
    public static IReadOnlyList<TrainedStoryModel> OpenRun(string folder)
    {
        var perTask = TaskFolders(folder);
        return perTask.Count > 0 ? perTask.Select(Open).ToArray() : [Open(folder)];
    }

    /// <summary>The task{N}/ folders of a per-task run in task order; none for a run of one model.</summary>
    public static IReadOnlyList<string> TaskFolders(string folder)
    {
        if (!Directory.Exists(folder)) throw new DirectoryNotFoundException($"{folder}: no such model folder.");
        return Directory.GetDirectories(folder, TaskFolderPrefix + "*")
            .Select(d => (Folder: d, Name: Path.GetFileName(d)[TaskFolderPrefix.Length..]))
            .Where(d => int.TryParse(d.Name, NumberStyles.None, CultureInfo.InvariantCulture, out _))
            .OrderBy(d => int.Parse(d.Name, CultureInfo.InvariantCulture)).Select(d => d.Folder).ToArray();
    }

    /// <summary>Asks <paramref name="question"/> about <paramref name="story"/> (sentences as words, oldest
    /// first).</summary>
    public StoryAnswer Ask(IReadOnlyList<string[]> story, string question)
    {
        var words = BabiReader.Words(question);
        if (words.Length == 0) throw new ArgumentException("the question has no words.");
        var kept = story.Skip(Math.Max(0, story.Count - MemorySize)).ToArray();
        var unknown = kept.Append(words).SelectMany(s => s).Where(w => Vocabulary.Id(w) == WordVocabulary.Unknown)
            .Distinct().ToArray();
        var encoded = new EncodedQuestion(kept.Select(s => Vocabulary.Encode(s)).ToArray(), Vocabulary.Encode(words),
            -1, 0);
        var module = Model.Module;
        using var _ = module.Evaluating();
        if (Model is not MemoryNetwork memory)
            return new(kept, Vocabulary.Words[Scores.ArgMax(Model.Logits([encoded], null).Span)], [], [],
                unknown);
        var output = memory.Forward([encoded]);
        var attention = output.Attention.Select(a => a.ToArray()).ToArray();
        // slots past the story are empty sentences; their weight is reported as one sum
        return new(kept, Vocabulary.Words[Scores.ArgMax(output.Logits.Span)],
            attention.Select(a => a[..kept.Length]).ToArray(), attention.Select(a => a[kept.Length..].Sum())
                .ToArray(), unknown);
    }
}

/// <summary>The vocabulary and bAbI tasks a story model's <c>config.json</c> records beside the model.</summary>
sealed record StoryTaskFile(string[] Vocabulary, int[] Tasks);

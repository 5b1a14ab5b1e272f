using Recur.Cli.Training;
using Recur.Memory;
using Recur.Text;

namespace Recur.Cli.Data;

/// <summary>A question about a story file put to a trained bAbI run — the part <c>memnet answer</c> and
/// <c>inspect memory</c> share: choosing the model of a per-task run, reading the story, naming what is
/// wrong.</summary>
static class StoryQuestions
{
    /// <summary>Asks the model of <paramref name="run"/> (the one for <paramref name="task"/> in a per-task run)
    /// <paramref name="question"/> about the story in <paramref name="storyPath"/>.</summary>
    public static StoryAnswer Ask(string run, int? task, string storyPath, string question)
    {
        if (!Directory.Exists(run)) throw new UsageException($"{run}: no such model folder.");
        var models = TrainedStoryModel.OpenRun(run);
        var chosen = task is int t
            ? models.FirstOrDefault(m => m.Tasks.Contains(t))
                ?? throw new UsageException($"--task {t}: the run has no model for it.")
            : models.Count == 1 ? models[0]
                : throw new UsageException("the run holds one model per task: choose one with --task N.");
        if (!File.Exists(storyPath)) throw new UsageException($"--story {storyPath}: no such file.");
        if (BabiReader.Words(question).Length == 0) throw new UsageException("the question has no words.");
        return chosen.Ask(BabiReader.ParseStory(TextFiles.ReadUtf8Lines(storyPath), storyPath), question);
    }
}

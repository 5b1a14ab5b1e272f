namespace Recur.Training;

/// <summary>
/// A run folder holds one training run: <c>metrics.jsonl</c> and the <c>best/</c> and <c>last/</c> checkpoints (and,
/// for an ensemble, one such folder per member). A new run never silently replaces an earlier one: starting in a folder
/// that already holds a run is refused unless the caller asks to overwrite it.
/// </summary>
public static class RunFolder
{
    /// <summary>The training log written beside the checkpoints.</summary>
    public const string MetricsFile = "metrics.jsonl";

    /// <summary>
    /// Present while a new run has no checkpoint yet: a folder that a failed or killed run left with only its first
    /// files (a tokenizer, a log) says so, and is never mistaken for a trained model.
    /// </summary>
    public const string IncompleteMarker = "INCOMPLETE";

    static readonly string[] Checkpoints = ["best", "last"];

    /// <summary>What in <paramref name="directory"/> belongs to an earlier run (empty when nothing does).</summary>
    public static IReadOnlyList<string> EarlierRun(string directory)
    {
        if (!Directory.Exists(directory)) return [];
        var found = new List<string>();
        if (File.Exists(Path.Combine(directory, MetricsFile))) found.Add(MetricsFile);
        if (File.Exists(Path.Combine(directory, IncompleteMarker))) found.Add(IncompleteMarker);
        foreach (string name in Checkpoints)
            if (Directory.Exists(Path.Combine(directory, name)) || Directory.GetDirectories(directory, name
                + ".old-*").Length > 0)
                found.Add(name + "/");
        foreach (string member in Directory.GetDirectories(directory, "member-*").Order(StringComparer.Ordinal))
            if (EarlierRun(member).Count > 0) found.Add(Path.GetFileName(member) + "/");
        return found;
    }

    /// <summary>
    /// Refuses, with <see cref="RunFolderInUseException"/>, a <paramref name="directory"/> that holds an earlier run,
    /// unless <paramref name="overwrite"/>. Call it before writing anything into the folder.
    /// </summary>
    public static void CheckNew(string directory, bool overwrite)
    {
        var earlier = EarlierRun(directory);
        if (earlier.Count > 0 && !overwrite)
            throw new RunFolderInUseException(directory, earlier);
    }

    /// <summary>Marks <paramref name="directory"/> as holding a run that has no checkpoint yet.</summary>
    public static void MarkIncomplete(string directory)
    {
        Directory.CreateDirectory(directory);
        Serialization.AtomicFile.WriteAllText(Path.Combine(directory, IncompleteMarker),
            "This run stopped before it wrote its first checkpoint (or is still running): it holds no model.\n");
    }

    /// <summary>Removes the mark once the run has a checkpoint.</summary>
    public static void MarkComplete(string directory) => File.Delete(Path.Combine(directory, IncompleteMarker));

    /// <summary>
    /// Makes <paramref name="directory"/> ready for a new run: refused as in <see cref="CheckNew"/>, or with
    /// <paramref name="overwrite"/> the earlier run's log and checkpoints are deleted, so that nothing of it can be
    /// mistaken for the new run's.
    /// </summary>
    public static void PrepareNew(string directory, bool overwrite)
    {
        CheckNew(directory, overwrite);
        if (!Directory.Exists(directory)) return;
        File.Delete(Path.Combine(directory, MetricsFile));
        File.Delete(Path.Combine(directory, IncompleteMarker));
        foreach (string name in Checkpoints)
        {
            string path = Path.Combine(directory, name);
            if (Directory.Exists(path)) Directory.Delete(path, recursive: true);
            foreach (string left in Directory.GetDirectories(directory, name + ".old-*")) Directory.Delete(left,
                recursive: true);
            foreach (string left in Directory.GetDirectories(directory, name + ".tmp-*")) Directory.Delete(left,
                recursive: true);
        }
    }
}

/// <summary>A new run was started in a folder that holds an earlier run, without asking to overwrite it.</summary>
public sealed class RunFolderInUseException(string directory, IReadOnlyList<string> earlier) : IOException(
    $"{directory} already holds a run ({string.Join(", ", earlier)}); continue it with --resume "
    + $"{Path.Combine(directory, "last")}, choose another folder, or pass --overwrite to replace it.")
{
    /// <summary>The run folder that already holds checkpoints.</summary>
    public string Directory { get; } = directory;
}

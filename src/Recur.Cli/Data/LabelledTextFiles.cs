using Recur.Cli.Training;
using Recur.Text;

namespace Recur.Cli.Data;

/// <summary>
/// Labelled texts as <c>classify train|eval</c> read them: a CSV/TSV table with a text column (named, or the first
/// of text, sentence, content, review) and a label column, or an aclImdb-style folder of pos/ and neg/ reviews.
/// </summary>
static class LabelledTextFiles
{
    static readonly string[] TextColumns = ["text", "sentence", "content", "review"];

    /// <summary>Reads (text, label) pairs. Rows with an empty text or label are errors naming the file and
    /// line.</summary>
    public static List<(string Text, string Label)> Read(string path, string? textColumn, string labelColumn)
    {
        if (Directory.Exists(path)) return ReadFolders(path);
        if (!File.Exists(path)) throw new UsageException($"{path}: no such file or folder.");
        var table = TableFile.Read(path);
        string text = textColumn ?? TextColumns.FirstOrDefault(c => table.Header.Contains(c))
            ?? throw new InvalidDataException($"{path}: no text column found (tried {string.Join(", ", TextColumns)}; "
                + $"columns: {string.Join(", ", table.Header)}); pass --text-column.");
        int textIndex = table.Column(text), labelIndex = table.Column(labelColumn, "label column");
        var examples = new List<(string, string)>();
        foreach (var row in table.Rows)
        {
            string value = row.Fields[textIndex], label = row.Fields[labelIndex].Trim();
            if (string.IsNullOrWhiteSpace(value)) throw new InvalidDataException(
                $"{path}, line {row.Line}: the '{text}' field is empty.");
            if (label.Length == 0) throw new InvalidDataException(
                $"{path}, line {row.Line}: the '{labelColumn}' field is empty.");
            examples.Add((value, label));
        }
        if (examples.Count == 0) throw new InvalidDataException($"{path}: no examples.");
        return examples;
    }

    /// <summary>The aclImdb layout: one sub-folder per label (pos, neg, …) of .txt files, in ordinal order.</summary>
    static List<(string, string)> ReadFolders(string folder)
    {
        var labels = Directory.GetDirectories(folder).Select(Path.GetFileName).Where(n =>
            n is "pos" or "neg").Order(StringComparer.Ordinal).ToArray();
        if (labels.Length == 0) throw new InvalidDataException($"{folder}: expected sub-folders pos/ and neg/ of "
            + $".txt reviews (the aclImdb layout).");
        var examples = new List<(string, string)>();
        foreach (var label in labels)
            foreach (var file in Directory.GetFiles(Path.Combine(folder, label!),
                "*.txt").Order(StringComparer.Ordinal))
            {
                string text = TextFiles.ReadUtf8(file).Replace("<br />", " ", StringComparison.Ordinal);
                if (string.IsNullOrWhiteSpace(text)) throw new InvalidDataException($"{file}: empty review.");
                examples.Add((text, label!));
            }
        return examples;
    }
}

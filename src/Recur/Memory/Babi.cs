using System.Globalization;
using System.Text.RegularExpressions;
using Recur.Text;

namespace Recur.Memory;

/// <summary>
/// One bAbI question with the story it is asked about.
/// </summary>
/// <param name="Task">The bAbI task (1–20), or 0 for a story that belongs to none.</param>
/// <param name="Story">The sentences before the question, oldest first, as lower-case words without punctuation; at
/// most the reader's memory size (the most recent ones).</param>
/// <param name="Question">The question's words.</param>
/// <param name="Answer">The answer as one token: a word, or the comma-separated list of tasks 8 and 19 ("n,w").</param>
/// <param name="Supporting">Indices into <see cref="Story"/> of the sentences the answer rests on (those the memory
/// kept).</param>
public sealed record BabiQuestion(int Task, IReadOnlyList<string[]> Story, string[] Question, string Answer,
    int[] Supporting);

/// <summary>The questions of a bAbI experiment.</summary>
/// <param name="Train">Questions to train on.</param>
/// <param name="Validation">Held-out training questions, for choosing the epoch.</param>
/// <param name="Test">The tasks' test questions.</param>
public sealed record BabiSplit(List<BabiQuestion> Train, List<BabiQuestion> Validation, List<BabiQuestion> Test);

/// <summary>
/// Reads the bAbI question-answering tasks (Weston et al. 2015): one sentence a line, numbered from 1 within a story;
/// a question line is <c>N question?&lt;TAB&gt;answer&lt;TAB&gt;supporting line numbers</c>. Every question becomes a
/// <see cref="BabiQuestion"/> whose story holds the sentences (not the earlier questions) before it. Malformed lines
/// are errors naming the file and line.
/// </summary>
public static partial class BabiReader
{
    /// <summary>Sentences a story keeps in memory unless told otherwise (Sukhbaatar et al. 2015).</summary>
    public const int DefaultMemorySize = 50;

    /// <summary>The names of the 20 tasks, as their files are named (task 1 first).</summary>
    public static readonly IReadOnlyList<string> TaskNames =
    [
        "single-supporting-fact", "two-supporting-facts", "three-supporting-facts", "two-arg-relations",
        "three-arg-relations", "yes-no-questions", "counting", "lists-sets", "simple-negation", "indefinite-knowledge",
        "basic-coreference", "conjunction", "compound-coreference", "time-reasoning", "basic-deduction",
        "basic-induction", "positional-reasoning", "size-reasoning", "path-finding", "agents-motivations",
    ];

    static readonly WordTokenizer Tokenizer = new(lowerCase: true);

    /// <summary>
    /// Training, validation and test questions of <paramref name="tasks"/>: the last
    /// <paramref name="validationFraction"/> of each task's training file is held out for choosing the epoch.
    /// </summary>
    public static BabiSplit Load(string folder, IReadOnlyList<int> tasks, int memorySize = DefaultMemorySize,
        double validationFraction = 0.1)
    {
        if (tasks.Count == 0) throw new ArgumentException("bAbI: no tasks.");
        if (validationFraction is < 0 or >= 1)
            throw new ArgumentException($"bAbI: the validation fraction must be in [0, 1), got {validationFraction}.");
        var split = new BabiSplit([], [], []);
        foreach (int task in tasks)
        {
            var train = ReadTask(folder, task, "train", memorySize);
            int held = (int)Math.Round(train.Count * validationFraction);
            split.Train.AddRange(train[..^held]);
            split.Validation.AddRange(train[^held..]);
            split.Test.AddRange(ReadTask(folder, task, "test", memorySize));
        }
        return split;
    }

    /// <summary>Lower-case words of <paramref name="text"/> without punctuation marks.</summary>
    public static string[] Words(string text) =>
        Tokenizer.Tokenize(text).Where(t => t.Any(char.IsLetterOrDigit)).ToArray();

    /// <summary>
    /// The questions of task <paramref name="task"/> (1–20) in <paramref name="folder"/>, from its file
    /// <c>qa{task}_*_{split}.txt</c> (split "train" or "test").
    /// </summary>
    /// <exception cref="FileNotFoundException">The folder has no such file.</exception>
    public static List<BabiQuestion> ReadTask(string folder, int task, string split,
        int memorySize = DefaultMemorySize) => Read(TaskFile(folder, task, split), task, memorySize);

    /// <summary>The file of task <paramref name="task"/> and <paramref name="split"/> in
    /// <paramref name="folder"/>.</summary>
    public static string TaskFile(string folder, int task, string split)
    {
        if (task is < 1 or > 20) throw new ArgumentException($"bAbI: tasks are numbered 1–20, got {task}.");
        if (!Directory.Exists(folder)) throw new DirectoryNotFoundException($"{folder}: no such folder.");
        var files = Directory.GetFiles(folder, $"qa{task}_*_{split}.txt");
        return files.Length switch
        {
            1 => files[0],
            0 => throw new FileNotFoundException($"{folder}: no file qa{task}_*_{split}.txt (the bAbI tasks are in "
                + "tasks_1-20_v1-2/en).", Path.Combine(folder, $"qa{task}_*_{split}.txt")),
            _ => throw new InvalidDataException($"{folder}: {files.Length} files match qa{task}_*_{split}.txt."),
        };
    }

    /// <summary>The questions of one bAbI file.</summary>
    public static List<BabiQuestion> Read(string path, int task, int memorySize = DefaultMemorySize) =>
        Parse(TextFiles.ReadUtf8Lines(path), path, task, memorySize);

    /// <summary>
    /// Parses the lines of a bAbI file; <paramref name="source"/> names it in errors. A story's memory keeps the
    /// <paramref name="memorySize"/> most recent sentences before each question.
    /// </summary>
    public static List<BabiQuestion> Parse(IEnumerable<string> lines, string source, int task,
        int memorySize = DefaultMemorySize)
    {
        if (memorySize < 1) throw new ArgumentException($"bAbI: the memory size must be positive, got {memorySize}.");
        var questions = new List<BabiQuestion>();
        var sentences = new List<(int Number, string[] Words)>();
        int previous = 0, lineNumber = 0;
        foreach (var raw in lines)
        {
            lineNumber++;
            if (string.IsNullOrWhiteSpace(raw)) continue;
            string where = $"{source}, line {lineNumber}";
            var match = NumberedLine().Match(raw);
            if (!match.Success)
                throw new InvalidDataException($"{where}: a bAbI line starts with its number and a space: '{raw}'.");
            int number = int.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture);
            string text = match.Groups[2].Value;
            if (number == 1) sentences.Clear();
            else if (number != previous + 1)
                throw new InvalidDataException($"{where}: line number {number} follows {previous} (a story counts "
                    + "1, 2, 3, …; 1 starts a new one).");
            previous = number;
            var fields = text.Split('\t');
            if (fields.Length == 1)
            {
                var words = Words(text);
                if (words.Length == 0) throw new InvalidDataException($"{where}: the sentence has no words.");
                sentences.Add((number, words));
                continue;
            }
            if (fields.Length != 3)
                throw new InvalidDataException($"{where}: a question line has three tab-separated fields (question, "
                    + $"answer, supporting line numbers), this one {fields.Length}.");
            var question = Words(fields[0]);
            string answer = fields[1].Trim().ToLowerInvariant();
            if (question.Length == 0) throw new InvalidDataException($"{where}: the question has no words.");
            if (answer.Length == 0 || answer.Any(char.IsWhiteSpace))
                throw new InvalidDataException($"{where}: the answer '{fields[1]}' is not one word or a "
                    + "comma-separated list of words.");
            var kept = sentences.Skip(Math.Max(0, sentences.Count - memorySize)).ToList();
            var supporting = new List<int>();
            foreach (var item in fields[2].Split(' ', StringSplitOptions.RemoveEmptyEntries))
            {
                if (!int.TryParse(item, NumberStyles.None, CultureInfo.InvariantCulture, out int line))
                    throw new InvalidDataException($"{where}: supporting fact '{item}' is not a line number.");
                if (line >= number || sentences.All(s => s.Number != line))
                    throw new InvalidDataException($"{where}: supporting fact {line} is not a sentence of the story "
                        + "before the question.");
                int index = kept.FindIndex(s => s.Number == line);
                if (index >= 0) supporting.Add(index);
            }
            questions.Add(new BabiQuestion(task, kept.Select(s => s.Words).ToArray(), question, answer,
                [.. supporting]));
        }
        if (questions.Count == 0) throw new InvalidDataException($"{source}: no questions.");
        return questions;
    }

    /// <summary>
    /// The sentences of a story written in bAbI format (numbered lines; question lines are skipped) or as plain
    /// sentences, one a line — the story a user asks a trained model about.
    /// </summary>
    public static List<string[]> ParseStory(IEnumerable<string> lines, string source)
    {
        var story = new List<string[]>();
        int lineNumber = 0;
        foreach (var raw in lines)
        {
            lineNumber++;
            if (string.IsNullOrWhiteSpace(raw)) continue;
            var match = NumberedLine().Match(raw);
            string text = match.Success ? match.Groups[2].Value : raw;
            if (match.Success && match.Groups[1].Value == "1") story.Clear();
            if (text.Contains('\t')) continue; // a question of the file, not a fact
            var words = Words(text);
            if (words.Length == 0)
                throw new InvalidDataException($"{source}, line {lineNumber}: the sentence has no words: '{raw}'.");
            story.Add(words);
        }
        if (story.Count == 0) throw new InvalidDataException($"{source}: the story has no sentences.");
        return story;
    }

    [GeneratedRegex(@"^\s*([0-9]+) (.*)$")]
    private static partial Regex NumberedLine();
}

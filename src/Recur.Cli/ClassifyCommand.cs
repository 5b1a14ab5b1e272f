using System.CommandLine;
using System.Globalization;
using System.Text.Json.Nodes;
using Recur.Classification;
using Recur.Cli.Data;
using Recur.Cli.Training;
using Recur.Kernels;
using Recur.Optim;
using Recur.Text;
using Recur.Training;
using Spectre.Console;

namespace Recur.Cli;

/// <summary>
/// <c>recur classify train|eval|predict</c>: many-to-one text classification (sentiment) from a CSV/TSV file with a
/// text and a label column, or from the aclImdb folder layout (<c>pos/*.txt</c>, <c>neg/*.txt</c>).
/// </summary>
static class ClassifyCommand
{
    static readonly string[] TextColumns = ["text", "sentence", "content", "review"];

    /// <summary>Reads (text, label) pairs. Rows with an empty text or label are errors naming the file and line.</summary>
    internal static List<(string Text, string Label)> ReadExamples(string path, string? textColumn, string labelColumn)
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
        var labels = Directory.GetDirectories(folder).Select(Path.GetFileName).Where(n => n is "pos" or "neg").Order(StringComparer.Ordinal).ToArray();
        if (labels.Length == 0) throw new InvalidDataException($"{folder}: expected sub-folders pos/ and neg/ of .txt reviews (the aclImdb layout).");
        var examples = new List<(string, string)>();
        foreach (var label in labels)
            foreach (var file in Directory.GetFiles(Path.Combine(folder, label!), "*.txt").Order(StringComparer.Ordinal))
            {
                string text = TextFiles.ReadUtf8(file).Replace("<br />", " ", StringComparison.Ordinal);
                if (string.IsNullOrWhiteSpace(text)) throw new InvalidDataException($"{file}: empty review.");
                examples.Add((text, label!));
            }
        return examples;
    }

    /// <summary>Token ids per text; a text with no known token becomes one unknown token so every text has a length.</summary>
    internal static int[][] Encode(IEnumerable<string> texts, WordTokenizer tokenizer, WordVocabulary vocabulary) =>
        texts.Select(t => vocabulary.Encode(tokenizer.Tokenize(t)) is { Length: > 0 } ids ? ids : [WordVocabulary.Unknown]).ToArray();

    static int[] LabelIds(List<(string Text, string Label)> examples, string[] labels, string source)
    {
        var unknown = examples.Select(e => e.Label).Where(l => !labels.Contains(l)).Distinct().Order(StringComparer.Ordinal).ToArray();
        if (unknown.Length > 0)
            throw new InvalidDataException($"{source}: labels {string.Join(", ", unknown.Select(l => $"'{l}'"))} are not among the model's ({string.Join(", ", labels)}).");
        return examples.Select(e => Array.IndexOf(labels, e.Label)).ToArray();
    }

    public static Command Create()
    {
        var command = new Command("classify", "Text classification (many-to-one): sentiment of sentences and reviews.");
        command.Subcommands.Add(Train());
        command.Subcommands.Add(Eval());
        command.Subcommands.Add(Predict());
        return command;
    }

    static Option<string?> TextColumn() => new("--text-column") { Description = "Text column (default: the first of text, sentence, content, review)." };

    static Option<string> LabelColumn() => new("--label-column") { Description = "Label column.", DefaultValueFactory = _ => "label" };

    static Command Train()
    {
        var data = new Option<string>("--data") { Description = "Training CSV/TSV file, or an aclImdb-style folder (pos/, neg/).", Required = true };
        var valid = new Option<string?>("--valid") { Description = "Validation file or folder (chooses the best epoch)." };
        var textColumn = TextColumn();
        var labelColumn = LabelColumn();
        var cell = CellOption.Create();
        var embed = new Option<int>("--embed") { Description = "Embedding width.", DefaultValueFactory = _ => 128 };
        var hidden = new Option<int>("--hidden") { Description = "Encoder units per direction.", DefaultValueFactory = _ => 128 };
        var layers = new Option<int>("--layers") { Description = "Stacked encoder layers.", DefaultValueFactory = _ => 1 };
        var unidirectional = new Option<bool>("--unidirectional") { Description = "Read left to right only (default: bidirectional)." };
        var pooling = new Option<string>("--pooling") { Description = "last, max, mean or attention.", DefaultValueFactory = _ => "max" };
        pooling.AcceptOnlyFromAmong("last", "max", "mean", "attention");
        var dropout = new Option<float>("--dropout") { Description = "Dropout on embeddings, between layers and before the head.", DefaultValueFactory = _ => 0.5f };
        var vectors = new Option<string?>("--embeddings") { Description = "Pretrained word vectors (GloVe or word2vec text format) of the --embed width." };
        var ensemble = new Option<int>("--ensemble") { Description = "Train this many models (seeds seed, seed + 1, …) and average their probabilities.", DefaultValueFactory = _ => 1 };
        var minFrequency = new Option<int>("--min-frequency") { Description = "Words seen fewer times become <unk>.", DefaultValueFactory = _ => 1 };
        var json = new Option<bool>("--json") { Description = "Print the final metrics as JSON." };
        var training = new TrainingOptions(5, 64, 2e-3f);
        var command = new Command("train", "Train a (bi)LSTM/GRU text classifier.")
        {
            data, valid, textColumn, labelColumn, cell, embed, hidden, layers, unidirectional, pooling, dropout, vectors, ensemble, minFrequency, json,
        };
        training.AddTo(command);
        command.SetAction(r => CommandErrors.Guard(() =>
        {
            var s = training.Read(r);
            using var threadLimit = Parallelism.Limit(s.Threads);
            if (s.Out is null) throw new UsageException("--out is required: the model, its vocabulary and checkpoints go there.");
            var trainExamples = ReadExamples(r.GetValue(data)!, r.GetValue(textColumn), r.GetValue(labelColumn)!);
            var tokenizer = new WordTokenizer();
            var vocabulary = WordVocabulary.Build(trainExamples.Select(e => tokenizer.Tokenize(e.Text)), r.GetValue(minFrequency));
            var labels = trainExamples.Select(e => e.Label).Distinct().Order(StringComparer.Ordinal).ToArray();
            if (labels.Length < 2) throw new InvalidDataException($"{r.GetValue(data)}: only one label ('{labels[0]}') in the training data.");
            var trainSet = new LabelledTexts(Encode(trainExamples.Select(e => e.Text), tokenizer, vocabulary), LabelIds(trainExamples, labels, r.GetValue(data)!));
            LabelledTexts? validSet = null;
            if (r.GetValue(valid) is { } validPath)
            {
                var validExamples = ReadExamples(validPath, r.GetValue(textColumn), r.GetValue(labelColumn)!);
                validSet = new LabelledTexts(Encode(validExamples.Select(e => e.Text), tokenizer, vocabulary), LabelIds(validExamples, labels, validPath));
            }
            var config = new TextClassifierConfig(vocabulary.Count, r.GetValue(embed), r.GetValue(hidden), labels.Length, r.GetValue(cell)!, r.GetValue(layers),
                !r.GetValue(unidirectional), r.GetValue(dropout), Enum.Parse<Pooling>(r.GetValue(pooling)!, ignoreCase: true));
            int members = r.GetValue(ensemble);
            if (members < 1) throw new UsageException("--ensemble must be positive.");
            if (members > 1 && s.Resume != null) throw new UsageException("--resume continues one model; resume an ensemble member by training it alone.");
            Directory.CreateDirectory(s.Out);
            vocabulary.Save(Path.Combine(s.Out, "vocab.json"));
            AnsiConsole.MarkupLineInterpolated($"[bold]classify[/]: {trainSet.Count} texts, {labels.Length} labels ({string.Join(", ", labels)}), vocabulary {vocabulary.Count}; {(config.Bidirectional ? "bi" : "")}{config.Cell} ×{config.NumLayers}, {config.HiddenSize} units, {config.Pooling.ToString().ToLowerInvariant()} pooling{(members > 1 ? $", an ensemble of {members}" : "")}.");
            var trained = new List<TextClassifier>();
            TrainingResult? result = null;
            for (int k = 0; k < members; k++)
            {
                // each member has its own seed and folder; the vocabulary is shared
                var model = new TextClassifier(config, new RandomGenerator(s.Seed + (ulong)k));
                if (r.GetValue(vectors) is { } vectorsPath)
                {
                    int found = PretrainedVectors.Load(vectorsPath, vocabulary, model.EmbeddingWeight);
                    if (k == 0) AnsiConsole.MarkupLineInterpolated($"Pretrained vectors for {found} of {vocabulary.Count - 2} words from {vectorsPath}.");
                }
                var task = new ClassificationTask(model, trainSet, validSet, s.Batch, new JsonObject { ["labels"] = new JsonArray(labels.Select(l => (JsonNode)l).ToArray()), ["lower_case"] = true });
                var optimizer = TrainingOptions.CreateOptimizer(s, model.Parameters());
                var schedule = TrainingOptions.CreateSchedule(s, task.BatchesPerEpoch, MetricMode.Max);
                var metric = validSet is null ? ("loss", MetricMode.Min) : ("accuracy", MetricMode.Max);
                var trainerOptions = TrainingOptions.CreateTrainerOptions(s, metric.Item1, metric.Item2) with
                {
                    Seed = s.Seed + (ulong)k,
                    OutputDirectory = members == 1 ? s.Out : Path.Combine(s.Out, $"member-{k + 1}"),
                };
                result = TrainingOptions.Run((observer, token) =>
                {
                    var trainer = new Trainer<int[]>(task, optimizer, trainerOptions, schedule, observer);
                    if (s.Resume != null) trainer.Resume(s.Resume);
                    return trainer.Fit(token);
                });
                if (result.Outcome == TrainingOutcome.Interrupted) return 130;
                trained.Add(LoadMember(trainerOptions.OutputDirectory!));
            }
            var metrics = new Dictionary<string, double>(result!.LastEvaluation ?? new Dictionary<string, double>()) { ["steps"] = result.Steps };
            if (members > 1 && validSet != null)
            {
                var report = ClassificationTask.Report(trained, validSet);
                metrics = new Dictionary<string, double> { ["loss"] = report.Loss, ["accuracy"] = report.Accuracy, ["macro_f1"] = report.MacroF1, ["members"] = members };
            }
            TrainingOptions.PrintMetrics($"classify: {result.Outcome.ToString().ToLowerInvariant()}{(members > 1 ? $", ensemble of {members} on the validation data" : $" after {result.Epochs} epochs")}", metrics, r.GetValue(json));
            return 0;
        }));
        return command;
    }

    /// <summary>One trained model: best/ if there is one, else last/.</summary>
    static TextClassifier LoadMember(string folder)
    {
        return Checkpoint.Open(folder, config => new TextClassifier(TextClassifierConfig.FromJson(config),
            new RandomGenerator(0)));
    }

    /// <summary>Loads a trained classifier (or an ensemble's members, member-*/) with its vocabulary and labels.</summary>
    internal static (List<TextClassifier> Models, WordVocabulary Vocabulary, string[] Labels) Load(string folder)
    {
        if (!Directory.Exists(folder)) throw new UsageException($"{folder}: no such model folder.");
        var memberFolders = Directory.GetDirectories(folder, "member-*").Order(StringComparer.Ordinal).ToArray();
        var models = (memberFolders.Length > 0 ? memberFolders : [folder]).Select(LoadMember).ToList();
        string first = memberFolders.Length > 0 ? memberFolders[0] : folder;
        string checkpoint = Checkpoint.Locate(first);
        var labels = Checkpoint.ReadConfig(checkpoint)["labels"]?.AsArray().Select(l => (string)l!).ToArray()
            ?? throw new InvalidDataException($"{checkpoint}: config.json has no labels.");
        string vocabularyPath = Path.Combine(folder, "vocab.json");
        var vocabulary = WordVocabulary.Load(vocabularyPath);
        foreach (var model in models)
            if (vocabulary.Count != model.Config.VocabularySize) throw new InvalidDataException($"{vocabularyPath}: {vocabulary.Count} words, the model has {model.Config.VocabularySize}.");
        return (models, vocabulary, labels);
    }

    static Command Eval()
    {
        var model = new Option<string>("--model") { Description = "Run folder of `recur classify train`.", Required = true };
        var data = new Option<string>("--data") { Description = "Labelled CSV/TSV file or aclImdb-style folder.", Required = true };
        var textColumn = TextColumn();
        var labelColumn = LabelColumn();
        var json = new Option<bool>("--json") { Description = "Print the report as JSON." };
        var int8 = Int8Inference.Option();
        var command = new Command("eval", "Accuracy, per-class precision/recall/F1 and the confusion matrix.")
        {
            model, data, textColumn, labelColumn, json, int8,
        };
        command.SetAction(r => CommandErrors.Guard(() =>
        {
            var (classifiers, vocabulary, labels) = Load(r.GetValue(model)!);
            if (r.GetValue(int8)) Int8Inference.Apply(classifiers, r.GetValue(model)!);
            var examples = ReadExamples(r.GetValue(data)!, r.GetValue(textColumn), r.GetValue(labelColumn)!);
            var set = new LabelledTexts(Encode(examples.Select(e => e.Text), new WordTokenizer(), vocabulary), LabelIds(examples, labels, r.GetValue(data)!));
            var report = ClassificationTask.Report(classifiers, set);
            if (r.GetValue(json))
            {
                Console.WriteLine(new JsonObject
                {
                    ["examples"] = set.Count, ["loss"] = report.Loss, ["accuracy"] = report.Accuracy, ["macro_f1"] = report.MacroF1,
                    ["classes"] = new JsonArray(labels.Select((l, c) => (JsonNode)new JsonObject { ["label"] = l, ["precision"] = report.Precision[c], ["recall"] = report.Recall[c], ["f1"] = report.F1[c] }).ToArray()),
                }.ToJsonString());
                return 0;
            }
            AnsiConsole.MarkupLineInterpolated($"{set.Count} examples: accuracy [bold]{report.Accuracy:P2}[/], loss {report.Loss:F4}, macro-F1 {report.MacroF1:F4}");
            var table = new Table().AddColumn("label").AddColumn(new TableColumn("precision").RightAligned()).AddColumn(new TableColumn("recall").RightAligned()).AddColumn(new TableColumn("F1").RightAligned());
            for (int c = 0; c < labels.Length; c++) table.AddRow(Markup.Escape(labels[c]), F(report.Precision[c]), F(report.Recall[c]), F(report.F1[c]));
            AnsiConsole.Write(table);
            var confusion = new Table().Title("confusion (rows: true, columns: predicted)").AddColumn("");
            foreach (var l in labels) confusion.AddColumn(new TableColumn(Markup.Escape(l)).RightAligned());
            for (int c = 0; c < labels.Length; c++)
                confusion.AddRow([Markup.Escape(labels[c]), .. Enumerable.Range(0, labels.Length).Select(k => report.Confusion[c, k].ToString(CultureInfo.InvariantCulture))]);
            AnsiConsole.Write(confusion);
            return 0;
        }));
        return command;
    }

    static Command Predict()
    {
        var model = new Option<string>("--model") { Description = "Run folder of `recur classify train`.", Required = true };
        var input = new Option<string?>("--input") { Description = "A text file: one text per line." };
        var texts = new Argument<string[]>("text") { Description = "Texts to classify.", Arity = ArgumentArity.ZeroOrMore };
        var int8 = Int8Inference.Option();
        var command = new Command("predict", "Label and probability for each text (arguments, or lines of --input).")
        {
            model, input, texts, int8,
        };
        command.SetAction(r => CommandErrors.Guard(() =>
        {
            var (classifiers, vocabulary, labels) = Load(r.GetValue(model)!);
            if (r.GetValue(int8)) Int8Inference.Apply(classifiers, r.GetValue(model)!);
            var items = (r.GetValue(texts) ?? []).ToList();
            if (r.GetValue(input) is { } file)
            {
                items.AddRange(TextFiles.ReadUtf8Lines(file).Where(l => !string.IsNullOrWhiteSpace(l)));
            }
            if (items.Count == 0) throw new UsageException("give texts as arguments or --input FILE.");
            var probabilities = ClassificationTask.Probabilities(classifiers, Encode(items, new WordTokenizer(), vocabulary));
            for (int i = 0; i < items.Count; i++)
            {
                int best = Array.IndexOf(probabilities[i], probabilities[i].Max());
                Console.WriteLine(FormattableString.Invariant($"{labels[best]}\t{probabilities[i][best]:F4}\t{items[i]}"));
            }
            return 0;
        }));
        return command;
    }

    static string F(double v) => v.ToString("F4", CultureInfo.InvariantCulture);
}

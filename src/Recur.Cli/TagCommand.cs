using System.CommandLine;
using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using Recur.Cli.Training;
using Recur.Kernels;
using Recur.Optim;
using Recur.Serialization;
using Recur.Tagging;
using Recur.Text;
using Recur.Training;
using Spectre.Console;

namespace Recur.Cli;

/// <summary>
/// <c>recur tag train|eval|predict</c>: sequence labelling (named entities with BIO-style tags) from CoNLL column
/// files, with a BiLSTM(-CRF) tagger or the HMM baseline; scores as <c>conlleval</c> computes them.
/// </summary>
static class TagCommand
{

    public static Command Create()
    {
        var command = new Command("tag",
            "Sequence labelling: named-entity recognition with BiLSTM(-CRF) or HMM taggers on CoNLL files.");
        command.Subcommands.Add(Train());
        command.Subcommands.Add(Eval());
        command.Subcommands.Add(Predict());
        return command;
    }

    /// <summary>The columns of a CoNLL file that <c>train</c> and <c>eval</c> read.</summary>
    static (Option<int> Token, Option<int> Tag) ColumnOptions() => (
        new Option<int>("--token-column") { Description = "Column of the tokens.", DefaultValueFactory = _ => 0 },
        new Option<int>("--tag-column")
        {
            Description = "Column of the tags (−1: the last).", DefaultValueFactory = _ => -1,
        });

    static Command Train()
    {
        var train = new Option<string>("--train") { Description = "Training file (CoNLL columns).", Required = true };
        var valid = new Option<string?>("--valid") { Description = "Validation file: chooses the best epoch by F1." };
        var (tokenColumn, tagColumn) = ColumnOptions();
        var crf = new Option<bool>("--crf")
        {
            Description = "A linear-chain CRF output layer (else softmax per token).",
        };
        var chars = new Option<bool>("--char-features") { Description = "A character-level BiLSTM feature per word." };
        var hmm = new Option<bool>("--hmm")
        {
            Description = "Train the hidden-Markov-model baseline instead of a neural tagger.",
        };
        var scheme = new Option<string>("--scheme")
        {
            Description = "Tag scheme the model learns in: bioes, bio or iob1 (the data may be in any).",
            DefaultValueFactory = _ => "bioes",
        };
        scheme.AcceptOnlyFromAmong("bioes", "bio", "iob1", "iob2", "iobes");
        var embed = new Option<int>("--embed")
        {
            Description = "Word embedding width.",
            DefaultValueFactory = _ => 100,
        };
        var charEmbed = new Option<int>("--char-embed")
        {
            Description = "Character embedding width.",
            DefaultValueFactory = _ => 25,
        };
        var charHidden = new Option<int>("--char-hidden")
        {
            Description = "Character BiLSTM units per direction.",
            DefaultValueFactory = _ => 25,
        };
        var hidden = new Option<int>("--hidden")
        {
            Description = "Word BiLSTM units per direction.",
            DefaultValueFactory = _ => 100,
        };
        var dropout = new Option<float>("--dropout")
        {
            Description = "Dropout on word representations and encoder outputs.",
            DefaultValueFactory = _ => 0.5f,
        };
        var layers = new Option<int>("--layers")
        {
            Description = "Stacked word BiLSTM layers.",
            DefaultValueFactory = _ => 1,
        };
        var variational = new Option<bool>("--variational-dropout")
        {
            Description = "One dropout mask per sentence, shared by its words (Gal & Ghahramani 2016).",
        };
        var wordDropout = new Option<float>("--word-dropout")
        {
            Description = "Replace each training word that is not a singleton by <unk> with this probability "
                + "(singletons: ½).",
            DefaultValueFactory = _ => 0f,
        };
        var casing = new Option<int>("--casing-embed")
        {
            Description = "Width of a word-casing class embedding (0: none).",
            DefaultValueFactory = _ => 0,
        };
        var vectors = new Option<string?>("--embeddings")
        {
            Description = "Pretrained word vectors (GloVe/word2vec text) of the --embed width, looked up lower-cased.",
        };
        var json = new Option<bool>("--json") { Description = "Print the final metrics as JSON." };
        var training = new TrainingOptions(20, 16, 1e-3f, defaultClipNorm: 5f);
        var command = new Command("train", "Train a tagger.")
        {
            train, valid, tokenColumn, tagColumn, crf, chars, hmm, scheme, embed, charEmbed, charHidden, hidden,
                layers, dropout, variational, wordDropout, casing, vectors, json,
        };
        training.AddTo(command);
        command.SetAction(r => CommandErrors.Guard(() =>
        {
            var s = training.Read(r);
            using var threadLimit = Parallelism.Limit(s.Threads);
            if (s.Out is null) throw new UsageException("--out is required: the model and its vocabularies go there.");
            if (r.GetValue(layers) < 1 || r.GetValue(hidden) < 1 || r.GetValue(embed) < 1
                || r.GetValue(dropout) is < 0f or >= 1f || r.GetValue(wordDropout) is < 0f or >= 1f)
                throw new UsageException(
                    "--layers, --hidden and --embed must be positive and --dropout and --word-dropout in [0, 1).");
            var trainSet = ConllReader.Read(r.GetValue(train)!, r.GetValue(tokenColumn), r.GetValue(tagColumn));
            var validSet = r.GetValue(valid) is { } v ? ConllReader.Read(v, r.GetValue(tokenColumn),
                r.GetValue(tagColumn)) : null;
            var target = TrainedModels.ParseScheme(r.GetValue(scheme)!);
            var converted = trainSet.Select(x => x with { Tags = TagSchemes.Convert(x.Tags, target) }).ToList();
            Directory.CreateDirectory(s.Out);
            var settings = new TaggingSettings(r.GetValue(hmm) ? "hmm" : "neural",
                target.ToString().ToLowerInvariant(), TagSchemes.Detect(trainSet.Select(x
                    => (IReadOnlyList<string>)x.Tags)).ToString().ToLowerInvariant());
            if (r.GetValue(hmm))
            {
                var clock = System.Diagnostics.Stopwatch.StartNew();
                var model = HiddenMarkovTagger.Train(converted);
                model.Save(Path.Combine(s.Out, "hmm.json"));
                RunSettingsJson.Save(Path.Combine(s.Out, TrainedModels.TaggingSettingsFile), settings,
                    RunSettingsJson.Default.TaggingSettings);
                var metrics = new Dictionary<string, double>
                {
                    ["train_seconds"] = clock.Elapsed.TotalSeconds,
                    ["tags"] = model.Tags.Count
                };
                if (validSet != null)
                {
                    var validScheme = TagSchemes.Detect(validSet.Select(x => (IReadOnlyList<string>)x.Tags));
                    var score = Score(validSet, sentence => TagSchemes.Convert(model.Tag(sentence), validScheme));
                    metrics["f1"] = score.Overall.F1 * 100;
                    metrics["precision"] = score.Overall.Precision * 100;
                    metrics["recall"] = score.Overall.Recall * 100;
                }
                TrainingOptions.PrintMetrics("tag: HMM", metrics, r.GetValue(json));
                return 0;
            }
            var vocabulary = TaggingVocabulary.Build(trainSet);
            var tags = converted.SelectMany(x => x.Tags).Distinct().OrderBy(t => t == "O" ? "" : t[2..] + t[0],
                StringComparer.Ordinal).ToArray();
            var config = new SequenceTaggerConfig(vocabulary.Words.Count, vocabulary.Chars.VocabularySize, tags,
                target, r.GetValue(crf), r.GetValue(chars),
                r.GetValue(embed), r.GetValue(charEmbed), r.GetValue(charHidden), r.GetValue(hidden),
                    r.GetValue(dropout), r.GetValue(casing),
                r.GetValue(layers), r.GetValue(variational));
            var tagger = new SequenceTagger(config, new RandomGenerator(s.Seed));
            if (r.GetValue(vectors) is { } vectorsPath)
            {
                int found = PretrainedVectors.Load(vectorsPath, vocabulary.Words, tagger.WordEmbeddingWeight);
                AnsiConsole.MarkupLineInterpolated(
                    $"Pretrained vectors for {found} of {vocabulary.Words.Count - 2} words from {vectorsPath}.");
            }
            vocabulary.Save(s.Out);
            RunSettingsJson.Save(Path.Combine(s.Out, TrainedModels.TaggingSettingsFile), settings,
                RunSettingsJson.Default.TaggingSettings);
            var task = new TaggingTask(tagger, vocabulary, converted, validSet, s.Batch,
                wordDropout: r.GetValue(wordDropout));
            AnsiConsole.MarkupInterpolated($"[bold]tag[/]: {trainSet.Count:N0} sentences, ");
            AnsiConsole.MarkupInterpolated(
                $"{trainSet.Sum(x => x.Tokens.Length):N0} tokens, {vocabulary.Words.Count:N0} ");
            AnsiConsole.MarkupInterpolated($"words, {tags.Length} tags ({target.ToString().ToUpperInvariant()}); ");
            string head = config.Crf ? "-CRF" : " + softmax";
            string characters = config.CharFeatures ? " with character features" : "";
            AnsiConsole.MarkupLineInterpolated(
                $"BiLSTM{head}{characters}, {tagger.Parameters().Sum(p => (long)p.Length):N0} parameters.");
            var optimizer = TrainingOptions.CreateOptimizer(s, tagger.Parameters());
            var schedule = TrainingOptions.CreateSchedule(s, task.BatchesPerEpoch, MetricMode.Max);
            var options = TrainingOptions.CreateTrainerOptions(s, validSet is null ? "loss" : "f1",
                validSet is null ? MetricMode.Min : MetricMode.Max);
            var result = TrainingOptions.Train(task, optimizer, options, schedule, s.Resume);
            if (result.Outcome == TrainingOutcome.Interrupted) return 130;
            var final = TrainingOptions.Summary(result);
            if (result.BestMetric is double best && validSet != null) final["best_f1"] = best;
            TrainingOptions.PrintMetrics(
                $"tag: {TrainingOptions.Outcome(result)} after {result.Epochs} epochs", final,
                r.GetValue(json));
            return 0;
        }));
        return command;
    }

    static ConllEvaluation Score(IReadOnlyList<TaggedSentence> sentences, Func<string[], string[]> tag) =>
        ConllEvaluation.Score(sentences.Select(x => (IReadOnlyList<string>)x.Tags).ToList(),
            sentences.Select(x => (IReadOnlyList<string>)tag(x.Tokens)).ToList());

    /// <summary>
    /// A trained tagger (or, for several run folders of one configuration, their ensemble): a function from tokens to
    /// tags in the data's scheme.
    /// </summary>
    internal static Func<IReadOnlyList<IReadOnlyList<string>>, List<string[]>> Load(IReadOnlyList<string> folders,
        bool int8 = false)
    {
        if (folders.Count == 1) return TrainedModels.Tagger(folders[0], int8);
        var members = folders.Select(folder => TrainedModels.NeuralTagger(folder, int8)).ToList();
        var words = members[0].Vocabulary.Words.Words;
        foreach (var (m, folder) in members.Zip(folders))
            if (!m.Vocabulary.Words.Words.SequenceEqual(words)) throw new InvalidDataException(
                $"{folder}: its vocabulary differs from {folders[0]}'s; ensemble runs trained on the same data.");
        return sentences => SequenceTagger.TagEnsemble(members.Select(m => m.Model).ToList(), members[0].Vocabulary,
            sentences).Select(t => TagSchemes.Convert(t, members[0].Output)).ToList();
    }

    static Command Eval()
    {
        var model = new Option<string[]>("--model")
        {
            Description = "Run folder of `recur tag train`; several (seeds of one configuration) form an ensemble.",
            Required = true,
            AllowMultipleArgumentsPerToken = true,
        };
        var test = new Option<string>("--test") { Description = "Test file (CoNLL columns).", Required = true };
        var (tokenColumn, tagColumn) = ColumnOptions();
        var predictions = new Option<string?>("--predictions")
        {
            Description = "Also write 'token gold predicted' lines (the input of the conlleval script).",
        };
        var json = new Option<bool>("--json") { Description = "Print the scores as JSON." };
        var int8 = Int8Inference.Option();
        var command = new Command("eval",
            "Entity-level precision, recall and F1 (overall and per type) as conlleval computes them.")
        {
            model, test, tokenColumn, tagColumn, predictions, json, int8,
        };
        command.SetAction(r => CommandErrors.Guard(() =>
        {
            var tagger = Load(r.GetValue(model)!, r.GetValue(int8));
            var sentences = ConllReader.Read(r.GetValue(test)!, r.GetValue(tokenColumn), r.GetValue(tagColumn));
            var clock = System.Diagnostics.Stopwatch.StartNew();
            var predicted = tagger(sentences.Select(x => (IReadOnlyList<string>)x.Tokens).ToList());
            double seconds = clock.Elapsed.TotalSeconds;
            var score = ConllEvaluation.Score(sentences.Select(x => (IReadOnlyList<string>)x.Tags).ToList(),
                predicted.Select(p => (IReadOnlyList<string>)p).ToList());
            if (r.GetValue(predictions) is { } path)
            {
                var text = new StringBuilder();
                for (int i = 0; i < sentences.Count; i++)
                {
                    for (int t
                        = 0; t < sentences[i].Tokens.Length; t++) text.Append(sentences[i].Tokens[t]).Append(
                        ' ').Append(sentences[i].Tags[t]).Append(' ').Append(predicted[i][t]).Append('\n');
                    text.Append('\n');
                }
                AtomicFile.WriteAllText(path, text.ToString());
            }
            if (r.GetValue(json))
            {
                var types = new JsonObject();
                foreach (var (type,
                    s) in score.ByType) types[type] = new JsonObject
                    {
                        ["precision"] = s.Precision * 100,
                        ["recall"] = s.Recall * 100, ["f1"] = s.F1 * 100, ["gold"] = s.Gold, ["predicted"] = s.Predicted
                    };
                Console.WriteLine(new JsonObject
                {
                    ["sentences"] = sentences.Count, ["tokens"] = score.Tokens,
                    ["accuracy"] = score.TokenAccuracy * 100, ["precision"] = score.Overall.Precision * 100,
                    ["recall"] = score.Overall.Recall * 100, ["f1"] = score.Overall.F1 * 100, ["types"] = types,
                    ["seconds"] = seconds,
                }.ToJsonString());
                return 0;
            }
            AnsiConsole.MarkupInterpolated($"{sentences.Count:N0} sentences, {score.Tokens:N0} tokens ");
            AnsiConsole.MarkupInterpolated(
                $"({score.Tokens / Math.Max(seconds, 1e-9):N0} tokens/s): accuracy {score.TokenAccuracy:P2}; ");
            AnsiConsole.MarkupInterpolated(
                $"precision {score.Overall.Precision:P2}, recall {score.Overall.Recall:P2}, ");
            AnsiConsole.MarkupLineInterpolated($"[bold]F1 {score.Overall.F1 * 100:F2}[/]");
            var table
                = new Table().AddColumn("type").AddColumn(new TableColumn("precision").RightAligned()).AddColumn(
                new TableColumn("recall").RightAligned())
                .AddColumn(new TableColumn("F1").RightAligned()).AddColumn(new TableColumn("gold").RightAligned(
                    )).AddColumn(new TableColumn("predicted").RightAligned());
            foreach (var (type, s) in score.ByType)
                table.AddRow(Markup.Escape(type), F(s.Precision * 100), F(s.Recall * 100), F(s.F1 * 100),
                    s.Gold.ToString(CultureInfo.InvariantCulture), s.Predicted.ToString(CultureInfo.InvariantCulture));
            AnsiConsole.Write(table);
            return 0;
        }));
        return command;
    }

    static Command Predict()
    {
        var model = new Option<string>("--model") { Description = "Run folder of `recur tag train`.", Required = true };
        var input = new Option<string?>("--input") { Description = "A text file: one sentence per line." };
        var raw = new Option<bool>("--raw")
        {
            Description = "Split raw text into words and punctuation (default: tokens are separated by spaces).",
        };
        var sentences = new Argument<string[]>("sentence")
        {
            Description = "Sentences to tag.",
            Arity = ArgumentArity.ZeroOrMore,
        };
        var command = new Command("predict",
            "Tag sentences: prints each token with its tag, then the entity spans.") { model, input, raw, sentences };
        command.SetAction(r => CommandErrors.Guard(() =>
        {
            var tagger = TrainedModels.Tagger(r.GetValue(model)!);
            var lines = (r.GetValue(sentences) ?? []).ToList();
            if (r.GetValue(input) is { } file) lines.AddRange(TextFiles.ReadUtf8(file).Split('\n').Where(l
                => !string.IsNullOrWhiteSpace(l)));
            if (lines.Count == 0) throw new UsageException("give sentences as arguments or --input FILE.");
            var splitter = new WordTokenizer(lowerCase: false);
            var tokens = lines.Select(l
                => (IReadOnlyList<string>)(r.GetValue(raw) ? splitter.Tokenize(l).ToArray() : l.Split((char[]?)null,
                StringSplitOptions.RemoveEmptyEntries))).ToList();
            var tags = tagger(tokens);
            for (int i = 0; i < tokens.Count; i++)
            {
                Console.WriteLine(string.Join(' ', tokens[i].Select((t, k) => $"{t}/{tags[i][k]}")));
                foreach (var chunk in TagSchemes.Chunks(tags[i]))
                {
                    string words = string.Join(' ', tokens[i].Skip(chunk.Start).Take(chunk.End - chunk.Start));
                    Console.WriteLine($"  {chunk.Type}\t{words}\t[{chunk.Start}, {chunk.End})");
                }
            }
            return 0;
        }));
        return command;
    }

    static string F(double v) => v.ToString("F2", CultureInfo.InvariantCulture);
}

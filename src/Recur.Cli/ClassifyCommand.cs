using System.CommandLine;
using System.Globalization;
using System.Text.Json.Nodes;
using Recur.Classification;
using Recur.Cli.Data;
using Recur.Cli.Training;
using Recur.Kernels;
using Recur.Nn.Recurrent;
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
    static int[] LabelIds(List<(string Text, string Label)> examples, string[] labels, string source)
    {
        var unknown = examples.Select(e => e.Label).Where(l =>
            !labels.Contains(l)).Distinct().Order(StringComparer.Ordinal).ToArray();
        if (unknown.Length > 0)
        {
            string listed = string.Join(", ", unknown.Select(l => $"'{l}'"));
            throw new InvalidDataException(
                $"{source}: labels {listed} are not among the model's ({string.Join(", ", labels)}).");
        }
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

    static Option<string?> TextColumn() =>
        new("--text-column") { Description = "Text column (default: the first of text, sentence, content, review)." };

    static Option<string> LabelColumn() => new("--label-column")
    {
        Description = "Label column.",
        DefaultValueFactory = _ => "label"
    };

    static Command Train()
    {
        var data = new Option<string>("--data")
        {
            Description = "Training CSV/TSV file, or an aclImdb-style folder (pos/, neg/).", Required = true,
        };
        var valid = new Option<string?>("--valid")
        {
            Description = "Validation file or folder (chooses the epoch; compares the network with the baselines).",
        };
        var validFraction = new Option<double>("--valid-fraction")
        {
            Description = "Without --valid, hold out this fraction of each label's training texts for validation "
                + "(0: none).",
            DefaultValueFactory = _ => 0.1,
        };
        var kind = new Option<string>("--model")
        {
            Description = "rnn (the recurrent network, compared with the baselines), han (a hierarchical attention "
                + "network: words into sentence vectors, sentences into the text's), or one linear baseline alone: "
                + "nbsvm, logreg or nb.",
            DefaultValueFactory = _ => "rnn",
        };
        kind.AcceptOnlyFromAmong("rnn", "han", "nbsvm", "logreg", "nb");
        var maxTokens = new Option<int>("--max-tokens")
        {
            Description = "Read at most this many tokens of a text (0: all); --truncate chooses which.",
            DefaultValueFactory = _ => 0,
        };
        var truncate = new Option<string>("--truncate")
        {
            Description = "Which tokens a long text keeps: head, tail, or head+tail (a quarter from the start, the "
                + "rest from the end).",
            DefaultValueFactory = _ => "head",
        };
        truncate.AcceptOnlyFromAmong("head", "tail", "head+tail");
        var chunk = new Option<int>("--chunk")
        {
            Description = "Chunked reading: encode chunks of this many tokens separately and max-pool their vectors "
                + "(0: read the text whole).",
            DefaultValueFactory = _ => 0,
        };
        var fromLm = new Option<string?>("--from-lm")
        {
            Description = "Start from a word-level language model (a run folder of `lm train --tokenizer word`): "
                + "its vocabulary, embedding and layers become the encoder (one direction), read with concat pooling; "
                + "the encoder stays frozen for the first --frozen-epochs, then trains whole (--unfreeze gradual: a "
                + "layer an epoch from the top, ULMFiT's gradual unfreezing).",
        };
        var unfreeze = new Option<string>("--unfreeze")
        {
            Description = "With --from-lm, after --frozen-epochs: all (every layer at once; better on validation on "
                + "the IMDB sample, docs/classification.md) or gradual (one more layer each epoch, from the top "
                + "encoder layer down to the embedding).",
            DefaultValueFactory = _ => "all",
        };
        unfreeze.AcceptOnlyFromAmong("gradual", "all");
        var weightDrop = new Option<float?>("--weight-drop")
        {
            Description = "DropConnect on the encoder's recurrent matrices in training (default: 0, or with --from-lm "
                + "the language model's).",
        };
        var frozenEpochs = new Option<int>("--frozen-epochs")
        {
            Description = "With --from-lm, epochs that train only the head before the whole network.",
            DefaultValueFactory = _ => 1,
        };
        var layerDecay = new Option<float>("--layer-decay")
        {
            Description = "With --from-lm, discriminative learning rates: each layer nearer the input learns this "
                + "many times more slowly than the one above it (ULMFiT uses 2.6; the default 1, one rate, did better "
                + "on the IMDB sample).",
            DefaultValueFactory = _ => 1f,
        };
        var sentenceLength = new Option<int>("--sentence-length")
        {
            Description = "With --model han, the longest sentence in tokens (longer ones are cut).",
            DefaultValueFactory = _ => 50,
        };
        var noBaselines = new Option<bool>("--no-baselines")
        {
            Description = "Do not fit the linear baselines beside the network.",
        };
        var textColumn = TextColumn();
        var labelColumn = LabelColumn();
        var cell = CellOption.Create();
        var embed = new Option<int>("--embed") { Description = "Embedding width.", DefaultValueFactory = _ => 128 };
        var hidden = new Option<int>("--hidden")
        {
            Description = "Encoder units per direction.", DefaultValueFactory = _ => 128,
        };
        var layers = new Option<int>("--layers")
        {
            Description = "Stacked encoder layers.",
            DefaultValueFactory = _ => 1
        };
        var unidirectional = new Option<bool>("--unidirectional")
        {
            Description = "Read left to right only (default: bidirectional).",
        };
        var pooling = new Option<string>("--pooling")
        {
            Description = "last, max, mean or attention.", DefaultValueFactory = _ => "max",
        };
        pooling.AcceptOnlyFromAmong("last", "max", "mean", "attention");
        var dropout = new Option<float>("--dropout")
        {
            Description = "Dropout on embeddings, between layers and before the head.", DefaultValueFactory = _ => 0.5f,
        };
        var vectors = new Option<string?>("--embeddings")
        {
            Description = "Pretrained word vectors (GloVe or word2vec text format) of the --embed width.",
        };
        var ensemble = new Option<int>("--ensemble")
        {
            Description = "Train this many models (seeds seed, seed + 1, …) and average their probabilities.",
            DefaultValueFactory = _ => 1,
        };
        var minFrequency = new Option<int>("--min-frequency")
        {
            Description = "Words seen fewer times become <unk>.", DefaultValueFactory = _ => 1,
        };
        var json = new Option<bool>("--json") { Description = "Print the final metrics as JSON." };
        var training = new TrainingOptions(5, 64, 2e-3f);
        var command = new Command("train", "Train a (bi)LSTM/GRU text classifier beside linear baselines, or a "
            + "baseline alone.")
        {
            data, valid, validFraction, kind, noBaselines, maxTokens, truncate, chunk, sentenceLength, fromLm,
            frozenEpochs, unfreeze, weightDrop, layerDecay, textColumn,
            labelColumn, cell, embed, hidden, layers, unidirectional, pooling, dropout, vectors, ensemble, minFrequency,
            json,
        };
        training.AddTo(command);
        command.SetAction(r => CommandErrors.Guard(() =>
        {
            var s = training.Read(r);
            using var threadLimit = Parallelism.Limit(s.Threads);
            if (s.Out is null)
                throw new UsageException("--out is required: the model, its vocabulary and checkpoints go there.");
            string dataPath = r.GetValue(data)!;
            var examples = LabelledTextFiles.Read(dataPath, r.GetValue(textColumn), r.GetValue(labelColumn)!);
            var labels = examples.Select(e => e.Label).Distinct().Order(StringComparer.Ordinal).ToArray();
            if (labels.Length < 2)
                throw new InvalidDataException($"{dataPath}: only one label ('{labels[0]}') in the training data.");
            var (trainExamples, validExamples, validSource) = Validation(examples, labels, dataPath, r.GetValue(valid),
                r.GetValue(validFraction), s.Seed, r.GetValue(textColumn), r.GetValue(labelColumn)!);
            var tokenizer = new WordTokenizer();
            var trainTokens = trainExamples.Select(e => (IReadOnlyList<string>)tokenizer.Tokenize(e.Text)).ToArray();
            var validTokens = validExamples?.Select(e => (IReadOnlyList<string>)tokenizer.Tokenize(e.Text)).ToArray();
            var trainLabels = LabelIds(trainExamples, labels, dataPath);
            var validLabels = validExamples is null ? null : LabelIds(validExamples, labels, validSource!);
            var labelJson = new JsonArray(labels.Select(l => (JsonNode)l).ToArray());
            string modelKind = r.GetValue(kind)!;
            Say($"classify: {trainTokens.Length} training texts "
                + $"({trainTokens.Average(t => t.Count):F0} words on average), {labels.Length} labels "
                + $"({string.Join(", ", labels)}); validation: {validSource ?? "none"}.");
            bool network = modelKind is "rnn" or "han";
            var kinds = !network ? [LinearTextClassifier.Parse(modelKind)]
                : r.GetValue(noBaselines) ? [] : Enum.GetValues<LinearModelKind>();
            var baselines = validTokens is null ? [] : LinearBaseline.Fit(kinds, trainTokens, trainLabels,
                validTokens, validLabels!, labels.Length);
            ClaimRunFolder(s.Out, network, s.Overwrite);
            if (!network)
            {
                var model = baselines.Count > 0 ? baselines[0].Model
                    : LinearTextClassifier.Train(kinds[0], trainTokens, trainLabels, labels.Length);
                model.Save(Path.Combine(s.Out, TrainedModels.LinearModelFile),
                    new JsonObject { ["labels"] = labelJson });
                PrintComparison(baselines, null, null);
                AnsiConsole.MarkupLineInterpolated($"Saved {Path.Combine(s.Out, TrainedModels.LinearModelFile)}.");
                return 0;
            }
            if (baselines.Count > 0) PrintComparison(baselines, null, null);
            CellKind cellName = r.GetValue(cell);
            if (trainTokens.Length < SmallData)
            {
                // small labelled sets: smaller batches give more steps; long texts are read sentence by sentence
                var chosen = new List<string>();
                if (!training.Given(r, "--batch"))
                {
                    s = s with { Batch = SmallDataBatch };
                    chosen.Add($"batch {SmallDataBatch}");
                }
                if (r.GetResult(kind) is not { Implicit: false } && r.GetValue(chunk) == 0 && r.GetValue(fromLm) is null
                    && trainTokens.Average(t => t.Count) > LongText)
                {
                    modelKind = "han";
                    chosen.Add("--model han");
                    if (r.GetResult(cell) is not { Implicit: false })
                    {
                        cellName = CellKind.Gru;
                        chosen.Add("--cell gru");
                    }
                }
                if (chosen.Count > 0)
                    Say($"Settings for a small set{(modelKind == "han" ? " of long texts" : "")}: "
                        + $"{string.Join(", ", chosen)} (chosen on the IMDB sample, docs/classification.md; "
                        + "give them to override).");
            }
            var pretrained = r.GetValue(fromLm) is { } lmFolder ? Pretrained.Load(lmFolder) : null;
            if (pretrained is not null && modelKind == "han")
                throw new UsageException("--from-lm starts a network that reads whole texts (or chunks), not --model "
                    + "han.");
            if (r.GetValue(frozenEpochs) < 0) throw new UsageException("--frozen-epochs must be 0 or positive.");
            if (!(r.GetValue(layerDecay) >= 1)) throw new UsageException("--layer-decay must be at least 1.");
            var vocabulary = pretrained?.Vocabulary ?? WordVocabulary.Build(trainTokens, r.GetValue(minFrequency));
            var trainSet = new LabelledTexts(TrainedModels.Encode(trainTokens, vocabulary), trainLabels);
            var validSet = validTokens is null ? null : new LabelledTexts(TrainedModels.Encode(validTokens, vocabulary),
                validLabels!);
            var config = NetworkConfig(modelKind == "han", vocabulary, labels.Length, r.GetValue(maxTokens),
                r.GetValue(truncate)!, r.GetValue(chunk), r.GetValue(sentenceLength),
                r.GetResult(pooling) is { Implicit: false } ? r.GetValue(pooling) : null) with
            {
                EmbeddingSize = r.GetValue(embed),
                HiddenSize = r.GetValue(hidden),
                Cell = cellName,
                NumLayers = r.GetValue(layers),
                Bidirectional = !r.GetValue(unidirectional),
                Dropout = r.GetValue(dropout),
                WeightDrop = r.GetValue(weightDrop) ?? 0f,
            };
            if (config.WeightDrop is not (>= 0 and < 1))
                throw new UsageException($"--weight-drop must be in [0, 1), got {config.WeightDrop}.");
            if (pretrained is not null)
                config = config with
                {
                    EmbeddingSize = pretrained.Config.EmbeddingSize,
                    HiddenSize = pretrained.Config.HiddenSize,
                    Cell = pretrained.Config.Cell,
                    NumLayers = pretrained.Config.NumLayers,
                    Bidirectional = false,
                    WeightDrop = r.GetValue(weightDrop) ?? pretrained.Config.WeightDrop,
                    Pooling = r.GetResult(pooling) is { Implicit: false } ? config.Pooling : Pooling.Concat,
                };
            int members = r.GetValue(ensemble);
            if (members < 1) throw new UsageException("--ensemble must be positive.");
            if (members > 1 && s.Resume != null)
                throw new UsageException("--resume continues one model; resume an ensemble member by training it "
                    + "alone.");
            vocabulary.Save(Path.Combine(s.Out, "vocab.json"));
            Say($"Network: vocabulary {vocabulary.Count}; "
                + $"{(config.Bidirectional ? "bi" : "")}{config.Cell.Name()} ×{config.NumLayers}, "
                + $"{config.HiddenSize} units, "
                + $"{config.Pooling.ToString().ToLowerInvariant()} pooling"
                + (config.Segmentation == Segmentation.Sentences
                    ? $", hierarchical (sentences of at most {config.SegmentLength} tokens)"
                    : config.Segmentation == Segmentation.Chunks ? $", chunks of {config.SegmentLength} tokens" : "")
                + (config.MaxTokens > 0 ? $", the {config.Truncation} {config.MaxTokens} tokens" : "")
                + $"{(members > 1 ? $", an ensemble of {members}" : "")}.");
            if (trainSet.Count < SmallData && pretrained is null)
                Say($"{trainSet.Count} labelled texts are few for a network "
                    + "trained from scratch; linear models on word and bigram counts often do better on so little "
                    + "data (compare them on validation below).", "yellow");
            var trained = new List<TextClassifier>();
            TrainingResult? result = null;
            var clock = System.Diagnostics.Stopwatch.StartNew();
            for (int k = 0; k < members; k++)
            {
                // each member has its own seed and folder; the vocabulary is shared
                var model = new TextClassifier(config, new RandomGenerator(s.Seed + (ulong)k));
                pretrained?.Apply(model);
                if (r.GetValue(vectors) is { } vectorsPath)
                {
                    int found = PretrainedVectors.Load(vectorsPath, vocabulary, model.EmbeddingWeight);
                    if (k == 0)
                        AnsiConsole.MarkupLineInterpolated(
                            $"Pretrained vectors for {found} of {vocabulary.Count - 2} words from {vectorsPath}.");
                }
                var task = new ClassificationTask(model, trainSet, validSet, s.Batch,
                    new JsonObject { ["labels"] = labelJson.DeepClone(), ["lower_case"] = true },
                    frozenEpochs: pretrained is null ? 0 : r.GetValue(frozenEpochs),
                    gradualUnfreezing: pretrained is not null && r.GetValue(unfreeze) == "gradual");
                var optimizer = TrainingOptions.CreateOptimizer(s, model.Parameters());
                if (pretrained is not null)
                    optimizer.LearningRateScales = Pretrained.Scales(model, r.GetValue(layerDecay));
                var schedule = TrainingOptions.CreateSchedule(s, task.BatchesPerEpoch, MetricMode.Max);
                var metric = validSet is null ? ("loss", MetricMode.Min) : ("accuracy", MetricMode.Max);
                var trainerOptions = TrainingOptions.CreateTrainerOptions(s, metric.Item1, metric.Item2) with
                {
                    Seed = s.Seed + (ulong)k,
                    OutputDirectory = members == 1 ? s.Out : Path.Combine(s.Out, $"member-{k + 1}"),
                };
                result = TrainingOptions.Train(task, optimizer, trainerOptions, schedule, s.Resume);
                if (result.Outcome == TrainingOutcome.Interrupted) return 130;
                trained.Add(TrainedModels.ClassifierMember(trainerOptions.OutputDirectory!));
            }
            var finished = result!;
            var metrics = TrainingOptions.Summary(finished);
            if (validSet != null)
            {
                // the chosen epoch (best/) of each member, averaged: the model classify eval and predict will load
                var report = ClassificationTask.Report(trained, validSet);
                metrics = new Dictionary<string, double>
                {
                    ["loss"] = report.Loss, ["accuracy"] = report.Accuracy, ["macro_f1"] = report.MacroF1,
                    ["steps"] = finished.Steps,
                };
                if (members > 1) metrics["members"] = members;
                if (baselines.Count > 0)
                {
                    PrintComparison(baselines, report, clock.Elapsed.TotalSeconds);
                    var best = baselines.MaxBy(b => b.Validation.Accuracy)!;
                    foreach (var baseline in baselines)
                        metrics[$"{LinearTextClassifier.Name(baseline.Model.Kind)}_accuracy"] =
                            baseline.Validation.Accuracy;
                    if (best.Validation.Accuracy > report.Accuracy)
                    {
                        string folder = Path.Combine(s.Out, "baseline");
                        Directory.CreateDirectory(folder);
                        best.Model.Save(Path.Combine(folder, TrainedModels.LinearModelFile),
                            new JsonObject { ["labels"] = labelJson });
                        string name = LinearTextClassifier.Name(best.Model.Kind);
                        Say($"The {name} baseline is more accurate on validation "
                            + $"than the network ({best.Validation.Accuracy:P1} against {report.Accuracy:P1}). It is "
                            + $"saved in {folder}: `classify eval --model {folder}` and `classify predict` use it, and "
                            + $"`classify train --model {name}` trains it alone.", "yellow");
                    }
                }
            }
            TrainingOptions.PrintMetrics($"classify: {TrainingOptions.Outcome(finished)}"
                + (members > 1 ? $", ensemble of {members}" : $" after {finished.Epochs} epochs"), metrics,
                r.GetValue(json));
            return 0;
        }));
        return command;
    }

    /// <summary>
    /// The network's reading settings from the command line: whole texts (or chunks), cut to a token budget, or a
    /// hierarchical attention network over sentences ending at '.', '!' or '?' (pooling words by attention unless
    /// <paramref name="pooling"/> says otherwise).
    /// </summary>
    static TextClassifierConfig NetworkConfig(bool hierarchical, WordVocabulary vocabulary, int classes,
        int maxTokens, string truncate, int chunk, int sentenceLength, string? pooling)
    {
        if (maxTokens < 0) throw new UsageException("--max-tokens must be 0 (all) or positive.");
        if (chunk < 0) throw new UsageException("--chunk must be 0 (whole texts) or positive.");
        if (hierarchical && chunk > 0)
            throw new UsageException("--chunk reads fixed-size chunks; --model han reads sentences. Choose one.");
        if (hierarchical && sentenceLength < 1) throw new UsageException("--sentence-length must be positive.");
        var wordPooling = pooling ?? (hierarchical ? "attention" : "max");
        return new TextClassifierConfig(vocabulary.Count, 1, 1, classes,
            Pooling: Enum.Parse<Pooling>(wordPooling, ignoreCase: true))
        {
            MaxTokens = maxTokens,
            Truncation = truncate switch
            {
                "tail" => Truncation.Tail,
                "head+tail" => Truncation.HeadAndTail,
                _ => Truncation.Head,
            },
            Segmentation = hierarchical ? Segmentation.Sentences : chunk > 0 ? Segmentation.Chunks : Segmentation.None,
            SegmentLength = hierarchical ? sentenceLength : chunk,
            SentenceEnds = hierarchical
                ? [.. new[] { ".", "!", "?" }.Select(vocabulary.Id).Where(id => id != WordVocabulary.Unknown)]
                : [],
        };
    }

    /// <summary>
    /// What a classifier takes from a word-level language model: its vocabulary (as a classifier's, padding and
    /// unknown first), its configuration, and <see cref="Apply"/>, which copies the embedding rows and the recurrent
    /// layers into a classifier built with that vocabulary and a one-direction encoder of the same shape.
    /// </summary>
    sealed record Pretrained(WordVocabulary Vocabulary, Language.LanguageModelConfig Config,
        Language.LanguageModel Model, int[] ModelIds)
    {
        public static Pretrained Load(string folder)
        {
            var (model, tokenizer) = Language.LanguageModel.Load(CliOutput.ModelFolder(folder));
            if (tokenizer is not WordLevelTokenizer { Splitting: WordSplitting.Words, LowerCase: true } words)
                throw new UsageException($"{folder}: --from-lm needs a language model trained with --tokenizer word "
                    + "--classifier-words, whose words are split as the classifier splits them.");
            if (model.Config.Recurrent.ProjSize > 0)
                throw new UsageException($"{folder}: the language model projects its LSTM to the embedding width "
                    + "(--tie-weights with --hidden ≠ --embed); a classifier's encoder has no projection.");
            var specials = Tokenizers.Specials.Count;
            var list = new List<string> { "<pad>", "<unk>" };
            var ids = new List<int> { -1, Tokenizers.Specials.ToList().IndexOf("<unk>") };
            for (int id = specials; id < words.VocabularySize; id++)
            {
                list.Add(words.TokenText(id));
                ids.Add(id);
            }
            return new(WordVocabulary.FromWords(list), model.Config, model, [.. ids]);
        }

        /// <summary>
        /// ULMFiT's discriminative rates for a classifier started from a language model: the head (and pooling) at
        /// the full rate, encoder layer k of L at 1/decay^(L − k), the embedding at 1/decay^(L + 1).
        /// </summary>
        public static float[] Scales(TextClassifier classifier, float decay)
        {
            int layers = classifier.Config.NumLayers;
            return classifier.NamedParameters().Select(p =>
            {
                if (p.Name.StartsWith("embedding.", StringComparison.Ordinal)) return MathF.Pow(decay, -(layers + 1));
                if (!p.Name.StartsWith("encoder.", StringComparison.Ordinal)) return 1f;
                var digits = System.Text.RegularExpressions.Regex.Match(p.Name, @"_l(\d+)").Groups[1].Value;
                int layer = digits.Length > 0 ? int.Parse(digits, CultureInfo.InvariantCulture) : layers - 1;
                return MathF.Pow(decay, -(layers - layer));
            }).ToArray();
        }

        public void Apply(TextClassifier classifier)
        {
            int width = Config.EmbeddingSize;
            var from = Model.NamedParameters().ToDictionary(p => p.Name, p => p.Value);
            var target = classifier.EmbeddingWeight.Span;
            var source = from["embedding.weight"].Span;
            for (int row = 1; row < ModelIds.Length; row++)
                source.Slice(ModelIds[row] * width, width).CopyTo(target.Slice(row * width, width));
            foreach (var (name, value) in classifier.NamedParameters())
            {
                if (!name.StartsWith("encoder.", StringComparison.Ordinal)) continue;
                var lmValue = from["rnn." + name["encoder.".Length..]];
                if (lmValue.Length != value.Length)
                    throw new InvalidDataException($"--from-lm: {name} has {value.Length} values, the language "
                        + $"model's {lmValue.Length}.");
                lmValue.Span.CopyTo(value.Span);
            }
        }
    }

    /// <summary>
    /// Makes <paramref name="folder"/> ready for a new run of one kind: a folder holding the other kind's model is
    /// refused without <c>--overwrite</c> (for a network's run, by <see cref="RunFolder.CheckNew"/>); with it, a stale
    /// <c>linear.json</c> is removed before a network trains (eval and predict read <c>linear.json</c> first), while a
    /// linear model written over a network takes precedence.
    /// </summary>
    static void ClaimRunFolder(string folder, bool network, bool overwrite)
    {
        if (!network)
        {
            // a network's checkpoints, log or unfinished start: the check every training verb makes
            RunFolder.CheckNew(folder, overwrite);
            Directory.CreateDirectory(folder);
            return;
        }
        string linear = Path.Combine(folder, TrainedModels.LinearModelFile);
        if (File.Exists(linear))
        {
            if (!overwrite)
                throw new UsageException($"{folder} holds a linear model from an earlier run; pass --overwrite to "
                    + "replace it, or choose another --out.");
            File.Delete(linear);
        }
        Directory.CreateDirectory(folder);
    }

    /// <summary>Prints plain text (no markup), optionally in a Spectre style such as <c>yellow</c>.</summary>
    static void Say(string text, string? style = null) =>
        AnsiConsole.MarkupLine(style is null ? Markup.Escape(text) : $"[{style}]{Markup.Escape(text)}[/]");

    /// <summary>
    /// Below this many training texts <c>classify train</c> says a network may be the wrong choice and, unless told
    /// otherwise, trains in batches of <see cref="SmallDataBatch"/> and reads texts longer than <see cref="LongText"/>
    /// tokens on average with a hierarchical network.
    /// </summary>
    const int SmallData = 5000;

    /// <summary>The batch size for small training sets.</summary>
    const int SmallDataBatch = 16;

    /// <summary>Mean tokens per text above which a small set is read by sentences.</summary>
    const int LongText = 100;

    /// <summary>
    /// The validation texts: <c>--valid</c> if given, else a stratified hold-out of the training texts (seeded), else
    /// none; returns the remaining training texts, the validation texts and a description of where they came from.
    /// </summary>
    static (List<(string Text, string Label)> Train, List<(string Text, string Label)>? Valid, string? Source)
        Validation(List<(string Text, string Label)> examples, string[] labels, string dataPath, string? validPath,
            double fraction, ulong seed, string? textColumn, string labelColumn)
    {
        if (validPath is not null)
            return (examples, LabelledTextFiles.Read(validPath, textColumn, labelColumn), validPath);
        if (fraction is < 0 or >= 1) throw new UsageException("--valid-fraction must be in [0, 1).");
        if (fraction == 0) return (examples, null, null);
        var (train, held) = StratifiedSplit.HoldOut(LabelIds(examples, labels, dataPath), fraction, seed);
        if (held.Length == 0) return (examples, null, null);
        return (train.Select(i => examples[i]).ToList(), held.Select(i => examples[i]).ToList(),
            $"{held.Length} texts held out of {dataPath} (--valid-fraction "
                + $"{fraction.ToString(CultureInfo.InvariantCulture)})");
    }

    /// <summary>The validation table: the baselines, and the network once it is trained.</summary>
    static void PrintComparison(IReadOnlyList<LinearBaseline> baselines, ClassificationReport? network,
        double? networkSeconds)
    {
        if (baselines.Count == 0) return;
        var table = new Table().Title("validation").AddColumn("model")
            .AddColumn(new TableColumn("accuracy").RightAligned())
            .AddColumn(new TableColumn("macro-F1").RightAligned()).AddColumn(new TableColumn("seconds").RightAligned());
        double best = Math.Max(baselines.Max(b => b.Validation.Accuracy), network?.Accuracy ?? 0);
        string Mark(double accuracy) => accuracy == best ? $"[bold]{accuracy:P2}[/]" : $"{accuracy:P2}";
        foreach (var b in baselines)
        {
            string name = LinearTextClassifier.Name(b.Model.Kind) + (b.Model.Kind == LinearModelKind.NaiveBayes ? ""
                : FormattableString.Invariant($" (C = {b.Regularization:G3})"));
            table.AddRow(name, Mark(b.Validation.Accuracy), F(b.Validation.MacroF1),
                b.Seconds.ToString("F1", CultureInfo.InvariantCulture));
        }
        if (network is not null)
            table.AddRow("network", Mark(network.Accuracy), F(network.MacroF1),
                networkSeconds?.ToString("F0", CultureInfo.InvariantCulture) ?? "");
        AnsiConsole.Write(table);
    }

    static Command Eval()
    {
        var model = new Option<string>("--model")
        {
            Description = "Run folder of `recur classify train`.",
            Required = true
        };
        var data = new Option<string>("--data")
        {
            Description = "Labelled CSV/TSV file or aclImdb-style folder.",
            Required = true
        };
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
            var loaded = TrainedModels.Classifier(r.GetValue(model)!, r.GetValue(int8));
            var (labels, probabilities) = (loaded.Labels, loaded.Probabilities);
            var examples = LabelledTextFiles.Read(r.GetValue(data)!, r.GetValue(textColumn), r.GetValue(labelColumn)!);
            var set = (Count: examples.Count, Labels: LabelIds(examples, labels, r.GetValue(data)!));
            var report = ClassificationReport.FromProbabilities(labels.Length, set.Labels,
                probabilities(examples.Select(e => e.Text).ToList()));
            if (r.GetValue(json))
            {
                Console.WriteLine(new JsonObject
                {
                    ["examples"] = set.Count, ["loss"] = report.Loss, ["accuracy"] = report.Accuracy,
                    ["macro_f1"] = report.MacroF1,
                    ["classes"] = new JsonArray(labels.Select((l, c) => (JsonNode)new JsonObject
                    {
                        ["label"] = l,
                        ["precision"] = report.Precision[c], ["recall"] = report.Recall[c],
                        ["f1"] = report.F1[c]
                    }).ToArray()),
                }.ToJsonString());
                return 0;
            }
            // numbers only: nothing to escape
            AnsiConsole.MarkupLine($"{set.Count} examples: accuracy [bold]{report.Accuracy:P2}[/], "
                + $"loss {report.Loss:F4}, macro-F1 {report.MacroF1:F4}");
            var table = new Table().AddColumn("label").AddColumn(new TableColumn("precision").RightAligned())
                .AddColumn(new TableColumn("recall").RightAligned()).AddColumn(new TableColumn("F1").RightAligned());
            for (int c = 0; c < labels.Length; c++) table.AddRow(Markup.Escape(labels[c]), F(report.Precision[c]),
                F(report.Recall[c]), F(report.F1[c]));
            AnsiConsole.Write(table);
            var confusion = new Table().Title("confusion (rows: true, columns: predicted)").AddColumn("");
            foreach (var l in labels) confusion.AddColumn(new TableColumn(Markup.Escape(l)).RightAligned());
            for (int c = 0; c < labels.Length; c++)
                confusion.AddRow([Markup.Escape(labels[c]), .. Enumerable.Range(0, labels.Length).Select(k =>
                    report.Confusion[c, k].ToString(CultureInfo.InvariantCulture))]);
            AnsiConsole.Write(confusion);
            return 0;
        }));
        return command;
    }

    static Command Predict()
    {
        var model = new Option<string>("--model")
        {
            Description = "Run folder of `recur classify train`.",
            Required = true
        };
        var input = new Option<string?>("--input") { Description = "A text file: one text per line." };
        var texts = new Argument<string[]>("text")
        {
            Description = "Texts to classify.",
            Arity = ArgumentArity.ZeroOrMore
        };
        var int8 = Int8Inference.Option();
        var explain = new Option<string?>("--explain")
        {
            Description = "Also show what the model read closely — a network's attention over words (and sentences), "
                + "a linear model's word weights: the top words per text, and a figure PREFIX-N.png per text.",
        };
        var command = new Command("predict", "Label and probability for each text (arguments, or lines of --input).")
        {
            model, input, texts, int8, explain,
        };
        command.SetAction(r => CommandErrors.Guard(() =>
        {
            var loaded = TrainedModels.Classifier(r.GetValue(model)!, r.GetValue(int8));
            var (labels, predict) = (loaded.Labels, loaded.Probabilities);
            string? figures = r.GetValue(explain);
            if (figures is not null && loaded.Explain is null)
                throw new UsageException($"{r.GetValue(model)} reads in chunks and pools them without attention: "
                    + "--explain has nothing to show; train with --pooling attention or --model han.");
            var items = (r.GetValue(texts) ?? []).ToList();
            if (r.GetValue(input) is { } file)
            {
                items.AddRange(TextFiles.ReadUtf8Lines(file).Where(l => !string.IsNullOrWhiteSpace(l)));
            }
            if (items.Count == 0) throw new UsageException("give texts as arguments or --input FILE.");
            var probabilities = predict(items);
            for (int i = 0; i < items.Count; i++)
            {
                int best = Array.IndexOf(probabilities[i], probabilities[i].Max());
                Console.WriteLine(
                    FormattableString.Invariant($"{labels[best]}\t{probabilities[i][best]:F4}\t{items[i]}"));
                if (figures is null) continue;
                var (blocks, blockLabels) = loaded.Explain!(items[i], best);
                var top = blocks.SelectMany(b => b).GroupBy(w => w.Word).Select(g => (Word: g.Key, Weight: g.Max(w =>
                    w.Weight))).OrderByDescending(w => w.Weight).Take(8);
                Console.WriteLine("\t" + string.Join("  ", top.Select(w =>
                    FormattableString.Invariant($"{w.Word} {w.Weight:F3}"))));
                var files = Recur.Figures.Charts.HighlightedText($"{figures}-{i + 1}",
                    $"{labels[best]} ({probabilities[i][best]:P0}): {loaded.ExplainsBy}"
                    + (blockLabels is null ? "" : ", sentence weights in the margin"), blocks, blockLabels);
                Console.WriteLine($"\t{files.Png}");
            }
            return 0;
        }));
        return command;
    }

    static string F(double v) => v.ToString("F4", CultureInfo.InvariantCulture);
}

using System.Globalization;
using Recur.Classification;
using Recur.Explore;
using Recur.Forecasting;
using Recur.Language;
using Recur.Tagging;
using Recur.Text;
using Recur.Training;
using Recur.Translation;

namespace Recur.Cli.Training;

/// <summary>
/// The trained models of run folders, loaded as the verbs that use them need them (eval, predict, run, explore): the
/// one place that knows which files each training verb leaves and how to read them back.
/// </summary>
static class TrainedModels
{
    /// <summary>The settings file of a <c>tag train</c> run.</summary>
    internal const string TaggingSettingsFile = "tagging.json";

    /// <summary>The settings file of a <c>translate train</c> run.</summary>
    internal const string TranslationSettingsFile = "translation.json";

    /// <summary>The file of a linear baseline in a run folder.</summary>
    internal const string LinearModelFile = "linear.json";

    /// <summary>Token ids per text; a text with no known token becomes one unknown token so every text has a
    /// length.</summary>
    internal static int[][] Encode(IEnumerable<string> texts, WordTokenizer tokenizer, WordVocabulary vocabulary) =>
        Encode(texts.Select(t => (IReadOnlyList<string>)tokenizer.Tokenize(t)), vocabulary);

    /// <summary>Token ids of tokenised texts (an empty one becomes one unknown token).</summary>
    internal static int[][] Encode(IEnumerable<IReadOnlyList<string>> tokens, WordVocabulary vocabulary) =>
        tokens.Select(t => vocabulary.Encode(t) is { Length: > 0 } ids ? ids : [WordVocabulary.Unknown]).ToArray();

    /// <summary>One trained model: best/ if there is one, else last/.</summary>
    internal static TextClassifier ClassifierMember(string folder)
    {
        return Checkpoint.Open(folder, config => new TextClassifier(TextClassifierConfig.FromJson(config),
            new RandomGenerator(0)));
    }

    /// <summary>Loads a trained classifier (or an ensemble's members, member-*/) with its vocabulary and
    /// labels.</summary>
    /// <summary>The model folders of a run: an ensemble's members (<c>member-*/</c>, in order), else the run
    /// itself.</summary>
    internal static string[] Members(string folder)
    {
        var members = Directory.Exists(folder)
            ? Directory.GetDirectories(folder, "member-*").Order(StringComparer.Ordinal).ToArray() : [];
        return members.Length > 0 ? members : [folder];
    }

    internal static (List<TextClassifier> Models, WordVocabulary Vocabulary, string[] Labels) Classifiers(
        string folder)
    {
        if (!Directory.Exists(folder)) throw new UsageException($"{folder}: no such model folder.");
        var members = Members(folder);
        var models = members.Select(ClassifierMember).ToList();
        string checkpoint = Checkpoint.Locate(members[0]);
        var labels = Checkpoint.ReadConfig(checkpoint)["labels"]?.AsArray().Select(l => (string)l!).ToArray()
            ?? throw new InvalidDataException($"{checkpoint}: config.json has no labels.");
        string vocabularyPath = Path.Combine(folder, "vocab.json");
        var vocabulary = WordVocabulary.Load(vocabularyPath);
        foreach (var model in models)
            if (vocabulary.Count != model.Config.VocabularySize) throw new InvalidDataException($"{vocabularyPath}: "
                + $"{vocabulary.Count} words, the model has {model.Config.VocabularySize}.");
        return (models, vocabulary, labels);
    }

    /// <summary>
    /// A trained classifier as eval and predict use it: its labels, texts → probabilities, and (when it can say) what
    /// it read closely in a text for a class: blocks of words (sentences, or the whole text) with a weight each, and a
    /// label per block.
    /// </summary>
    internal sealed record LoadedClassifier(string[] Labels, Func<IReadOnlyList<string>, double[][]> Probabilities,
        Func<string, int, (List<List<(string Word, double Weight)>> Blocks, List<string>? Labels)>? Explain,
        string ExplainsBy);

    /// <summary>
    /// A run folder's classifier: a linear model (<c>linear.json</c>, from <c>--model nbsvm|logreg|nb</c> or a run's
    /// <c>baseline/</c>) or a network (with <paramref name="int8"/>, its weights quantised).
    /// </summary>
    internal static LoadedClassifier Classifier(string folder, bool int8)
    {
        string linear = Path.Combine(folder, LinearModelFile);
        var tokenizer = new WordTokenizer();
        if (File.Exists(linear))
        {
            if (int8) throw new UsageException($"{folder} holds a linear model; --int8 applies to networks.");
            var (model, json) = LinearTextClassifier.Load(linear);
            var labels = json["labels"]?.AsArray().Select(l => (string)l!).ToArray()
                ?? throw new InvalidDataException($"{linear}: no labels.");
            if (labels.Length != model.Classes)
                throw new InvalidDataException($"{linear}: {labels.Length} labels for {model.Classes} classes.");
            return new(labels, texts => model.PredictProbabilities(
                texts.Select(t => (IReadOnlyList<string>)tokenizer.Tokenize(t)).ToArray()), (text, c) =>
                {
                    // each word weighed by its own (unigram) contribution to the class
                    var tokens = tokenizer.Tokenize(text);
                    var unigrams = model.Contributions(tokens, c).Where(p => !p.Term.Contains(' '))
                        .ToDictionary(p => p.Term, p => p.Contribution);
                    return ([tokens.Select(t => (t, unigrams.GetValueOrDefault(t))).ToList()], null);
                }, "each word's weight towards the class");
        }
        var (classifiers, vocabulary, networkLabels) = Classifiers(folder);
        if (int8) Int8Inference.Apply(classifiers, folder);
        var config = classifiers[0].Config;
        string Token(int id) => id == WordVocabulary.Unknown ? "<unk>" : vocabulary.Words[id];
        Func<IReadOnlyList<string>, double[][]> probabilities = texts =>
            ClassificationTask.Probabilities(classifiers, Encode(texts, tokenizer, vocabulary));
        if (config.Pooling != Pooling.Attention)
        {
            // no attention to show: each word's saliency for the class, averaged over an ensemble's members
            Func<string, int, (List<List<(string, double)>>, List<string>?)>? saliency =
                config.Segmentation != Segmentation.None ? null : (text, c) =>
                {
                    var ids = Encode([text], tokenizer, vocabulary)[0];
                    var each = classifiers.Select(m => m.Saliency(ids, c)).ToArray();
                    var tokens = each[0].Tokens;
                    return ([tokens.Select((id, t) => (Token(id), each.Average(s => s.Values[t]))).ToList()], null);
                };
            return new(networkLabels, probabilities, saliency,
                "saliency: the gradient norm of log p(class) at each word");
        }
        var explain = (Func<string, int, (List<List<(string, double)>>, List<string>?)>)((text, _) =>
            {
                // an ensemble's members read the same tokens: their attention is averaged
                var ids = Encode([text], tokenizer, vocabulary);
                var each = classifiers.Select(m => m.Attention(ids)[0]).ToArray();
                var first = each[0];
                var weights = first.Weights.Select((_, t) => each.Average(a => a.Weights[t])).ToArray();
                string Word(int t) => Token(first.Tokens[t]);
                if (first.SentenceLengths.Length == 0)
                    return ([Enumerable.Range(0, weights.Length).Select(t => (Word(t), weights[t])).ToList()], null);
                var blocks = new List<List<(string, double)>>();
                var labels = new List<string>();
                for (int k = 0, start = 0; k < first.SentenceLengths.Length; start += first.SentenceLengths[k++])
                {
                    blocks.Add(Enumerable.Range(start, first.SentenceLengths[k]).Select(t => (Word(t), weights[t]))
                        .ToList());
                    labels.Add(each.Average(a => a.SentenceWeights[k]).ToString("F2", CultureInfo.InvariantCulture));
                }
                return (blocks, labels);
            });
        return new(networkLabels, probabilities, explain, "attention");
    }

    internal static TagScheme ParseScheme(string name) => name switch
    {
        "iob1" => TagScheme.Iob1,
        "bio" or "iob2" => TagScheme.Bio,
        "bioes" or "iobes" => TagScheme.Bioes,
        _ => throw new UsageException($"unknown tag scheme '{name}' (iob1, bio, bioes)."),
    };

    internal static (SequenceTagger Model, TaggingVocabulary Vocabulary, TagScheme Output) NeuralTagger(string folder,
        bool int8)
    {
        var settings = TaggingSettings(folder);
        if (settings.IsHmm) throw new UsageException($"{folder}: an HMM cannot join an ensemble of neural taggers.");
        var vocabulary = TaggingVocabulary.Load(folder);
        var model = Checkpoint.Open(folder, config => new SequenceTagger(SequenceTaggerConfig.FromJson(config),
            new RandomGenerator(0)));
        if (int8) Int8Inference.Apply([model], folder);
        return (model, vocabulary, ParseScheme(settings.DataScheme));
    }

    internal static TaggingSettings TaggingSettings(string folder) => RunSettingsJson.Load(
        Path.Combine(folder, TaggingSettingsFile), RunSettingsJson.Default.TaggingSettings, "tag train");

    /// <summary>A trained tagger: a function from tokens to tags in the data's scheme (<paramref name="int8"/>:
    /// its recurrent layers quantised).</summary>
    internal static Func<IReadOnlyList<IReadOnlyList<string>>, List<string[]>> Tagger(string folder,
        bool int8 = false)
    {
        var settings = TaggingSettings(folder);
        var output = ParseScheme(settings.DataScheme);
        if (settings.IsHmm)
        {
            if (int8) throw new UsageException($"--int8: {folder} is an HMM tagger, which has no recurrent layers.");
            var hmm = HiddenMarkovTagger.Load(Path.Combine(folder, "hmm.json"));
            return sentences => sentences.Select(x => TagSchemes.Convert(hmm.Tag(x), output)).ToList();
        }
        var (model, vocabulary, _) = NeuralTagger(folder, int8);
        return sentences => model.Tag(vocabulary, sentences).Select(t => TagSchemes.Convert(t, output)).ToList();
    }

    internal static (Seq2Seq Model, TranslationVocabulary Vocabulary, TranslationSettings Settings) Translator(
        string folder)
    {
        var settings = RunSettingsJson.Load(Path.Combine(folder, TranslationSettingsFile),
            RunSettingsJson.Default.TranslationSettings, "translate train");
        var vocabulary = TranslationVocabulary.Load(folder);
        var model = Checkpoint.Open(folder, config => new Seq2Seq(Seq2SeqConfig.FromJson(config),
            new RandomGenerator(0)));
        return (model, vocabulary, settings);
    }

    /// <summary>Loads one trained forecaster: the epoch chosen on validation (best/) when there is one, else the
    /// last.</summary>
    internal static Forecaster ForecasterMember(string folder)
    {
        Forecaster? forecaster = null;
        Checkpoint.Open(folder, config => (forecaster = Forecaster.FromConfig(config)).Network);
        return forecaster!;
    }

    /// <summary>The mean of several forecasters' forecasts (one member: that forecaster).</summary>
    internal sealed class EnsembleForecast(IReadOnlyList<Forecaster> members)
    {
        public double[] Forecast(ReadOnlySpan<double> history, int steps, IReadOnlyList<double[]>? covariates = null)
        {
            var sum = new double[steps];
            foreach (var member in members)
            {
                var f = member.Forecast(history, steps, covariates);
                for (int i = 0; i < steps; i++) sum[i] += f[i];
            }
            return sum.Select(v => v / members.Count).ToArray();
        }

        /// <summary>
        /// A prediction interval from the members' simulated paths pooled (each member's share of
        /// <paramref name="paths"/>, drawn with seeds 1, 2, …), forecasting from the end of
        /// <paramref name="training"/>.
        /// </summary>
        public ForecastInterval Interval(double[] training, int steps, double coverage,
            IReadOnlyList<double[]>? covariates, int paths = 1000)
        {
            var pooled = new List<double>[steps];
            for (int k = 0; k < steps; k++) pooled[k] = [];
            for (int m = 0; m < members.Count; m++)
            {
                var samples = members[m].SamplePaths(training, steps, Math.Max(1, paths / members.Count),
                    (ulong)m + 1, covariates);
                for (int k = 0; k < steps; k++) pooled[k].AddRange(samples[k]);
            }
            return ForecastInterval.FromSamples([.. pooled.Select(p => p.ToArray())], coverage);
        }
    }

    /// <summary>The run folder's model as the explorer serves it, found by what the folder holds.</summary>
    internal static ExploreSubject Subject(string folder, bool int8 = false)
    {
        string name = Path.GetFileName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(folder)));
        if (File.Exists(Path.Combine(folder, TranslationSettingsFile)))
        {
            var (seq2seq, vocabulary, settings) = Translator(folder);
            if (int8) Int8Inference.Apply([seq2seq], folder);
            return new TranslatorSubject(seq2seq, vocabulary, settings.PairOptions, name);
        }
        if (File.Exists(Path.Combine(folder, TaggingSettingsFile)))
        {
            if (TaggingSettings(folder).IsHmm)
            {
                var tag = Tagger(folder, int8);
                return new TaggerSubject(sentences => tag(sentences), [], null, name);
            }
            var (tagger, words, output) = NeuralTagger(folder, int8);
            return TaggerSubject.FromModel(tagger, words, output, name);
        }
        if (File.Exists(Path.Combine(folder, LinearModelFile))
            || File.Exists(Path.Combine(folder, "vocab.json")))
        {
            var loaded = Classifier(folder, int8);
            Func<string, int, IReadOnlyList<TextBlock>>? explain = loaded.Explain is null ? null : (text, c) =>
            {
                var (blocks, labels) = loaded.Explain(text, c);
                return blocks.Select((b, k) => new TextBlock(labels?[k],
                    b.Select(w => new WordWeight(w.Word, w.Weight)).ToArray())).ToList();
            };
            return new ClassifierSubject(loaded.Labels, loaded.Probabilities, explain, loaded.ExplainsBy, name);
        }
        if (File.Exists(Path.Combine(folder, Text.Tokenizers.File)))
        {
            var (lm, tokenizer) = LanguageModel.Load(folder);
            if (int8) Int8Inference.Apply([lm], folder);
            return new LanguageModelSubject(lm, tokenizer, name);
        }
        // an ensemble's run folder holds its members' checkpoints (member-*/), each with the same configuration
        var members = Members(folder);
        string architecture;
        try { architecture = (string?)Checkpoint.ReadConfig(Checkpoint.Locate(members[0]))["architecture"] ?? ""; }
        catch (DirectoryNotFoundException) { architecture = ""; }
        if (architecture == "forecaster")
        {
            if (int8) throw new UsageException(
                "--int8 applies to language models, classifiers, taggers and translators.");
            var forecasters = members.Select(ForecasterMember).ToList();
            var first = forecasters[0].Options;
            if (first.Covariates > 0) throw new UsageException(
                $"{folder}: the forecaster reads {first.Covariates} covariate(s); explore serves univariate ones.");
            var ensemble = new EnsembleForecast(forecasters);
            return new ForecasterSubject((history, steps) => ensemble.Forecast(history, steps),
                first.Window + first.DifferenceLag, name);
        }
        // any other run: its training curves
        if (File.Exists(Path.Combine(folder, "metrics.jsonl")))
        {
            if (int8) throw new UsageException(
                "--int8 applies to language models, classifiers, taggers and translators.");
            return new TrainingRunSubject(name, architecture.Length > 0 ? architecture : null);
        }
        throw new UsageException($"{folder}: not a run folder explore serves (of `recur lm|classify|tag|translate|"
            + $"forecast train`){(architecture.Length > 0 ? $"; its model is a {architecture}" : "")}.");
    }
}

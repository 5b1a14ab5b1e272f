using System.Text.Json.Nodes;
using Recur.Serialization;
using Recur.Training;

namespace Recur.Classification;

/// <summary>The classical text classifiers Recur trains beside (or instead of) a recurrent network.</summary>
public enum LinearModelKind
{
    /// <summary>
    /// Multinomial naive Bayes on binary word/bigram features with add-α smoothing: score_c = log P(c) + Σ_f x_f log
    /// θ_cf, θ_cf = (N_cf + α) / (N_c + α·F).
    /// </summary>
    NaiveBayes,

    /// <summary>
    /// Logistic regression on TF-IDF word/bigram features scaled to unit length, L2-regularised: minimises ½‖W‖² + C
    /// Σ_i −log p(y_i | x_i) (one sigmoid for two classes, a softmax for more; intercepts not penalised).
    /// </summary>
    LogisticRegression,

    /// <summary>
    /// NBSVM (Wang &amp; Manning 2012): a linear SVM (squared hinge, L2, bias penalised as in LIBLINEAR) on binary
    /// features scaled by the naive-Bayes log-count ratio r = log((p/‖p‖₁)/(q/‖q‖₁)), p = α + Σ_{y=c} x, q = α +
    /// Σ_{y≠c}
    /// x, its weights interpolated towards their mean magnitude: w' = (1 − β)·mean|w| + β·w. One-vs-rest for more than
    /// two classes. Its probabilities are a softmax of the margins, not calibrated.
    /// </summary>
    NbSvm,
}

/// <summary>Settings of <see cref="LinearTextClassifier.Train"/>; the defaults are those of the papers.</summary>
public sealed record LinearModelOptions
{
    /// <summary>The longest word n-gram used as a feature (2: words and bigrams).</summary>
    public int NGrams { get; init; } = 2;

    /// <summary>The fewest training texts an n-gram must occur in to become a feature.</summary>
    public int MinDocumentFrequency { get; init; } = 1;

    /// <summary>C, the inverse strength of the L2 penalty (logistic regression and NBSVM; larger fits more
    /// closely).</summary>
    public double Regularization { get; init; } = 1;

    /// <summary>α, the add-α smoothing of the naive-Bayes counts (naive Bayes and NBSVM's ratio).</summary>
    public double Smoothing { get; init; } = 1;

    /// <summary>β, NBSVM's interpolation between its mean weight magnitude (0) and the SVM's weights (1).</summary>
    public double Interpolation { get; init; } = 0.25;

    /// <summary>The most L-BFGS iterations per fit.</summary>
    public int MaxIterations { get; init; } = 2000;

    /// <summary>L-BFGS stops when no gradient component exceeds this × max(1, |objective|).</summary>
    public double Tolerance { get; init; } = 1e-9;

    internal void Validate()
    {
        if (NGrams < 1 || MinDocumentFrequency < 1 || !(Regularization > 0) || !(Smoothing > 0)
            || Interpolation is < 0 or > 1 || MaxIterations < 1 || !(Tolerance > 0))
            throw new ArgumentException($"LinearModelOptions: invalid settings {this}.");
    }
}

/// <summary>
/// A linear classifier over a <see cref="BagOfWords"/>: naive Bayes, logistic regression or NBSVM (see <see
/// cref="LinearModelKind"/>). Trains in seconds on thousands of documents, and on small labelled sets of long texts
/// is the baseline a network has to beat. Every kind ends as class scores W·x + b; probabilities are their softmax.
/// </summary>
public sealed class LinearTextClassifier
{
    readonly double[][] weights; // [classes][features]
    readonly double[] bias;

    /// <summary>Which classifier this is.</summary>
    public LinearModelKind Kind { get; }

    /// <summary>The features it reads.</summary>
    public BagOfWords Features { get; }

    /// <summary>Number of classes.</summary>
    public int Classes => bias.Length;

    /// <summary>
    /// The factor the scores are multiplied by before the softmax: 1, or the temperature <see cref="Calibrate"/>
    /// fitted on held-out texts (NBSVM's margins are not probabilities). It never changes a decision.
    /// </summary>
    public double ProbabilityScale { get; private init; } = 1;

    LinearTextClassifier(LinearModelKind kind, BagOfWords features, double[][] weights, double[] bias)
    {
        Kind = kind;
        Features = features;
        this.weights = weights;
        this.bias = bias;
    }

    /// <summary>The short name used on the command line and in reports: <c>nb</c>, <c>logreg</c> or
    /// <c>nbsvm</c>.</summary>
    public static string Name(LinearModelKind kind) => kind switch
    {
        LinearModelKind.NaiveBayes => "nb",
        LinearModelKind.LogisticRegression => "logreg",
        _ => "nbsvm",
    };

    /// <summary>The kind named by <see cref="Name"/>.</summary>
    public static LinearModelKind Parse(string name) => name.ToLowerInvariant() switch
    {
        "nb" => LinearModelKind.NaiveBayes,
        "logreg" => LinearModelKind.LogisticRegression,
        "nbsvm" => LinearModelKind.NbSvm,
        _ => throw new ArgumentException($"'{name}' is not a linear model (nb, logreg or nbsvm)."),
    };

    /// <summary>
    /// Fits a classifier of <paramref name="kind"/> to tokenised texts and their classes (0 … classes − 1, each
    /// present at least once).
    /// </summary>
    public static LinearTextClassifier Train(LinearModelKind kind, IReadOnlyList<IReadOnlyList<string>> documents,
        IReadOnlyList<int> labels, int classes, LinearModelOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(documents);
        ArgumentNullException.ThrowIfNull(labels);
        options ??= new LinearModelOptions();
        options.Validate();
        if (documents.Count != labels.Count)
            throw new ArgumentException($"LinearTextClassifier: {documents.Count} texts but {labels.Count} labels.");
        if (classes < 2) throw new ArgumentOutOfRangeException(nameof(classes), classes, "at least two classes");
        var perClass = new int[classes];
        foreach (int label in labels)
        {
            if (label < 0 || label >= classes)
                throw new ArgumentException($"LinearTextClassifier: label {label} is outside 0…{classes - 1}.");
            perClass[label]++;
        }
        if (Array.IndexOf(perClass, 0) is var missing and >= 0)
            throw new ArgumentException($"LinearTextClassifier: no training text has class {missing}.");
        var features = BagOfWords.Build(documents, options.NGrams,
            kind == LinearModelKind.LogisticRegression ? TermWeighting.TfIdf : TermWeighting.Binary,
            normalize: kind == LinearModelKind.LogisticRegression, options.MinDocumentFrequency);
        var rows = documents.Select(features.Transform).ToArray();
        var (w, b) = kind switch
        {
            LinearModelKind.NaiveBayes => FitNaiveBayes(rows, labels, perClass, features.Count, options.Smoothing),
            LinearModelKind.LogisticRegression => FitLogistic(rows, labels, classes, features.Count, options),
            _ => FitNbSvm(rows, labels, classes, features.Count, options),
        };
        return new LinearTextClassifier(kind, features, w, b);
    }

    static (double[][], double[]) FitNaiveBayes(SparseVector[] rows, IReadOnlyList<int> labels, int[] perClass,
        int featureCount, double alpha)
    {
        int classes = perClass.Length;
        var weights = new double[classes][];
        var bias = new double[classes];
        for (int c = 0; c < classes; c++)
        {
            var counts = ClassCounts(rows, labels, c, featureCount);
            double total = counts.Sum() + alpha * featureCount;
            weights[c] = counts.Select(n => Math.Log((n + alpha) / total)).ToArray();
            bias[c] = Math.Log((double)perClass[c] / labels.Count);
        }
        return (weights, bias);
    }

    /// <summary>Σ x over the texts of class <paramref name="c"/> (or, when <paramref name="other"/>, of the
    /// rest).</summary>
    static double[] ClassCounts(SparseVector[] rows, IReadOnlyList<int> labels, int c, int featureCount,
        bool other = false)
    {
        var counts = new double[featureCount];
        for (int i = 0; i < rows.Length; i++)
            if ((labels[i] == c) != other)
                for (int k = 0; k < rows[i].Indices.Length; k++) counts[rows[i].Indices[k]] += rows[i].Values[k];
        return counts;
    }

    /// <summary>
    /// Two classes: one weight row (class 1's score; class 0 scores 0), so the softmax is the logistic function and
    /// the objective is scikit-learn's binary one. More classes: one row per class (multinomial).
    /// </summary>
    static (double[][], double[]) FitLogistic(SparseVector[] rows, IReadOnlyList<int> labels, int classes,
        int featureCount, LinearModelOptions options)
    {
        int free = classes == 2 ? 1 : classes, firstFree = classes - free;
        double c = options.Regularization;
        var scores = new double[classes];
        double Objective(double[] theta, double[] gradient)
        {
            Array.Clear(gradient);
            double value = 0;
            for (int j = 0; j < free * featureCount; j++)
            {
                value += 0.5 * theta[j] * theta[j];
                gradient[j] = theta[j];
            }
            for (int i = 0; i < rows.Length; i++)
            {
                var row = rows[i];
                scores.AsSpan().Clear();
                for (int r = 0; r < free; r++)
                    scores[firstFree + r] = row.Dot(theta.AsSpan(r * featureCount, featureCount))
                        + theta[free * featureCount + r];
                double logSum = Kernels.Scores.LogSumExp(scores);
                value += c * (logSum - scores[labels[i]]);
                for (int r = 0; r < free; r++)
                {
                    int k = firstFree + r;
                    double residual = c * (Math.Exp(scores[k] - logSum) - (labels[i] == k ? 1 : 0));
                    for (int n = 0; n < row.Indices.Length; n++)
                        gradient[r * featureCount + row.Indices[n]] += residual * row.Values[n];
                    gradient[free * featureCount + r] += residual;
                }
            }
            return value;
        }
        var theta = new double[free * (featureCount + 1)];
        Lbfgs.Minimise(Objective, theta, options.MaxIterations, options.Tolerance);
        var weights = new double[classes][];
        var bias = new double[classes];
        for (int k = 0; k < classes; k++)
        {
            int r = k - firstFree;
            weights[k] = r < 0 ? new double[featureCount] : theta.AsSpan(r * featureCount, featureCount).ToArray();
            bias[k] = r < 0 ? 0 : theta[free * featureCount + r];
        }
        return (weights, bias);
    }

    static (double[][], double[]) FitNbSvm(SparseVector[] rows, IReadOnlyList<int> labels, int classes,
        int featureCount, LinearModelOptions options)
    {
        var weights = new double[classes][];
        var bias = new double[classes];
        int first = classes == 2 ? 1 : 0; // two classes: one SVM, class 1 against class 0
        if (first == 1) weights[0] = new double[featureCount];
        for (int c = first; c < classes; c++)
        {
            var ratio = LogCountRatio(rows, labels, c, featureCount, options.Smoothing);
            var scaled = rows.Select(row => new SparseVector(row.Indices,
                row.Indices.Select((f, k) => row.Values[k] * ratio[f]).ToArray())).ToArray();
            var targets = labels.Select(l => l == c ? 1.0 : -1.0).ToArray();
            var (w, b) = FitSquaredHinge(scaled, targets, featureCount, options);
            double meanMagnitude = w.Average(Math.Abs);
            double beta = options.Interpolation;
            // the interpolated weights act on r ∘ x; folding r in makes the model a plain W·x + b
            weights[c] = w.Select((v, f) => ((1 - beta) * meanMagnitude + beta * v) * ratio[f]).ToArray();
            bias[c] = b;
        }
        return (weights, bias);
    }

    /// <summary>r = log((p/‖p‖₁)/(q/‖q‖₁)) with p, q the α-smoothed feature counts inside and outside class
    /// c.</summary>
    static double[] LogCountRatio(SparseVector[] rows, IReadOnlyList<int> labels, int c, int featureCount,
        double alpha)
    {
        var p = ClassCounts(rows, labels, c, featureCount);
        var q = ClassCounts(rows, labels, c, featureCount, other: true);
        double pNorm = p.Sum() + alpha * featureCount, qNorm = q.Sum() + alpha * featureCount;
        return p.Select((v, f) => Math.Log((v + alpha) / pNorm) - Math.Log((q[f] + alpha) / qNorm)).ToArray();
    }

    /// <summary>min ½(‖w‖² + b²) + C Σ max(0, 1 − y(w·x + b))², LIBLINEAR's L2-loss SVM with its bias
    /// feature.</summary>
    static (double[] Weights, double Bias) FitSquaredHinge(SparseVector[] rows, double[] targets, int featureCount,
        LinearModelOptions options)
    {
        double c = options.Regularization;
        double Objective(double[] theta, double[] gradient)
        {
            double value = 0;
            for (int j = 0; j < theta.Length; j++)
            {
                value += 0.5 * theta[j] * theta[j];
                gradient[j] = theta[j];
            }
            var w = theta.AsSpan(0, featureCount);
            for (int i = 0; i < rows.Length; i++)
            {
                double slack = 1 - targets[i] * (rows[i].Dot(w) + theta[featureCount]);
                if (slack <= 0) continue;
                value += c * slack * slack;
                double scale = -2 * c * slack * targets[i];
                for (int n = 0; n < rows[i].Indices.Length; n++)
                    gradient[rows[i].Indices[n]] += scale * rows[i].Values[n];
                gradient[featureCount] += scale;
            }
            return value;
        }
        var theta = new double[featureCount + 1];
        Lbfgs.Minimise(Objective, theta, options.MaxIterations, options.Tolerance);
        return (theta[..featureCount], theta[featureCount]);
    }

    /// <summary>
    /// This classifier with <see cref="ProbabilityScale"/> fitted on held-out texts: the one temperature a that
    /// minimises their cross-entropy under softmax(a·scores) (Platt 1999 without a shift, so no decision changes).
    /// </summary>
    public LinearTextClassifier Calibrate(IReadOnlyList<IReadOnlyList<string>> documents, IReadOnlyList<int> labels)
    {
        ArgumentNullException.ThrowIfNull(documents);
        if (documents.Count != labels.Count || documents.Count == 0)
            throw new ArgumentException($"Calibrate: {documents.Count} texts and {labels.Count} labels.");
        var scores = documents.Select(Scores).ToArray();
        // the loss is convex in log a; searching log a keeps a positive
        double Loss(double[] logScale, double[] gradient)
        {
            double a = Math.Exp(logScale[0]), value = 0, slope = 0;
            for (int i = 0; i < scores.Length; i++)
            {
                var z = scores[i];
                double logSum = Kernels.Scores.LogSumExp(z.Select(v => a * v).ToArray()), mean = 0;
                foreach (double v in z) mean += Math.Exp(a * v - logSum) * v;
                value += logSum - a * z[labels[i]];
                slope += mean - z[labels[i]];
            }
            gradient[0] = slope * a / scores.Length;
            return value / scores.Length;
        }
        var (point, _, _) = Lbfgs.Minimise(Loss, [0.0], 200, 1e-10);
        double fitted = Math.Clamp(Math.Exp(point[0]), 1e-6, 1e6);
        return new LinearTextClassifier(Kind, Features, weights, bias) { ProbabilityScale = fitted };
    }

    /// <summary>The class scores W·x + b of one tokenised text.</summary>
    public double[] Scores(IReadOnlyList<string> tokens)
    {
        var x = Features.Transform(tokens);
        return Enumerable.Range(0, Classes).Select(c => x.Dot(weights[c]) + bias[c]).ToArray();
    }

    /// <summary>Class probabilities [N][classes] (the softmax of the scores) for tokenised texts.</summary>
    public double[][] PredictProbabilities(IReadOnlyList<IReadOnlyList<string>> documents)
    {
        ArgumentNullException.ThrowIfNull(documents);
        return documents.Select(d =>
        {
            var scores = Scores(d).Select(v => v * ProbabilityScale).ToArray();
            double logSum = Kernels.Scores.LogSumExp(scores);
            return scores.Select(v => Math.Exp(v - logSum)).ToArray();
        }).ToArray();
    }

    /// <summary>The highest-scoring class of each tokenised text.</summary>
    public int[] Predict(IReadOnlyList<IReadOnlyList<string>> documents) =>
        PredictProbabilities(documents).Select(p => Array.IndexOf(p, p.Max())).ToArray();

    /// <summary>
    /// The n-grams that speak most for class <paramref name="c"/>: largest w_c − mean of the other classes' w.
    /// </summary>
    public IReadOnlyList<(string Term, double Weight)> TopTerms(int c, int count)
    {
        if (c < 0 || c >= Classes) throw new ArgumentOutOfRangeException(nameof(c), c, $"0…{Classes - 1}");
        return Enumerable.Range(0, Features.Count)
            .Select(f => (f, weight: Lean(c, f)))
            .OrderByDescending(p => p.weight).ThenBy(p => p.f).Take(count)
            .Select(p => (Features.Term(p.f), p.weight)).ToList();
    }

    /// <summary>
    /// How much each n-gram of a tokenised text moves it towards class <paramref name="c"/>: x_f·(w_cf − mean of the
    /// other classes' w_f), largest first. With two classes the contributions add up to the difference of the two
    /// scores minus that of the biases.
    /// </summary>
    public IReadOnlyList<(string Term, double Contribution)> Contributions(IReadOnlyList<string> tokens, int c)
    {
        if (c < 0 || c >= Classes) throw new ArgumentOutOfRangeException(nameof(c), c, $"0…{Classes - 1}");
        var x = Features.Transform(tokens);
        return x.Indices.Select((f, k) => (Features.Term(f), x.Values[k] * Lean(c, f)))
            .OrderByDescending(p => p.Item2).ToList();
    }

    /// <summary>How far feature f's weight leans towards class c: w_cf − the mean of the other classes' w_f.</summary>
    double Lean(int c, int f) =>
        weights[c][f] - Enumerable.Range(0, Classes).Where(k => k != c).Average(k => weights[k][f]);

    const string Architecture = "linear_text_classifier";

    /// <summary>The model as JSON (architecture <c>linear_text_classifier</c>), with optional extra fields.</summary>
    public JsonObject ToJson(JsonObject? extra = null)
    {
        return ConfigJson.Write(new LinearClassifierFile(Name(Kind), Classes, Features.ToFile(), weights, bias,
            ProbabilityScale), ClassificationJson.Default.LinearClassifierFile, Architecture).With(extra);
    }

    /// <summary>Writes the model (and <paramref name="extra"/> fields such as the label names) atomically.</summary>
    public void Save(string path, JsonObject? extra = null) =>
        AtomicFile.WriteAllText(path, ToJson(extra).ToJsonString());

    /// <summary>Reads a model written by <see cref="Save"/>, with the whole file for its extra fields; errors name
    /// the file.</summary>
    public static (LinearTextClassifier Model, JsonObject Json) Load(string path)
    {
        var json = ConfigJson.ReadObject(path);
        return (FromJson(json, path), json);
    }

    /// <summary>Reads a model from its JSON; <paramref name="source"/> names the file in errors.</summary>
    public static LinearTextClassifier FromJson(JsonObject json, string source)
    {
        try
        {
            var file = ConfigJson.Read(json, ClassificationJson.Default.LinearClassifierFile, Architecture);
            var kind = Parse(file.Kind);
            var features = BagOfWords.FromFile(file.Features);
            var (weights, bias) = (file.Weights, file.Bias);
            if (bias.Length < 2 || weights.Length != bias.Length || weights.Any(r => r.Length != features.Count))
                throw new InvalidDataException($"weights [{weights.Length}][…] do not match {bias.Length} classes and "
                    + $"{features.Count} features.");
            double scale = file.ProbabilityScale;
            if (!(scale > 0 && double.IsFinite(scale)))
                throw new InvalidDataException($"probability scale {scale} is not positive.");
            return new LinearTextClassifier(kind, features, weights, bias) { ProbabilityScale = scale };
        }
        catch (Exception e) when (e is ArgumentException or InvalidDataException)
        {
            throw new InvalidDataException($"{source}: not a linear text classifier: {e.Message}", e);
        }
    }
}

/// <summary>A <see cref="LinearTextClassifier"/> on disk (after its <c>architecture</c> field): the kind's short
/// name, the class count, the features and one weight row and bias per class.</summary>
sealed record LinearClassifierFile(string Kind, int Classes, BagOfWordsFile Features, double[][] Weights,
    double[] Bias, double ProbabilityScale = 1);

/// <summary>A linear baseline fitted beside a network, scored on the validation texts.</summary>
/// <param name="Model">The fitted classifier.</param>
/// <param name="Regularization">The C it was fitted with (chosen on validation for logistic regression).</param>
/// <param name="Validation">Its scores on the validation texts.</param>
/// <param name="Seconds">Time to fit it (all candidates of C included).</param>
public sealed record LinearBaseline(LinearTextClassifier Model, double Regularization, ClassificationReport Validation,
    double Seconds)
{
    /// <summary>The candidate values of C for logistic regression on unit-length TF-IDF features.</summary>
    public static IReadOnlyList<double> LogisticCandidates { get; } = [1, 10, 100];

    /// <summary>
    /// Fits each kind on the training texts and scores it on the validation texts: naive Bayes with α = 1, NBSVM with
    /// the paper's C = 1, β = 0.25, and logistic regression with the C of <see cref="LogisticCandidates"/> that is
    /// most accurate on validation (the first on ties); each is then <see cref="LinearTextClassifier.Calibrate"/>d on
    /// the validation texts.
    /// </summary>
    public static IReadOnlyList<LinearBaseline> Fit(IEnumerable<LinearModelKind> kinds,
        IReadOnlyList<IReadOnlyList<string>> trainTexts, IReadOnlyList<int> trainLabels,
        IReadOnlyList<IReadOnlyList<string>> validTexts, IReadOnlyList<int> validLabels, int classes)
    {
        var results = new List<LinearBaseline>();
        foreach (var kind in kinds)
        {
            var clock = System.Diagnostics.Stopwatch.StartNew();
            LinearBaseline? best = null;
            var candidates = kind == LinearModelKind.LogisticRegression ? LogisticCandidates : [1.0];
            // the candidates are independent fits: in parallel, compared in their listed order
            var fits = candidates.AsParallel().AsOrdered().WithDegreeOfParallelism(Kernels.Parallelism.MaxThreads)
                .Select(c =>
                {
                    var model = LinearTextClassifier.Train(kind, trainTexts, trainLabels, classes,
                        new LinearModelOptions { Regularization = c });
                    return new LinearBaseline(model, c, ClassificationReport.FromProbabilities(classes, validLabels,
                        model.PredictProbabilities(validTexts)), 0);
                }).ToList();
            foreach (var fit in fits)
                if (best is null || fit.Validation.Accuracy > best.Validation.Accuracy) best = fit;
            // a temperature on the validation texts makes the probabilities honest without changing a decision
            var calibrated = best!.Model.Calibrate(validTexts, validLabels);
            results.Add(best with
            {
                Model = calibrated,
                Seconds = clock.Elapsed.TotalSeconds,
                Validation = ClassificationReport.FromProbabilities(classes, validLabels,
                    calibrated.PredictProbabilities(validTexts)),
            });
        }
        return results;
    }
}

using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using Recur.Cli.Training;
using Recur.Data;
using Recur.Energy;
using Recur.Figures;
using Recur.Kernels;
using Spectre.Console;

namespace Recur.Cli;

/// <summary>
/// <c>recur rbm train|sample</c>: a restricted Boltzmann machine on binarised MNIST digits (first 8,000 of the
/// 10,000 test digits for training, the last 2,000 held out), with reconstruction error, pseudo-log-likelihood and an
/// AIS estimate of the log-likelihood; pictures of the learned filters and of samples drawn by Gibbs chains.
/// </summary>
static class RbmCommand
{
    public static Command Create()
    {
        var command = new Command("rbm", "Restricted Boltzmann machines on binarised MNIST: train with CD-k or PCD, "
            + "evaluate, draw samples and filters.");
        command.Subcommands.Add(Train());
        command.Subcommands.Add(Sample());
        return command;
    }

    /// <summary>The digits of the MNIST test file as [N, 784] values in {0, 1}, each pixel on with probability
    /// intensity/255 (seeded).</summary>
    internal static (float[] Train, float[] Test) BinarisedMnist(string folder, RandomGenerator random,
        int trainCount = 8000)
    {
        string images = Path.Combine(folder, "t10k-images-idx3-ubyte.gz");
        if (!File.Exists(images)) throw new UsageException($"MNIST images not found: {images}; pass --mnist DIR.");
        var (shape, pixels) = Idx.Read(images);
        if (shape.Length != 3
            || shape[1]
            * shape[2] != 784) throw new InvalidDataException(
            $"{images}: expected 28×28 images, got [{string.Join(", ", shape)}].");
        var all = new float[pixels.Length];
        for (int i = 0; i < pixels.Length; i++) all[i] = random.NextFloat() * 255f < pixels[i] ? 1f : 0f;
        int n = shape[0], split = Math.Min(trainCount, n);
        return (all.AsSpan(0, split * 784).ToArray(), all.AsSpan(split * 784).ToArray());
    }

    static Command Train()
    {
        var mnist = new Option<string>("--mnist")
        {
            Description = "MNIST folder (t10k-images-idx3-ubyte.gz).",
            DefaultValueFactory = _ => Path.Combine("..", "shared", "data", "mnist"),
        };
        var hidden = new Option<int>("--hidden") { Description = "Hidden units.", DefaultValueFactory = _ => 500 };
        var cd = new Option<int>("--cd")
        {
            Description = "Gibbs steps k of CD-k (or PCD-k).",
            DefaultValueFactory = _ => 1,
        };
        var persistent = new Option<bool>("--persistent")
        {
            Description = "Persistent contrastive divergence (Tieleman 2008).",
        };
        var epochs = new Option<int>("--epochs")
        {
            Description = "Passes over the 8,000 training digits.",
            DefaultValueFactory = _ => 10,
        };
        var lr = new Option<float>("--lr") { Description = "Learning rate.", DefaultValueFactory = _ => 0.05f };
        var batch = new Option<int>("--batch") { Description = "Digits per update.", DefaultValueFactory = _ => 20 };
        var decay = new Option<float>("--weight-decay")
        {
            Description = "L2 penalty on the weights.",
            DefaultValueFactory = _ => 2e-4f,
        };
        var aisRuns = new Option<int>("--ais-runs")
        {
            Description = "AIS chains for the final log-likelihood estimate.",
            DefaultValueFactory = _ => 100,
        };
        var aisSteps = new Option<int>("--ais-steps")
        {
            Description = "AIS inverse temperatures (0 skips AIS; Salakhutdinov & Murray used 14,500).",
            DefaultValueFactory = _ => 0,
        };
        var seed = new Option<ulong>("--seed")
        {
            Description = "Seed for binarisation, initialisation and sampling.",
            DefaultValueFactory = _ => 1,
        };
        var threads = new Option<int>("--threads")
        {
            Description = "Threads for the GEMMs.",
            DefaultValueFactory = _ => Environment.ProcessorCount,
        };
        var output = new Option<string>("--out")
        {
            Description = "Folder for rbm.safetensors, metrics.jsonl and the filters figure.",
            Required = true,
        };
        var command = new Command("train", "Train an RBM on binarised MNIST digits.") { mnist, hidden, cd, persistent,
            epochs, lr, batch, decay, aisRuns, aisSteps, seed, threads, output };
        command.SetAction(r => CommandErrors.Guard(() =>
        {
            if (r.GetValue(hidden) < 1 || r.GetValue(cd) < 1 || r.GetValue(epochs) < 1 || r.GetValue(batch) < 1
                || !(r.GetValue(lr) > 0) || r.GetValue(threads) < 1 || r.GetValue(aisRuns) < 1
                || r.GetValue(aisSteps) < 0)
                throw new UsageException("--hidden, --cd, --epochs, --batch, --lr, --threads and --ais-runs must be "
                    + "positive; --ais-steps at least 0.");
            using var threadLimit = Parallelism.Limit(r.GetValue(threads));
            var random = new RandomGenerator(r.GetValue(seed));
            var (train, test) = BinarisedMnist(r.GetValue(mnist)!, random.Fork());
            var rbm = new RestrictedBoltzmannMachine(784, r.GetValue(hidden), random.Fork());
            rbm.InitialiseVisibleBias(train);
            var options = new RbmTrainingOptions(r.GetValue(cd), r.GetValue(persistent), r.GetValue(lr), 0.5f,
                r.GetValue(decay), r.GetValue(batch));
            var trainer = new RbmTrainer(rbm, options, random.Fork());
            string folder = r.GetValue(output)!;
            Directory.CreateDirectory(folder);
            string metricsPath = Path.Combine(folder, "metrics.jsonl");
            File.Delete(metricsPath);
            var metadata = new Dictionary<string, string>
            {
                ["height"] = "28", ["width"] = "28",
                ["cd"] = options.GibbsSteps.ToString(CultureInfo.InvariantCulture),
                ["persistent"] = options.Persistent ? "true" : "false"
            };
            string divergence = options.Persistent ? "PCD" : "CD";
            AnsiConsole.MarkupInterpolated($"[bold]{rbm}[/], {divergence}-{options.GibbsSteps}, ");
            AnsiConsole.MarkupInterpolated($"lr {options.LearningRate}, batch {options.BatchSize}, ");
            AnsiConsole.MarkupLineInterpolated(
                $"{train.Length / 784} training and {test.Length / 784} held-out digits.");
            var table
                = new Table().AddColumn("epoch").AddColumn(new TableColumn("train recon. error").RightAligned(
                )).AddColumn(new TableColumn("test recon. error").RightAligned())
                .AddColumn(new TableColumn("test PLL").RightAligned()).AddColumn(new TableColumn(
                    "seconds").RightAligned());
            var clock = Stopwatch.StartNew();
            for (int epoch = 0; epoch < r.GetValue(epochs); epoch++)
            {
                // Hinton (2010): momentum 0.5 while the weights are small, 0.9 afterwards
                if (epoch == 5) trainer.Options = options with { Momentum = 0.9f };
                double trainError = trainer.TrainEpoch(train);
                double testError = rbm.ReconstructionError(test);
                double pll = rbm.PseudoLogLikelihood(test, new RandomGenerator(r.GetValue(seed) + 99));
                if (!double.IsFinite(trainError)
                    || !double.IsFinite(pll)) throw new Recur.Training.NonFiniteException(
                    $"epoch {epoch + 1}: the reconstruction error or PLL is not finite; lower --lr.");
                rbm.Save(Path.Combine(folder, "rbm.safetensors"), metadata); // written to a temporary file and renamed
                File.AppendAllText(metricsPath, new JsonObject
                {
                    ["type"] = "eval", ["epoch"] = epoch + 1,
                    ["step"] = (long)(epoch + 1) * (train.Length / 784 / options.BatchSize), ["loss"] = testError,
                    ["train_reconstruction_error"] = trainError, ["pseudo_log_likelihood"] = pll,
                    ["elapsed_seconds"] = clock.Elapsed.TotalSeconds
                }.ToJsonString() + "\n");
                table.AddRow((epoch + 1).ToString(CultureInfo.InvariantCulture), F(trainError), F(testError), F(pll),
                    clock.Elapsed.TotalSeconds.ToString("F0", CultureInfo.InvariantCulture));
                Console.WriteLine(FormattableString.Invariant(
                    $"epoch {epoch + 1}: train reconstruction error {trainError:F2}, test {testError:F2}, ")
                    + FormattableString.Invariant($"test PLL {pll:F2}"));
            }
            AnsiConsole.Write(table);
            if (r.GetValue(aisSteps) > 0)
            {
                var aisClock = Stopwatch.StartNew();
                var (logZ, spread) = rbm.AnnealedImportanceSampling(r.GetValue(aisRuns), r.GetValue(aisSteps),
                    random.Fork(), BaseBiases(train));
                double trainLl = rbm.LogLikelihood(train, logZ), testLl = rbm.LogLikelihood(test, logZ);
                AnsiConsole.MarkupInterpolated(
                    $"AIS ({r.GetValue(aisRuns)} runs × {r.GetValue(aisSteps)} temperatures, ");
                AnsiConsole.MarkupInterpolated($"{aisClock.Elapsed.TotalSeconds:F0} s): log Z = {logZ:F2} ");
                AnsiConsole.MarkupLineInterpolated(
                    $"(log-weight spread {spread:F2}); mean log-likelihood train {trainLl:F2}, test {testLl:F2} nats.");
                File.AppendAllText(metricsPath, new JsonObject
                {
                    ["type"] = "ais", ["epoch"] = r.GetValue(epochs),
                    ["step"] = 0, ["log_z"] = logZ, ["train_log_likelihood"] = trainLl,
                    ["test_log_likelihood"] = testLl
                }.ToJsonString() + "\n");
            }
            var files = Charts.ImageGrid(Path.Combine(folder, "filters"),
                $"{Math.Min(100, rbm.Hidden)} learned filters (weights into hidden units)", Filters(rbm, 100), 28, 28,
                10);
            AnsiConsole.MarkupLineInterpolated($"Model: {Path.GetFullPath(Path.Combine(folder, "rbm.safetensors"))}");
            CliOutput.PrintFiles(files, false);
            return 0;
        }));
        return command;
    }

    /// <summary>The base model for AIS: visible log-odds of the training data (Salakhutdinov &amp; Murray 2008),
    /// smoothed.</summary>
    static float[] BaseBiases(float[] data)
    {
        var biases = new float[784];
        int n = data.Length / 784;
        for (int i = 0; i < 784; i++)
        {
            double on = 0;
            for (int r = 0; r < n; r++) on += data[r * 784 + i];
            double p = (on + 0.05) / (n + 0.1);
            biases[i] = (float)Math.Log(p / (1 - p));
        }
        return biases;
    }

    static List<float[]> Filters(RestrictedBoltzmannMachine rbm, int count)
    {
        var filters = new List<float[]>();
        for (int j = 0; j < Math.Min(count, rbm.Hidden); j++)
        {
            var w = new float[rbm.Visible];
            for (int i = 0; i < rbm.Visible; i++) w[i] = rbm.Weights[i * rbm.Hidden + j];
            float min = w.Min(), max = w.Max();
            for (int i = 0; i < w.Length; i++) w[i] = max > min ? (w[i] - min) / (max - min) : 0.5f;
            filters.Add(w);
        }
        return filters;
    }

    static Command Sample()
    {
        var model = new Option<string>("--model")
        {
            Description = "Folder written by `recur rbm train` (or its rbm.safetensors).",
            Required = true,
        };
        var samples = new Option<int>("--samples")
        {
            Description = "Chains (pictures).",
            DefaultValueFactory = _ => 20,
        };
        var gibbs = new Option<int>("--gibbs")
        {
            Description = "Gibbs steps per chain.",
            DefaultValueFactory = _ => 1000,
        };
        var seed = new Option<ulong>("--seed") { Description = "Seed of the chains.", DefaultValueFactory = _ => 1 };
        var output = new Option<string>("--out")
        {
            Description = "Figure path without extension.",
            DefaultValueFactory = _ => Path.Combine("recur-rbm", "samples"),
        };
        var command = new Command("sample", "Draw digits from a trained RBM by Gibbs sampling from random noise; "
            + "writes picture grids of the samples (OUT) and of the filters (OUT-filters).")
        {
            model, samples, gibbs, seed, output,
        };
        command.SetAction(r => CommandErrors.Guard(() =>
        {
            string path = r.GetValue(model)!;
            if (Directory.Exists(path)) path = Path.Combine(path, "rbm.safetensors");
            var (rbm, metadata) = RestrictedBoltzmannMachine.Load(path);
            int count = r.GetValue(samples), steps = r.GetValue(gibbs);
            if (count < 1 || steps < 1) throw new UsageException("--samples and --gibbs must be positive.");
            int height = int.TryParse(metadata.GetValueOrDefault("height"), out int h) ? h : 1;
            int width = int.TryParse(metadata.GetValueOrDefault("width"), out int w) ? w : rbm.Visible;
            if (height * width != rbm.Visible) (height, width) = (1, rbm.Visible);
            var random = new RandomGenerator(r.GetValue(seed));
            var start = new float[count * rbm.Visible];
            RestrictedBoltzmannMachine.SampleBernoulli(Enumerable.Repeat(0.5f, start.Length).ToArray(), start, random);
            var means = rbm.Gibbs(start, steps, random);
            var pictures = Enumerable.Range(0, count).Select(k => means.AsSpan(k * rbm.Visible,
                rbm.Visible).ToArray()).ToList();
            var files = Charts.ImageGrid(r.GetValue(output)!, $"{count} samples after {steps} Gibbs steps from noise",
                pictures, height, width, Math.Min(10, count));
            CliOutput.PrintFiles(files, false);
            var filters = Charts.ImageGrid(r.GetValue(output)! + "-filters",
                $"{Math.Min(100, rbm.Hidden)} learned filters (weights into hidden units)", Filters(rbm, 100), height,
                width, 10);
            CliOutput.PrintFiles(filters, false);
            return 0;
        }));
        return command;
    }

    static string F(double v) => v.ToString("F2", CultureInfo.InvariantCulture);
}

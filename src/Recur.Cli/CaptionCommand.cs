using System.CommandLine;
using System.Globalization;
using System.Text.Json.Nodes;
using Recur.Captioning;
using Recur.Cli.Training;
using Recur.Kernels;
using Recur.Nn.Recurrent;
using Recur.Optim;
using Recur.Training;
using Spectre.Console;

namespace Recur.Cli;

/// <summary>
/// <c>recur caption train|eval|run</c>: describing images of handwritten digits with a CNN and a recurrent decoder
/// (Show and Tell, m-RNN, or Show, Attend and Tell), the one-to-many shape.
/// </summary>
static class CaptionCommand
{
    public static Command Create()
    {
        var command = new Command("caption", "Describe images of handwritten digits: CNN encoder, recurrent decoder.");
        command.Subcommands.Add(Train());
        command.Subcommands.Add(Eval());
        command.Subcommands.Add(Run());
        return command;
    }

    static Option<string> MnistOption() => new("--mnist")
    {
        Description = "MNIST folder with t10k-images-idx3-ubyte.gz and t10k-labels-idx1-ubyte.gz (the 10,000 test "
            + "digits: scenes for training use 0–7,999, for testing 8,000–9,999).",
        Required = true,
    };

    static Option<int> BeamOption() => new("--beam")
    {
        Description = "Beam width (1: greedy).", DefaultValueFactory = _ => 1,
    };

    static DigitScenes LoadDigits(string folder)
    {
        if (!Directory.Exists(folder)) throw new UsageException($"--mnist {folder}: no such folder.");
        return DigitScenes.Load(folder);
    }

    static Command Train()
    {
        var mnist = MnistOption();
        var scenes = new Option<int>("--scenes")
        {
            Description = "Training scenes (made from their index batch by batch; validation: 500 more).",
            DefaultValueFactory = _ => 20_000,
        };
        var decoder = new Option<string>("--decoder")
        {
            Description = "show-tell (image → initial state), mrnn (multimodal layer) or attention (soft attention "
                + "over the feature map, doubly stochastic regulariser).",
            DefaultValueFactory = _ => "attention",
        };
        decoder.AcceptOnlyFromAmong("show-tell", "mrnn", "attention");
        var style = new Option<string>("--style")
        {
            Description = "digits (\"seven two nine\") or relational (\"a seven left of a large two\").",
            DefaultValueFactory = _ => "digits",
        };
        style.AcceptOnlyFromAmong("digits", "relational");
        var maxDigits = new Option<int>("--max-digits")
        {
            Description = "Digits per scene, 1 to this (1–8).", DefaultValueFactory = _ => 5,
        };
        var noise = new Option<float>("--noise")
        {
            Description = "Standard deviation of Gaussian pixel noise.", DefaultValueFactory = _ => 0f,
        };
        var rotation = new Option<float>("--rotation")
        {
            Description = "Augmentation: rotate each training digit by a random angle up to this many degrees "
                + $"(0–{DigitScenes.MaxRotation}).",
            DefaultValueFactory = _ => 0f,
        };
        var shear = new Option<float>("--shear")
        {
            Description = "Augmentation: shear each training digit horizontally by a random factor up to this "
                + $"(0–{DigitScenes.MaxShear}).",
            DefaultValueFactory = _ => 0f,
        };
        var channels = new Option<int>("--channels")
        {
            Description = "Channels of the first convolution (the others have twice as many).",
            DefaultValueFactory = _ => 16,
        };
        var extraConvolutions = new Option<int>("--extra-convolutions")
        {
            Description = "3×3 convolutions after the third pooling (0–8), each widening what a feature cell sees "
                + "by 16 pixels.",
            DefaultValueFactory = _ => 0,
        };
        var hidden = new Option<int>("--hidden") { Description = "Decoder units.", DefaultValueFactory = _ => 256 };
        var embed = new Option<int>("--embed") { Description = "Word embedding width.", DefaultValueFactory = _ => 64 };
        var joint = new Option<int>("--joint")
        {
            Description = "Width of the multimodal (mrnn) or attention layer.", DefaultValueFactory = _ => 128,
        };
        var cell = CellOption.Create(only: [CellKind.Lstm, CellKind.Gru], why: "the decoder runs single-step cells");
        var regulariser = new Option<float>("--doubly-stochastic")
        {
            Description = "λ of the attention regulariser (0 turns it off).", DefaultValueFactory = _ => 1f,
        };
        var teacherForcing = new TeacherForcingOptions();
        var json = new Option<bool>("--json") { Description = "Print the final metrics as JSON." };
        var training = new TrainingOptions(10, 64, 2e-3f, defaultClipNorm: 5f);
        var command = new Command("train", "Train a captioner on scenes of MNIST digits; validation: exact match.")
        {
            mnist, scenes, decoder, style, maxDigits, noise, rotation, shear, channels, extraConvolutions, hidden,
            embed, joint, cell, regulariser, json,
        };
        teacherForcing.AddTo(command);
        training.AddTo(command);
        command.SetAction(r => CommandErrors.Guard(() =>
        {
            var s = training.Read(r);
            using var threadLimit = Parallelism.Limit(s.Threads);
            if (s.Out is null) throw new UsageException("--out is required: the model and its checkpoints go there.");
            if (r.GetValue(scenes) < 1 || r.GetValue(maxDigits) is < 1 or > 8 || !(r.GetValue(noise) >= 0)
                || !(r.GetValue(rotation) is >= 0 and <= DigitScenes.MaxRotation)
                || !(r.GetValue(shear) is >= 0 and <= DigitScenes.MaxShear))
                throw new UsageException("--scenes must be positive, --max-digits 1–8, --noise non-negative, "
                    + $"--rotation 0–{DigitScenes.MaxRotation} and --shear 0–{DigitScenes.MaxShear}.");
            var settings = new SceneSettings(Enum.Parse<CaptionStyle>(r.GetValue(style)!, ignoreCase: true),
                r.GetValue(maxDigits), r.GetValue(noise), r.GetValue(rotation), r.GetValue(shear));
            var kind = r.GetValue(decoder) switch
            {
                "show-tell" => CaptionDecoder.ShowTell,
                "mrnn" => CaptionDecoder.MRnn,
                _ => CaptionDecoder.Attention,
            };
            var config = new CaptionerConfig(kind, settings.Vocabulary().VocabularySize, DigitScenes.Height,
                settings.Width, r.GetValue(channels), r.GetValue(hidden), r.GetValue(embed), r.GetValue(joint),
                r.GetValue(cell)!, r.GetValue(regulariser), r.GetValue(extraConvolutions));
            try { config.Validate(); }
            catch (ArgumentException e) { throw new UsageException(e.Message); }
            var digits = LoadDigits(r.GetValue(mnist)!);
            var model = new Captioner(config, new RandomGenerator(s.Seed));
            var task = new CaptionTask(model, digits, settings, r.GetValue(scenes), s.Seed, s.Batch);
            AnsiConsole.MarkupLine(Markup.Escape($"caption: {r.GetValue(scenes):N0} training scenes of 1–"
                + $"{settings.MaxDigits} digits, {settings.Style.ToString().ToLowerInvariant()} descriptions; "
                + $"{r.GetValue(decoder)} decoder ({config.Cell.Name()}), "
                + $"{model.Parameters().Sum(p => (long)p.Length):N0} parameters."));
            var optimizer = TrainingOptions.CreateOptimizer(s, model.Parameters());
            var schedule = TrainingOptions.CreateSchedule(s, task.BatchesPerEpoch, MetricMode.Max);
            var options = teacherForcing.Apply(r, TrainingOptions.CreateTrainerOptions(s, "accuracy", MetricMode.Max),
                (long)s.Epochs * task.BatchesPerEpoch);
            var result = TrainingOptions.Train(task, optimizer, options, schedule, s.Resume);
            if (result.Outcome == TrainingOutcome.Interrupted) return 130;
            TrainingOptions.PrintMetrics("caption: last validation", result.LastEvaluation
                ?? new Dictionary<string, double>(), r.GetValue(json));
            return 0;
        }));
        return command;
    }

    /// <summary>The run folders given to <c>--model</c>: one model, or several as an ensemble.</summary>
    static Option<string[]> ModelOption() => new("--model")
    {
        Description = "Run folder (or checkpoint) of `recur caption train`; give it again for an ensemble (the mean of "
            + "the models' word probabilities).",
        Required = true,
        Arity = ArgumentArity.OneOrMore,
    };

    static TrainedCaptioner OpenModel(string[] folders)
    {
        foreach (string folder in folders)
            if (!Directory.Exists(folder)) throw new UsageException($"--model {folder}: no such folder.");
        var members = folders.Select(TrainedCaptioner.Open).ToList();
        try { return members.Count == 1 ? members[0] : TrainedCaptioner.Ensemble(members); }
        catch (ArgumentException e) { throw new UsageException($"--model {string.Join(", ", folders)}: {e.Message}"); }
    }

    static Command Eval()
    {
        var model = ModelOption();
        var mnist = MnistOption();
        var beam = BeamOption();
        var scenes = new Option<int>("--scenes")
        {
            Description = "Test scenes, from the held-out digits 8,000–9,999.", DefaultValueFactory = _ => 2000,
        };
        var seed = new Option<ulong>("--seed")
        {
            Description = "Seed of the test scenes.", DefaultValueFactory = _ => 7,
        };
        var plot = new Option<string?>("--plot")
        {
            Description = "Draw the first test scenes with each word's attention to this base path (.png and .svg).",
        };
        var json = new Option<bool>("--json") { Description = "Print the scores as JSON." };
        var command = new Command("eval", "Exact match, BLEU and attention-in-box on held-out scenes.")
        {
            model, mnist, beam, scenes, seed, plot, json,
        };
        command.SetAction(r => CommandErrors.Guard(() =>
        {
            if (r.GetValue(beam) < 1 || r.GetValue(scenes) < 1)
                throw new UsageException("--beam and --scenes must be positive.");
            var captioner = OpenModel(r.GetValue(model)!);
            var digits = LoadDigits(r.GetValue(mnist)!);
            var settings = captioner.Scenes;
            var test = digits.Generate(r.GetValue(scenes), r.GetValue(seed), test: true, settings.MaxDigits,
                settings.Noise);
            var report = captioner.Score(test, r.GetValue(beam));
            if (r.GetValue(plot) is { } basePath)
                foreach (var file in CaptionFigure.DrawScenes(basePath, captioner, test.Take(4).ToList(),
                    r.GetValue(beam)))
                    AnsiConsole.MarkupLine(Markup.Escape($"wrote {file}"));
            var scores = new JsonObject
            {
                ["scenes"] = report.Scenes, ["beam"] = r.GetValue(beam), ["exact_match"] = report.ExactMatch,
                ["bleu"] = report.Bleu.Score, ["attention_in_box"] = report.AttentionInBox,
            };
            if (r.GetValue(json)) Console.WriteLine(scores.ToJsonString());
            else
            {
                var table = new Table().AddColumns("scenes", "beam", "exact match", "BLEU", "attention in box");
                table.AddRow(report.Scenes.ToString(CultureInfo.InvariantCulture),
                    r.GetValue(beam).ToString(CultureInfo.InvariantCulture),
                    report.ExactMatch.ToString("P2", CultureInfo.InvariantCulture),
                    report.Bleu.Score.ToString("F2", CultureInfo.InvariantCulture),
                    report.AttentionInBox?.ToString("P1", CultureInfo.InvariantCulture) ?? "–");
                AnsiConsole.Write(table);
            }
            return 0;
        }));
        return command;
    }

    static Command Run()
    {
        var model = ModelOption();
        var beam = BeamOption();
        var plot = new Option<string?>("--plot")
        {
            Description = "Draw each image with each word's attention to this base path (.png and .svg; numbered "
                + "when there are several images).",
        };
        var images = new Argument<string[]>("images")
        {
            Description = "PNG, JPEG, BMP or PGM images: grey or colour, dark ink on light paper or the other way "
                + "round; smaller ones are placed on the model's canvas, larger ones scaled down to fit.",
            Arity = ArgumentArity.OneOrMore,
        };
        var command = new Command("run", "Describe images.") { model, beam, plot, images };
        command.SetAction(r => CommandErrors.Guard(() =>
        {
            if (r.GetValue(beam) < 1) throw new UsageException("--beam must be positive.");
            var captioner = OpenModel(r.GetValue(model)!);
            var files = r.GetValue(images)!;
            var canvases = files.Select(f => CaptionFigure.ReadCanvas(f, captioner.Model.Config)).ToList();
            var captions = captioner.Describe(CaptionTask.Images(canvases.Select(c => new DigitScene(c, []))
                .ToList()), r.GetValue(beam));
            for (int i = 0; i < files.Length; i++)
            {
                Console.WriteLine($"{files[i]}: {captions[i].Text}");
                if (r.GetValue(plot) is { } basePath)
                {
                    var figure = CaptionFigure.Draw(files.Length == 1 ? basePath : $"{basePath}-{i + 1}",
                        Path.GetFileName(files[i]), canvases[i], captions[i], captioner.AttentionModel.Config);
                    AnsiConsole.MarkupLine(Markup.Escape($"wrote {figure.Png}"));
                }
            }
            return 0;
        }));
        return command;
    }
}

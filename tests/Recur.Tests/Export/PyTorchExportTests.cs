using System.Diagnostics;
using System.Text.Json;
using Recur.Captioning;
using Recur.Classification;
using Recur.Export;
using Recur.Forecasting;
using Recur.Language;
using Recur.Memory;
using Recur.Nn;
using Recur.Nn.Recurrent;
using Recur.Speech;
using Recur.Tagging;
using Recur.Translation;

namespace Recur.Tests.Export;

/// <summary>
/// A theory skipped, with the reason shown, when Debian's <c>/usr/bin/python3</c> cannot import torch (install it
/// with <c>bench/install-peer.sh</c>).
/// </summary>
public sealed class TorchTheoryAttribute : TheoryAttribute
{
    internal static readonly Lazy<string?> Missing = new(() =>
    {
        if (!File.Exists(PyTorchExportTests.Python)) return $"needs {PyTorchExportTests.Python} with torch";
        try
        {
            using var process = Process.Start(new ProcessStartInfo(PyTorchExportTests.Python, ["-c", "import torch"])
            {
                RedirectStandardError = true,
            })!;
            process.StandardError.ReadToEnd();
            process.WaitForExit();
            return process.ExitCode == 0 ? null : $"{PyTorchExportTests.Python} cannot import torch";
        }
        catch (System.ComponentModel.Win32Exception e) { return e.Message; }
    });

    public TorchTheoryAttribute()
    {
        if (Missing.Value is { } reason) Skip = reason + " (bench/install-peer.sh installs it)";
    }
}

/// <summary>A fact skipped, with the reason shown, when torch is missing.</summary>
public sealed class TorchFactAttribute : FactAttribute
{
    public TorchFactAttribute()
    {
        if (TorchTheoryAttribute.Missing.Value is { } reason) Skip = reason + " (bench/install-peer.sh installs it)";
    }
}

/// <summary>
/// Every PyTorch export kind, run by Debian's torch through the written <c>load.py</c> and <c>model.py</c>: torch's
/// outputs agree with Recur's within 1e-5.
/// </summary>
public sealed class PyTorchExportTests : IDisposable
{
    internal const string Python = "/usr/bin/python3";

    readonly string folder = Directory.CreateTempSubdirectory("recur-torch-export-").FullName;

    public void Dispose() => Directory.Delete(folder, recursive: true);

    const string Driver = """
        import json
        import sys

        import torch

        from load import load, save

        request = json.load(open(sys.argv[1]))
        model = load()
        kind = request["kind"]
        with torch.no_grad():
            if kind == "sequence":
                outputs = {"output": model(torch.tensor(request["input"]).reshape(request["shape"]))}
            elif kind == "forecast":
                history = torch.tensor(request["history"]).reshape(request["shape"])
                covariates = request.get("covariates")
                if covariates is not None:
                    covariates = torch.tensor(covariates).reshape(request["shape"] + [-1])
                outputs = {"forecast": model(history, covariates)}
            elif kind == "tagger":
                shape = request["shape"]
                words, lengths = torch.tensor(request["words"]).reshape(shape), torch.tensor(request["lengths"])
                chars = request.get("chars")
                extra = {}
                if chars is not None:
                    extra["chars"] = torch.tensor(chars).reshape(shape + [-1])
                    extra["char_lengths"] = torch.tensor(request["char_lengths"]).reshape(shape)
                if request.get("casing") is not None:
                    extra["casing"] = torch.tensor(request["casing"]).reshape(shape)
                emissions = model(words, lengths, **extra)
                tags = model.decode(emissions, lengths)
                outputs = {"emissions": emissions, "tags": torch.tensor([t for s in tags for t in s])}
            elif kind == "seq2seq":
                source = torch.tensor(request["source"]).reshape(request["shape"])
                lengths = torch.tensor(request["lengths"])
                translations = model.greedy(source, lengths, max_length=request["max_length"])
                # the log-probability of each translation, its end token included, step by step
                state, encoded = model.encode(source, lengths)
                batch = source.shape[1]
                previous = torch.full((batch,), 2, dtype=torch.long)
                log_p = torch.zeros(batch)
                for t in range(request["max_length"]):
                    logits, state, _ = model.step(previous, state, encoded)
                    log_softmax = torch.log_softmax(logits, dim=1)
                    for b in range(batch):
                        if t <= len(translations[b]):
                            token = translations[b][t] if t < len(translations[b]) else 3
                            log_p[b] += log_softmax[b, token]
                            previous[b] = token
                # each translation followed by -1
                outputs = {"tokens": torch.tensor([t for s in translations for t in s + [-1]]), "log_p": log_p}
            elif kind == "captioner":
                images = torch.tensor(request["images"]).reshape(request["shape"])
                limit = request["max_length"]
                captions = model.greedy(images, max_length=limit)
                # the log-probability of each description, its end included when it has one, step by step
                state, encoded = model.encode(images)
                previous = torch.full((images.shape[0],), 2, dtype=torch.long)
                log_p = torch.zeros(images.shape[0])
                for t in range(limit + 1):
                    logits, state, _ = model.step(previous, state, encoded)
                    log_softmax = torch.log_softmax(logits, dim=1)
                    for b, words in enumerate(captions):
                        if t < len(words) or t == len(words) < limit:
                            token = words[t] if t < len(words) else 3
                            log_p[b] += log_softmax[b, token]
                            previous[b] = token
                outputs = {"tokens": torch.tensor([t for s in captions for t in s + [-1]]), "log_p": log_p}
            elif kind == "story":
                ids = torch.tensor(request["ids"]).reshape(request["shape"])
                outputs = {"logits": model(ids, torch.tensor(request["lengths"]))}
            elif kind == "ntm":
                logits, reads, writes = model(torch.tensor(request["inputs"]).reshape(request["shape"]))
                outputs = {"logits": logits, "reads": reads, "writes": writes}
            elif kind == "wavenet":
                codes = torch.tensor(request["codes"]).reshape(request["shape"])
                condition = request.get("condition")
                condition = None if condition is None else torch.tensor(condition)
                local = request.get("local")
                local = None if local is None else torch.tensor(local).reshape(request["shape"][0], -1,
                                                                               request["shape"][1])
                outputs = {"logits": model(codes, condition, local)}
            elif kind == "speech":
                features = torch.tensor(request["features"]).reshape(request["shape"])
                log_probs, lengths = model(features, torch.tensor(request["lengths"]))
                outputs = {"log_probs": log_probs, "lengths": lengths}
            elif kind == "memn2n":
                shape = request["shape"]
                story = torch.tensor(request["story"]).reshape(shape)
                ages = torch.tensor(request["ages"]).reshape(shape[:2])
                mask = torch.where(torch.tensor(request["masked"]).reshape(shape[:2]) == 1,
                                   torch.tensor(float("-inf")), torch.tensor(0.0))
                question = torch.tensor(request["question"]).reshape(shape[0], shape[2])
                logits, attention = model(story, ages, mask, question)
                outputs = {"logits": logits, "attention": attention}
            elif kind == "classifier":
                ids = torch.tensor(request["ids"]).reshape(request["shape"])
                segments = [torch.tensor(request["segment_index"]).reshape(request["index_shape"]),
                            torch.tensor(request["segment_counts"])] if "segment_index" in request else []
                outputs = {"logits": model(ids, torch.tensor(request["lengths"]), *segments)}
            else:
                logits, state = model(torch.tensor(request["ids"]).reshape(request["shape"]))
                hidden = state[0] if isinstance(state, tuple) else state
                outputs = {"logits": logits, "hn": hidden}
            if "save" in request:
                # training elsewhere, in miniature: change every weight, save, and report the changed model's output
                for parameter in model.parameters():
                    parameter.mul_(0.9).add_(0.01)
                save(model, request["save"])
                outputs = {"output": model(torch.tensor(request["input"]).reshape(request["shape"]))}
        print(json.dumps({name: value.flatten().tolist() for name, value in outputs.items()}))
        """;

    /// <summary>Runs the exported model in <paramref name="export"/> on <paramref name="request"/>.</summary>
    internal static Dictionary<string, float[]> RunTorch(string export, object request)
    {
        File.WriteAllText(Path.Combine(export, "driver.py"), Driver);
        File.WriteAllText(Path.Combine(export, "request.json"), JsonSerializer.Serialize(request));
        var start = new ProcessStartInfo(Python, ["driver.py", "request.json"])
        {
            WorkingDirectory = export, RedirectStandardOutput = true, RedirectStandardError = true,
        };
        start.Environment["OMP_NUM_THREADS"] = "1";
        using var process = Process.Start(start)!;
        var error = process.StandardError.ReadToEndAsync();
        string output = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        Assert.True(process.ExitCode == 0, error.Result);
        return JsonSerializer.Deserialize<Dictionary<string, float[]>>(output)!;
    }

    [TorchTheory]
    [InlineData(1, "gru", true)]
    [InlineData(2, "lstm", false)]
    public void SpeechRecognizersRunInTorchAsInRecur(int convLayers, string cell, bool bidirectional)
    {
        var c = ExportCases.Speech(convLayers, cell, bidirectional);
        PyTorchExport.Save(c.Model, folder);
        var outputs = RunTorch(folder, new
        {
            kind = "speech", features = c.Input, lengths = c.Frames,
            shape = new[] { c.Frames.Length, 1, 12, c.Longest },
        });
        Close.Values(c.Expected.Span, outputs["log_probs"], "speech log-probabilities", 1e-5, 1e-5);
        Assert.Equal(c.Lengths.Select(n => (float)n), outputs["lengths"]);
    }

    [TorchTheory]
    [InlineData(SentenceEncoding.Position, true, true, false)]
    [InlineData(SentenceEncoding.BagOfWords, false, false, false)]
    [InlineData(SentenceEncoding.Position, true, false, true)]
    public void MemoryNetworksRunInTorchAsInRecur(SentenceEncoding encoding, bool temporal, bool emptySlots,
        bool linearStart)
    {
        var c = ExportCases.MemoryNetwork(encoding, temporal, emptySlots, linearStart);
        PyTorchExport.Save(c.Model, folder);
        var p = c.Padded;
        var outputs = RunTorch(folder, new
        {
            kind = "memn2n", story = p.Story, ages = p.Ages, question = p.Question,
            masked = p.Mask.Select(v => float.IsNegativeInfinity(v) ? 1 : 0).ToArray(),
            shape = new[] { p.Batch, p.Slots, c.Model.Config.SentenceLength },
        });
        Close.Values(c.Expected.Logits.Span, outputs["logits"], "answer logits", 1e-5, 1e-5);
        Close.Values([.. c.Expected.Attention.SelectMany(a => a.ToArray())], outputs["attention"], "attention", 1e-5,
            1e-5);
    }

    [TorchTheory]
    [InlineData(0, 0)]
    [InlineData(3, 4)]
    public void WaveNetsRunInTorchAsInRecur(int labels, int localChannels)
    {
        var c = ExportCases.WaveNet(labels, localChannels);
        PyTorchExport.Save(c.Model, folder);
        var outputs = RunTorch(folder, new
        {
            kind = "wavenet", codes = c.Codes, shape = new[] { c.Batch, c.Steps }, condition = c.Conditions,
            local = c.Local?.ToArray(),
        });
        Close.Values(c.Expected.Span, outputs["logits"], "WaveNet logits", 1e-5, 1e-5);
    }

    [TorchTheory]
    [InlineData(CaptionDecoder.ShowTell, "lstm", 41, 0)]
    [InlineData(CaptionDecoder.MRnn, "gru", 41, 1)]
    [InlineData(CaptionDecoder.Attention, "lstm", 41, 0)]
    [InlineData(CaptionDecoder.Attention, "gru", 44, 0)]
    [InlineData(CaptionDecoder.Attention, "lstm", 41, 2)]
    public void CaptionersDescribeInTorchAsInRecur(CaptionDecoder decoder, string cell, int seed, int extraConvolutions)
    {
        var model = new Captioner(new CaptionerConfig(decoder, 10, Height: 16, Width: 24, Channels: 2,
            HiddenSize: 5, EmbeddingSize: 4, JointSize: 6, Cell: RecurrentCells.Parse(cell),
            ExtraConvolutions: extraConvolutions), new RandomGenerator((ulong)seed));
        var images = Tensor.RandomUniform(new RandomGenerator(42), [3, 1, 16, 24]);
        var expected = model.Describe(images, beamWidth: 1, maxLength: 6);
        PyTorchExport.Save(model, folder);
        var outputs = RunTorch(folder, new
        {
            kind = "captioner", images = images.ToArray(), shape = new[] { 3, 1, 16, 24 }, max_length = 6,
        });
        Assert.Equal(expected.SelectMany(d => d.Tokens.Append(-1)).Select(t => (float)t), outputs["tokens"]);
        Assert.Contains(expected, d => d.Tokens.Length > 0); // some words are compared, not only ends
        Close.Values([.. expected.Select(d => (float)d.LogProbability)], outputs["log_p"], "log-probabilities",
            1e-5, 1e-5);
    }

    [TorchFact]
    public void StoryLstmsAnswerInTorchAsInRecur()
    {
        var model = new StoryLstm(new StoryLstmConfig(12, 4, 5, MemorySize: 2), new RandomGenerator(6));
        EncodedQuestion[] batch =
        [
            new([[3, 4, 5], [6, 7], [8, 9, 10, 11]], [2, 3], 4, 1),
            new([[1, 2, 3, 4]], [5, 6, 7], 8, 1),
            new([[9], [10, 11], [3]], [9, 10, 11, 1], 2, 1),
        ];
        var sequences = batch.Select(model.Sequence).ToArray();
        var (ids, lengths, steps) = RaggedBatch.TimeMajor(sequences, 13, "test");
        PyTorchExport.Save(model, folder);
        var outputs = RunTorch(folder, new { kind = "story", ids, lengths, shape = new[] { steps, batch.Length } });
        using var _ = Recur.Autograd.GradMode.NoGrad();
        Close.Values(model.Forward(batch).Span, outputs["logits"], "answer logits", 1e-5, 1e-5);
    }

    [TorchTheory]
    [InlineData(true)]
    [InlineData(false)]
    public void NeuralTuringMachinesRunInTorchAsInRecur(bool lstm)
    {
        var model = new NeuralTuringMachine(new NeuralTuringMachineConfig(4, 3, 6, MemorySlots: 5, SlotSize: 3,
            LstmController: lstm), new RandomGenerator(8));
        var inputs = Tensor.RandomNormal(new RandomGenerator(9), [7, 2, 4]);
        PyTorchExport.Save(model, folder);
        var outputs = RunTorch(folder, new { kind = "ntm", inputs = inputs.ToArray(), shape = new[] { 7, 2, 4 } });
        using var _ = Recur.Autograd.GradMode.NoGrad();
        var expected = model.Forward(inputs);
        Close.Values(expected.Output.Span, outputs["logits"], "NTM outputs", 1e-5, 1e-5);
        Close.Values([.. expected.ReadWeights.SelectMany(w => w.ToArray())], outputs["reads"], "read weights", 1e-5,
            1e-5);
        Close.Values([.. expected.WriteWeights.SelectMany(w => w.ToArray())], outputs["writes"], "write weights",
            1e-5, 1e-5);
    }

    [TorchTheory]
    [InlineData("lstm", 2, true, false)]
    [InlineData("gru", 1, true, true)]
    [InlineData("relu-rnn", 2, false, false)]
    public void SequenceModelsRunInTorchAsInRecur(string cell, int layers, bool bidirectional, bool perStep)
    {
        var model = new SequenceModel(new SequenceModelConfig(RecurrentCells.Parse(cell), 4, 6, 3, layers,
            bidirectional, 0.2f, perStep),
            new RandomGenerator(7));
        model.Eval();
        var input = Tensor.RandomNormal(new RandomGenerator(8), [5, 3, 4]);
        PyTorchExport.Save(model, folder);
        var outputs = RunTorch(folder, new { kind = "sequence", input = input.ToArray(), shape = new[] { 5, 3, 4 } });
        Close.Values(model.Forward(input).Span, outputs["output"], $"{cell} output", 1e-5, 1e-5);
    }

    public static TheoryData<Pooling, string, bool> Poolings() => new()
    {
        { Pooling.Max, "lstm", true }, { Pooling.Mean, "gru", true }, { Pooling.Last, "lstm", true },
        { Pooling.Attention, "gru", false },
    };

    [TorchTheory]
    [MemberData(nameof(Poolings))]
    public void TextClassifiersRunOnPackedSequencesInTorchAsInRecur(Pooling pooling, string cell, bool bidirectional)
    {
        var (model, texts, ids, lengths, steps) = ExportCases.Classifier(pooling, cell, bidirectional);
        int batch = texts.Length;
        PyTorchExport.Save(model, folder);
        var outputs = RunTorch(folder, new { kind = "classifier", ids, lengths, shape = new[] { steps, batch } });
        Close.Values(model.Forward(texts).Span, outputs["logits"], $"{pooling} logits", 1e-5, 1e-5);
    }

    [TorchTheory]
    [InlineData(Segmentation.Chunks, Pooling.Max, "lstm")]
    [InlineData(Segmentation.Chunks, Pooling.Concat, "gru")]
    [InlineData(Segmentation.Sentences, Pooling.Attention, "lstm")]
    [InlineData(Segmentation.Sentences, Pooling.Last, "gru")]
    [InlineData(Segmentation.None, Pooling.Concat, "lstm")]
    public void ClassifiersThatReadInSegmentsRunInTorchAsInRecur(Segmentation segmentation, Pooling pooling,
        string cell)
    {
        var (model, texts, cut, ids, lengths, steps) = ExportCases.SegmentedClassifier(segmentation, pooling, cell);
        PyTorchExport.Save(model, folder);
        var outputs = segmentation == Segmentation.None
            ? RunTorch(folder, new { kind = "classifier", ids, lengths, shape = new[] { steps, texts.Length } })
            : RunTorch(folder, new
            {
                kind = "classifier", ids, lengths, shape = new[] { steps, cut.Segments.Length },
                segment_index = cut.Index, index_shape = new[] { cut.Most, texts.Length },
                segment_counts = cut.Counts,
            });
        using var _ = Recur.Autograd.GradMode.NoGrad();
        Close.Values(model.Forward(texts).Span, outputs["logits"], $"{segmentation} {pooling} logits", 1e-5, 1e-5);
    }

    [TorchTheory]
    [InlineData("lstm", false, 6)]
    [InlineData("lstm", true, 8)]
    [InlineData("gru", true, 6)]
    public void LanguageModelsIncludingTiedAndProjectedOnesRunInTorchAsInRecur(string cell, bool tied, int hidden)
    {
        // tied weights with hidden 8 > embedding 6 make a projected LSTM (torch's proj_size)
        var model = new LanguageModel(new LanguageModelConfig(20, 6, hidden, NumLayers: 2,
            Cell: RecurrentCells.Parse(cell),
            TieWeights: tied), new RandomGenerator(5));
        model.Eval();
        var random = new RandomGenerator(6);
        int[] ids = Enumerable.Range(0, 8).Select(_ => random.NextInt(20)).ToArray();
        var (logits, state) = model.Forward(ids, 4, 2);
        PyTorchExport.Save(model, folder);
        var outputs = RunTorch(folder, new { kind = "lm", ids, shape = new[] { 4, 2 } });
        Close.Values(logits.Span, outputs["logits"], "logits", 1e-5, 1e-5);
        Close.Values(state.Hidden.Span, outputs["hn"], "hn", 1e-5, 1e-5);
    }

    [TorchTheory]
    [InlineData("lstm")]
    [InlineData("gru")]
    public void WeightsTrainedFurtherInTorchComeBackIntoRecur(string cell)
    {
        var config = new SequenceModelConfig(RecurrentCells.Parse(cell), 4, 6, 3, 2, Bidirectional: true);
        var model = new SequenceModel(config, new RandomGenerator(9));
        PyTorchExport.Save(model, folder);
        var input = Tensor.RandomNormal(new RandomGenerator(10), [5, 3, 4]);
        string back = Path.Combine(folder, "back");
        var outputs = RunTorch(folder, new
        {
            kind = "sequence", input = input.ToArray(), shape = new[] { 5, 3, 4 }, save = back,
        });
        var returned = new SequenceModel(config, new RandomGenerator(0));
        returned.LoadStateDict(Recur.Serialization.SafeTensors.Load(Path.Combine(back, "model.safetensors")));
        returned.Eval();
        Close.Values(returned.Forward(input).Span, outputs["output"], "returned output", 1e-5, 1e-5);
    }

    [TorchTheory]
    [InlineData("lstm", ScalingKind.MinMax, false, 0, 0)]
    [InlineData("gru", ScalingKind.Standard, true, 3, 0)]
    [InlineData("mlp", ScalingKind.MinMax, true, 1, 0)]
    [InlineData("rnn", ScalingKind.Standard, false, 2, 2)]
    public void ForecastersForecastInTorchInTheSeriesOwnUnitsAsInRecur(string network, ScalingKind scaling, bool log,
        int lag, int covariates)
    {
        var (forecaster, history, recent, expected) = ExportCases.Forecaster(network, scaling, log, lag, covariates);
        PyTorchExport.Save(forecaster, folder);
        var outputs = RunTorch(folder, new
        {
            kind = "forecast", history = history.Select(v => (float)v).ToArray(), shape = new[] { 1, history.Length },
            covariates = covariates > 0 ? recent : null,
        });
        Close.Values(expected.Select(v => (float)v).ToArray(), outputs["forecast"], "forecast", 1e-5, 1e-5);
    }

    [TorchTheory]
    [InlineData(true, true, 3, 2)]
    [InlineData(false, false, 0, 1)]
    public void TaggersGiveRecursEmissionsAndTagsInTorch(bool crf, bool chars, int casing, int layers)
    {
        var c = ExportCases.Tagger(crf, chars, casing, layers, dropout: 0.3f);
        var (model, sentences) = (c.Model, c.Sentences);
        PyTorchExport.Save(model, folder);
        var outputs = RunTorch(folder, new
        {
            kind = "tagger", words = c.Words, lengths = c.Lengths, shape = new[] { c.Steps, sentences.Length },
            chars = chars ? c.Characters : null, char_lengths = c.CharLengths, casing = casing > 0 ? c.Casing : null,
        });
        Close.Values(model.Emissions(sentences).Emissions.Span, outputs["emissions"], "emissions", 1e-5, 1e-5);
        Assert.Equal(model.Predict(sentences).SelectMany(t => t).Select(t => (float)t), outputs["tags"]);
    }

    [TorchTheory]
    [InlineData("lstm", AttentionKind.General, true, 2)]
    [InlineData("gru", AttentionKind.Additive, false, 1)]
    [InlineData("lstm", AttentionKind.Dot, true, 1)]
    [InlineData("gru", AttentionKind.None, true, 2)]
    public void TranslationModelsTranslateInTorchAsInRecur(string cell, AttentionKind attention, bool bidirectional,
        int layers)
    {
        var config = new Seq2SeqConfig(15, 12, EmbeddingSize: 5, HiddenSize: 4, NumLayers: layers,
            Cell: RecurrentCells.Parse(cell),
            Bidirectional: bidirectional, Attention: attention, Dropout: 0.2f);
        var model = new Seq2Seq(config, new RandomGenerator(31));
        int[][] sources = [[5, 6, 7, 8, 9], [10, 4]];
        var expected = model.Greedy(sources, maxLength: 6);
        var (ids, lengths, steps) = RaggedBatch.TimeMajor(sources, 15, "test");
        PyTorchExport.Save(model, folder);
        var outputs = RunTorch(folder, new
        {
            kind = "seq2seq", source = ids, lengths, shape = new[] { steps, 2 }, max_length = 6,
        });
        var tokens = expected.SelectMany(t => t.Tokens.Append(-1)).Select(t => (float)t);
        Assert.Equal(tokens, outputs["tokens"]);
        Close.Values(expected.Select(t => (float)t.LogProbability).ToArray(), outputs["log_p"], "log P", 1e-5, 1e-5);
    }

    [Fact]
    public void ACellTorchLacksGetsAClearErrorAndNothingIsWritten()
    {
        var model = new SequenceModel(new SequenceModelConfig(CellKind.LnLstm, 3, 4, 2), new RandomGenerator(1));
        string export = Path.Combine(folder, "ln");
        var error = Assert.Throws<NotSupportedException>(() => PyTorchExport.Save(model, export));
        Assert.Contains("layer-normalised", error.Message);
        Assert.False(Directory.Exists(export));
    }
}

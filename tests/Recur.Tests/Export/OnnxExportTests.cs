using Microsoft.ML.OnnxRuntime;
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
using Recur.Text;
using Recur.Translation;

namespace Recur.Tests.Export;

/// <summary>
/// Every exportable model kind, written by <see cref="OnnxExport"/>, loaded in ONNX Runtime and run on the same inputs
/// as Recur: outputs agree within 1e-5 (bidirectional, stacked, variable-length and stateful cases included).
/// </summary>
public sealed class OnnxExportTests : IDisposable
{
    readonly string folder = Path.Combine(Path.GetTempPath(), $"recur-onnx-{Guid.NewGuid():N}");

    public OnnxExportTests() => Directory.CreateDirectory(folder);

    public void Dispose() => Directory.Delete(folder, recursive: true);

    const double Tolerance = 1e-5;

    /// <summary>An ONNX Runtime input: float, int64 or int32 values with a shape.</summary>
    internal sealed record Input(string Name, Array Values, long[] Shape);

    /// <summary>Runs <paramref name="path"/> in ONNX Runtime (one thread) and returns every output as floats.</summary>
    internal static Dictionary<string, (float[] Values, long[] Shape)> Run(string path, params Input[] inputs)
    {
        using var options = new SessionOptions { IntraOpNumThreads = 1 };
        using var session = new InferenceSession(path, options);
        var values = inputs.Select(i => i.Values switch
        {
            float[] f => OrtValue.CreateTensorValueFromMemory(f, i.Shape),
            long[] l => OrtValue.CreateTensorValueFromMemory(l, i.Shape),
            int[] n => OrtValue.CreateTensorValueFromMemory(n, i.Shape),
            _ => throw new ArgumentException(i.Name),
        }).ToArray();
        try
        {
            using var runOptions = new RunOptions();
            using var results = session.Run(runOptions, inputs.Select(i => i.Name).ToArray(), values,
                session.OutputNames.ToArray());
            return session.OutputNames.Select((name, k) => (name, k)).ToDictionary(p => p.name,
                p => (Floats(results[p.k]), results[p.k].GetTensorTypeAndShape().Shape));
        }
        finally
        {
            foreach (var value in values) value.Dispose();
        }
    }

    /// <summary>
    /// Greedy decoding of a batch of two through an exported decoder step, from <c>&lt;bos&gt;</c>: each step is fed
    /// <paramref name="state"/> (every <c>X_next</c> output replaces input X), and the most likely word is kept until
    /// <c>&lt;eos&gt;</c> or <paramref name="maxLength"/> steps. Returns each row's words (without the end), its
    /// log-probability (the end included) and, when the step outputs <c>attention</c> [cells, 2], the first
    /// <paramref name="cells"/>(row) weights of every step.
    /// </summary>
    static (List<int>[] Tokens, double[] LogP, List<float>[] Attention) Greedy(string decoderPath,
        Dictionary<string, (float[] Values, long[] Shape)> state, int vocabulary, int maxLength, Func<int, int> cells)
    {
        var previous = new long[] { Tokenizers.Bos, Tokenizers.Bos };
        var tokens = new[] { new List<int>(), new List<int>() };
        var logP = new double[2];
        var done = new bool[2];
        var weights = new[] { new List<float>(), new List<float>() };
        for (int t = 0; t < maxLength && !done.All(d => d); t++)
        {
            var inputs = new List<Input> { new("previous", previous, [2]) };
            foreach (var (name, value) in state) inputs.Add(new(name, value.Values, value.Shape));
            var outputs = Run(decoderPath, [.. inputs]);
            foreach (string name in state.Keys.ToArray())
                if (outputs.TryGetValue(name + "_next", out var next)) state[name] = next;
            for (int b = 0; b < 2; b++)
            {
                if (done[b]) continue;
                var row = outputs["logits"].Values.AsSpan(b * vocabulary, vocabulary).ToArray();
                double max = row.Max(), total = row.Sum(v => Math.Exp(v - max));
                int best = Array.IndexOf(row, row.Max());
                logP[b] += row[best] - max - Math.Log(total);
                if (outputs.TryGetValue("attention", out var attention))
                    weights[b].AddRange(Enumerable.Range(0, cells(b)).Select(i => attention.Values[i * 2 + b]));
                if (best == Tokenizers.Eos) { done[b] = true; continue; }
                tokens[b].Add(best);
                previous[b] = best;
            }
        }
        return (tokens, logP, weights);
    }

    /// <summary>Recur's decoded words, log-probability (within 1e-5) and attention weights against an exported
    /// step's.</summary>
    static void SameAsDecoded((int[] Tokens, double LogProbability, double[][] Attention)[] expected,
        (List<int>[] Tokens, double[] LogP, List<float>[] Attention) actual)
    {
        for (int b = 0; b < expected.Length; b++)
        {
            Assert.Equal(expected[b].Tokens, actual.Tokens[b]);
            double logP = actual.LogP[b];
            Assert.True(Math.Abs(expected[b].LogProbability - logP) <= 1e-5 * (1 + Math.Abs(logP)),
                $"log P {logP} against {expected[b].LogProbability}");
            Close.Values([.. expected[b].Attention.SelectMany(w => w).Select(v => (float)v)], [.. actual.Attention[b]],
                "attention", 1e-5, 1e-5);
        }
    }

    /// <summary>An output's values as floats, whether it holds floats or integers (lengths).</summary>
    static float[] Floats(OrtValue value) => value.GetTensorTypeAndShape().ElementDataType switch
    {
        Microsoft.ML.OnnxRuntime.Tensors.TensorElementType.Int32 =>
            [.. value.GetTensorDataAsSpan<int>().ToArray().Select(v => (float)v)],
        Microsoft.ML.OnnxRuntime.Tensors.TensorElementType.Int64 =>
            [.. value.GetTensorDataAsSpan<long>().ToArray().Select(v => (float)v)],
        _ => value.GetTensorDataAsSpan<float>().ToArray(),
    };

    static void Same(Tensor expected, (float[] Values, long[] Shape) actual, string what)
    {
        Assert.Equal(expected.ShapeArray().Select(d => (long)d).ToArray(), actual.Shape);
        Close.Values(expected.Span, actual.Values, what, Tolerance, Tolerance);
    }

    [Theory]
    [InlineData("lstm", 1, false, false)]
    [InlineData("lstm", 2, true, false)]
    [InlineData("lstm", 2, true, true)]
    [InlineData("gru", 2, true, false)]
    [InlineData("cho-gru", 1, true, true)]
    [InlineData("rnn", 2, false, true)]
    [InlineData("relu-rnn", 1, true, false)]
    [InlineData("peephole-lstm", 2, true, false)]
    [InlineData("ln-lstm", 2, true, false)]
    [InlineData("bn-lstm", 2, true, false)]
    [InlineData("ln-gru", 1, true, true)]
    [InlineData("leaky", 2, false, true)]
    [InlineData("jordan", 2, true, false)]
    [InlineData("irnn", 1, false, false)]
    public void SequenceModelsRunInOnnxRuntimeAsInRecur(string cell, int layers, bool bidirectional, bool perStep)
    {
        var model = new SequenceModel(new SequenceModelConfig(RecurrentCells.Parse(cell), 4, 6, 3, layers,
            bidirectional, PerStep: perStep),
            new RandomGenerator(7));
        model.Eval();
        var input = Tensor.RandomNormal(new RandomGenerator(8), [5, 3, 4]);
        string path = Path.Combine(folder, "model.onnx");
        OnnxExport.Save(model, path);
        var outputs = Run(path, new Input("input", input.ToArray(), [5, 3, 4]));
        Same(model.Forward(input), outputs["output"], $"{cell} output");
    }

    [Theory]
    [InlineData("lstm", false, false)]
    [InlineData("gru", true, true)]
    [InlineData("relu-rnn", true, false)]
    [InlineData("ln-lstm", true, false)]
    [InlineData("ln-gru", true, true)]
    [InlineData("jordan", true, false)]
    [InlineData("leaky", true, false)]
    [InlineData("cho-gru", true, false)]
    public void BareRecurrentStacksGiveOutputsAndFinalStatesOnVariableLengths(string cell, bool bidirectional,
        bool batchFirst)
    {
        var config = RecurrentCells.Configure(RecurrentCells.Parse(cell),
            new RecurrentConfig(RecurrentCells.Mode(RecurrentCells.Parse(cell)), 3, 5, NumLayers: 2,
            BatchFirst: batchFirst, Bidirectional: bidirectional, Residual: true));
        var layer = new RecurrentLayer(config, new RandomGenerator(11));
        var mode = config.Mode;
        int steps = 6, batch = 3;
        int[] lengths = [6, 3, 1];
        int[] shape = batchFirst ? [batch, steps, 3] : [steps, batch, 3];
        var input = Tensor.RandomNormal(new RandomGenerator(12), shape);
        string path = Path.Combine(folder, "layer.onnx");
        OnnxExport.Save(layer, path);
        var outputs = Run(path, new Input("input", input.ToArray(), shape.Select(d => (long)d).ToArray()),
            new Input("lengths", lengths, [batch]));
        var expected = layer.Forward(input, lengths: lengths);
        Same(expected.Output, outputs["output"], $"{mode} output");
        Same(expected.HiddenState, outputs["hn"], $"{mode} hn");
        if (mode == RecurrentMode.Lstm) Same(expected.CellState!, outputs["cn"], "cn");
    }

    [Theory]
    [InlineData(true, 4)]
    [InlineData(false, 9)]
    public void BatchNormalisedLstmsRunWithTheirRunningStatisticsOfEachStep(bool bidirectional, int statisticsSteps)
    {
        var config = RecurrentCells.Configure(CellKind.BnLstm, new RecurrentConfig(RecurrentMode.Lstm, 3, 5,
            NumLayers: 2, Bidirectional: bidirectional, BatchNormSteps: statisticsSteps));
        var layer = new RecurrentLayer(config, new RandomGenerator(15));
        // statistics of their own at every step, and gains and shifts away from their starting values
        var random = new RandomGenerator(16);
        for (int pass = 0; pass < 3; pass++)
            layer.Forward(Tensor.RandomNormal(random, [7, 4, 3]) * (1f + pass), lengths: [7, 6, 4, 2]);
        foreach (var (name, value) in layer.NamedParameters().Where(p => p.Name.StartsWith("bn_")))
            Tensor.RandomUniform(random, value.ShapeArray(), 0.05f, 0.6f).Span.CopyTo(value.Span);
        layer.Eval();
        int steps = 6, batch = 3;
        int[] lengths = [6, 3, 1];
        var input = Tensor.RandomNormal(new RandomGenerator(17), [steps, batch, 3]);
        string path = Path.Combine(folder, "bn.onnx");
        OnnxExport.Save(layer, path);
        var outputs = Run(path, new Input("input", input.ToArray(), [steps, batch, 3]),
            new Input("lengths", lengths, [batch]));
        var result = layer.Forward(input, lengths: lengths);
        Same(result.Output, outputs["output"], "bn-lstm output");
        Same(result.HiddenState, outputs["hn"], "bn-lstm hn");
        Same(result.CellState!, outputs["cn"], "bn-lstm cn");
    }

    [Fact]
    public void AStackExportedForFullLengthSequencesTakesNoLengths()
    {
        var layer = new RecurrentLayer(new RecurrentConfig(RecurrentMode.Lstm, 3, 4), new RandomGenerator(13));
        var input = Tensor.RandomNormal(new RandomGenerator(14), [5, 2, 3]);
        string path = Path.Combine(folder, "full.onnx");
        OnnxExport.Save(layer, path, variableLengths: false);
        var outputs = Run(path, new Input("input", input.ToArray(), [5, 2, 3]));
        Same(layer.Forward(input).Output, outputs["output"], "output");
    }

    [Theory]
    [InlineData(Segmentation.Chunks, Pooling.Max, "lstm")]
    [InlineData(Segmentation.Chunks, Pooling.Concat, "gru")]
    [InlineData(Segmentation.Sentences, Pooling.Attention, "lstm")]
    [InlineData(Segmentation.Sentences, Pooling.Mean, "gru")]
    [InlineData(Segmentation.None, Pooling.Concat, "lstm")]
    public void ClassifiersThatReadInSegmentsRunInOnnxRuntimeOnTheirSegments(Segmentation segmentation,
        Pooling pooling, string cell)
    {
        var (model, texts, cut, ids, lengths, steps) = ExportCases.SegmentedClassifier(segmentation, pooling, cell);
        int segments = cut.Segments.Length, batch = texts.Length;
        string path = Path.Combine(folder, "segmented.onnx");
        OnnxExport.Save(model, path);
        var inputs = new List<Input>
        {
            new("ids", ids.Select(i => (long)i).ToArray(), [steps, segments]), new("lengths", lengths, [segments]),
        };
        if (segmentation != Segmentation.None)
        {
            Assert.True(cut.Most > 1 && cut.Counts.Distinct().Count() > 1, "the texts should differ in segments");
            inputs.Add(new("segment_index", cut.Index.Select(i => (long)i).ToArray(), [cut.Most, batch]));
            inputs.Add(new("segment_counts", cut.Counts, [batch]));
        }
        var outputs = Run(path, [.. inputs]);
        using var _ = Recur.Autograd.GradMode.NoGrad();
        var logits = model.Forward(texts);
        Same(logits, outputs["logits"], $"{segmentation} {pooling} logits");
        Same(logits.Softmax(-1), outputs["probabilities"], $"{segmentation} {pooling} probabilities");
    }

    public static TheoryData<Pooling, string, bool> Poolings() => new()
    {
        { Pooling.Max, "lstm", true }, { Pooling.Mean, "gru", true }, { Pooling.Last, "lstm", true },
        { Pooling.Last, "gru", false }, { Pooling.Attention, "lstm", true }, { Pooling.Max, "rnn", false },
        { Pooling.Last, "ln-lstm", true }, { Pooling.Mean, "ln-gru", true },
    };

    [Theory]
    [MemberData(nameof(Poolings))]
    public void TextClassifiersOfEveryPoolingRunInOnnxRuntimeOnVariableLengths(Pooling pooling, string cell,
        bool bidirectional)
    {
        var (model, texts, ids, lengths, steps) = ExportCases.Classifier(pooling, cell, bidirectional);
        int batch = texts.Length;
        string path = Path.Combine(folder, "classifier.onnx");
        OnnxExport.Save(model, path);
        var outputs = Run(path, new Input("ids", ids.Select(i => (long)i).ToArray(), [steps, batch]),
            new Input("lengths", lengths, [batch]));
        var logits = model.Forward(texts);
        Same(logits, outputs["logits"], $"{pooling} logits");
        Same(logits.Softmax(-1), outputs["probabilities"], $"{pooling} probabilities");
    }

    [Theory]
    [InlineData("lstm", false, 6)]
    [InlineData("gru", true, 6)]
    [InlineData("rnn", false, 6)]
    [InlineData("lstm", true, 8)]
    public void LanguageModelsRunWholeSequencesAndOneStepAtATimeWithTheirState(string cell, bool tied, int hidden)
    {
        // tied weights with hidden 8 > embedding 6: a projected LSTM, run as a Scan over one step's graph
        var config = new LanguageModelConfig(20, 6, hidden, NumLayers: 2, Cell: RecurrentCells.Parse(cell),
            TieWeights: tied);
        var model = new LanguageModel(config, new RandomGenerator(5));
        model.Eval();
        int steps = 4, batch = 2;
        var random = new RandomGenerator(6);
        int[] ids = Enumerable.Range(0, steps * batch).Select(_ => random.NextInt(20)).ToArray();
        string path = Path.Combine(folder, "lm.onnx");
        OnnxExport.Save(model, path);
        bool lstm = cell == "lstm";
        Input[] State(float[] h, float[]? c) => lstm
            ? [new("h0", h, [2, batch, 6]), new("c0", c!, [2, batch, hidden])] : [new("h0", h, [2, batch, 6])];
        var zeros = new float[2 * batch * 6];
        var cellZeros = new float[2 * batch * hidden];
        var (logits, state) = model.Forward(ids, steps, batch);
        var whole = Run(path, [new Input("ids", ids.Select(i => (long)i).ToArray(), [steps, batch]),
            .. State(zeros, cellZeros)]);
        Same(logits, whole["logits"], "sequence logits");
        Same(state.Hidden, whole["hn"], "hn");
        if (lstm) Same(state.Cell!, whole["cn"], "cn");

        // one token at a time, feeding hn/cn back, gives the same last step
        float[] h = zeros, c = cellZeros;
        (float[] Values, long[] Shape) step = default;
        for (int t = 0; t < steps; t++)
        {
            var token = ids.Skip(t * batch).Take(batch).Select(i => (long)i).ToArray();
            var outputs = Run(path, [new Input("ids", token, [1, batch]), .. State(h, c)]);
            step = outputs["logits"];
            h = outputs["hn"].Values;
            if (lstm) c = outputs["cn"].Values;
        }
        var last = logits.Select(0, steps - 1);
        Close.Values(last.Span, step.Values, "last step's logits", Tolerance, Tolerance);
    }

    [Theory]
    [InlineData("lstm", ScalingKind.MinMax, false, 0, 0)]
    [InlineData("gru", ScalingKind.Standard, true, 3, 0)]
    [InlineData("mlp", ScalingKind.MinMax, true, 1, 0)]
    [InlineData("lstm", ScalingKind.Standard, false, 2, 2)]
    public void ForecastersForecastInTheSeriesOwnUnitsAsInRecur(string network, ScalingKind scaling, bool log,
        int lag, int covariates)
    {
        var (forecaster, history, recent, expected) = ExportCases.Forecaster(network, scaling, log, lag, covariates);
        int needed = history.Length;
        string path = Path.Combine(folder, "forecaster.onnx");
        OnnxExport.Save(forecaster, path);
        var inputs = new List<Input> { new("history", history.Select(v => (float)v).ToArray(), [1, needed]) };
        if (covariates > 0) inputs.Add(new("covariates", recent, [1, needed, covariates]));
        var outputs = Run(path, [.. inputs]);
        Assert.Equal([1L, 5L], outputs["forecast"].Shape);
        Close.Values(expected.Select(v => (float)v).ToArray(), outputs["forecast"].Values, "forecast", 1e-5, 1e-5);
    }

    [Theory]
    [InlineData("lstm", AttentionKind.General, true, 2)]
    [InlineData("gru", AttentionKind.Additive, false, 1)]
    [InlineData("lstm", AttentionKind.Dot, true, 1)]
    [InlineData("gru", AttentionKind.None, true, 2)]
    public void TranslationModelsDecodeGreedilyInOnnxRuntimeAsInRecur(string cell, AttentionKind attention,
        bool bidirectional, int layers)
    {
        var config = new Seq2SeqConfig(15, 12, EmbeddingSize: 5, HiddenSize: 4, NumLayers: layers,
            Cell: RecurrentCells.Parse(cell),
            Bidirectional: bidirectional, Attention: attention, Dropout: 0f);
        var model = new Seq2Seq(config, new RandomGenerator(31));
        int[][] sources = [[5, 6, 7, 8, 9], [10, 4]];
        var expected = model.Greedy(sources, maxLength: 6);
        string encoderPath = Path.Combine(folder, "encoder.onnx"), decoderPath = Path.Combine(folder, "decoder.onnx");
        OnnxExport.Save(model, encoderPath, decoderPath);

        var (ids, lengths, steps) = RaggedBatch.TimeMajor(sources, 15, "test");
        var encoded = Run(encoderPath, new Input("source", ids.Select(i => (long)i).ToArray(), [steps, 2]),
            new Input("source_lengths", lengths, [2]));
        var state = encoded.Where(e => e.Key is "h" or "c" or "feed"
            || attention != AttentionKind.None && e.Key is "memory" or "keys" or "penalty")
            .ToDictionary(e => e.Key, e => e.Value);
        SameAsDecoded([.. expected.Select(t => (t.Tokens, t.LogProbability, t.Attention))],
            Greedy(decoderPath, state, 12, 6, b => lengths[b]));
    }

    [Theory]
    [InlineData(true, true, 3, 2)]
    [InlineData(false, false, 0, 1)]
    public void TaggersGiveTheirEmissionsAndTheCrfsDecodingScores(bool crf, bool chars, int casing, int layers)
    {
        var c = ExportCases.Tagger(crf, chars, casing, layers, dropout: 0f);
        var (model, sentences, steps, batch) = (c.Model, c.Sentences, c.Steps, c.Sentences.Length);
        long[] Long(int[] values) => values.Select(v => (long)v).ToArray();
        var inputs = new List<Input>
        {
            new("words", Long(c.Words), [steps, batch]), new("lengths", c.Lengths, [batch]),
        };
        if (chars) inputs.AddRange([new("chars", Long(c.Characters), [steps, batch, c.Longest]),
            new("char_lengths", c.CharLengths, [steps, batch])]);
        if (casing > 0) inputs.Add(new("casing", Long(c.Casing), [steps, batch]));
        string path = Path.Combine(folder, "tagger.onnx");
        OnnxExport.Save(model, path);
        var outputs = Run(path, [.. inputs]);
        Same(model.Emissions(sentences).Emissions, outputs["emissions"], "emissions");
        Assert.Equal(crf, outputs.ContainsKey("transitions"));
        if (!crf) return;
        var (transitions, start, end) = model.Crf!.DecodingScores();
        Close.Values(transitions, outputs["transitions"].Values, "transitions", 0, 0);
        Close.Values(start, outputs["start_transitions"].Values, "start", 0, 0);
        Close.Values(end, outputs["end_transitions"].Values, "end", 0, 0);
        Assert.Contains(transitions, s => s < -1e3f); // BIOES forbids e.g. O → I-PER
    }
    [Theory]
    [InlineData(0, 0)]
    [InlineData(3, 0)]
    [InlineData(4, 5)]
    public void WaveNetsGiveTheirLogitsAsInRecur(int labels, int localChannels)
    {
        var c = ExportCases.WaveNet(labels, localChannels);
        string path = Path.Combine(folder, "wavenet.onnx");
        OnnxExport.Save(c.Model, path);
        var inputs = new List<Input> { new("codes", c.Codes.Select(v => (long)v).ToArray(), [c.Batch, c.Steps]) };
        if (c.Conditions != null) inputs.Add(new("condition", c.Conditions.Select(v => (long)v).ToArray(), [c.Batch]));
        if (c.Local != null)
            inputs.Add(new("local", c.Local.ToArray(), [.. c.Local.ShapeArray().Select(d => (long)d)]));
        Same(c.Expected, Run(path, [.. inputs])["logits"], "WaveNet logits");
    }
    [Theory]
    [InlineData(1, "gru", true)]
    [InlineData(2, "lstm", false)]
    [InlineData(3, "gru", true)]
    public void SpeechRecognizersGiveTheirLogProbabilitiesOnUtterancesOfDifferentLengths(int convLayers, string cell,
        bool bidirectional)
    {
        var c = ExportCases.Speech(convLayers, cell, bidirectional);
        string path = Path.Combine(folder, "speech.onnx");
        OnnxExport.Save(c.Model, path);
        var outputs = Run(path, new Input("features", c.Input, [c.Frames.Length, 1, 12, c.Longest]),
            new Input("lengths", c.Frames, [c.Frames.Length]));
        var (expected, lengths) = (c.Expected, c.Lengths);
        Same(expected, outputs["log_probs"], "speech log-probabilities");
        Assert.Equal(lengths.Select(n => (float)n), outputs["output_lengths"].Values);
    }
    [Theory]
    [InlineData(SentenceEncoding.Position, true, true, false)]
    [InlineData(SentenceEncoding.BagOfWords, false, false, false)]
    [InlineData(SentenceEncoding.Position, true, false, true)]
    public void MemoryNetworksGiveTheirAnswersAndAttention(SentenceEncoding encoding, bool temporal, bool emptySlots,
        bool linearStart)
    {
        var (model, padded, expected) = ExportCases.MemoryNetwork(encoding, temporal, emptySlots, linearStart);
        string path = Path.Combine(folder, "memn2n.onnx");
        OnnxExport.Save(model, path);
        long b = padded.Batch, m = padded.Slots;
        var outputs = Run(path, new Input("story", padded.Story.Select(v => (long)v).ToArray(), [b, m, 4]),
            new Input("ages", padded.Ages.Select(v => (long)v).ToArray(), [b, m]),
            new Input("mask", padded.Mask, [b, m]),
            new Input("question", padded.Question.Select(v => (long)v).ToArray(), [b, 4]));
        Same(expected.Logits, outputs["logits"], "answer logits");
        Close.Values([.. expected.Attention.SelectMany(a => a.ToArray())], outputs["attention"].Values, "attention",
            Tolerance, Tolerance);
    }
    [Fact]
    public void StoryLstmsAnswerInOnnxRuntimeAsInRecur()
    {
        var model = new StoryLstm(new StoryLstmConfig(12, 4, 5, MemorySize: 2), new RandomGenerator(6));
        EncodedQuestion[] batch =
        [
            new([[3, 4, 5], [6, 7], [8, 9, 10, 11]], [2, 3], 4, 1),
            new([[1, 2, 3, 4]], [5, 6, 7], 8, 1),
            new([[9], [10, 11], [3]], [9, 10, 11, 1], 2, 1),
        ];
        var (ids, lengths, steps) = RaggedBatch.TimeMajor(batch.Select(model.Sequence).ToArray(), 13, "test");
        string path = Path.Combine(folder, "story.onnx");
        OnnxExport.Save(model, path);
        var outputs = Run(path, new Input("ids", ids.Select(v => (long)v).ToArray(), [steps, batch.Length]),
            new Input("lengths", lengths, [batch.Length]));
        using var _ = Recur.Autograd.GradMode.NoGrad();
        Same(model.Forward(batch), outputs["logits"], "answer logits");
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void NeuralTuringMachinesGiveTheirOutputsAndHeadWeightingsAsInRecur(bool lstm)
    {
        var model = new NeuralTuringMachine(new NeuralTuringMachineConfig(5, 4, ControllerSize: 12, MemorySlots: 7,
            SlotSize: 6, LstmController: lstm), new RandomGenerator(8));
        var input = Tensor.RandomUniform(new RandomGenerator(9), [9, 3, 5], -1f, 1f);
        string path = Path.Combine(folder, "ntm.onnx");
        OnnxExport.Save(model, path);
        var outputs = Run(path, new Input("inputs", input.ToArray(), [9, 3, 5]));
        using var _ = Recur.Autograd.GradMode.NoGrad();
        var expected = model.Forward(input);
        Same(expected.Output, outputs["output"], "NTM output");
        Same(Tensor.Stack(expected.ReadWeights, 0), outputs["read_weights"], "read weightings");
        Same(Tensor.Stack(expected.WriteWeights, 0), outputs["write_weights"], "write weightings");
    }

    [Theory]
    [InlineData(CaptionDecoder.ShowTell, "lstm", 41, 0)]
    [InlineData(CaptionDecoder.MRnn, "gru", 41, 1)]
    [InlineData(CaptionDecoder.MRnn, "lstm", 41, 0)]
    [InlineData(CaptionDecoder.Attention, "lstm", 41, 0)]
    [InlineData(CaptionDecoder.Attention, "gru", 44, 0)]
    [InlineData(CaptionDecoder.Attention, "lstm", 41, 2)]
    public void CaptionersDescribeGreedilyInOnnxRuntimeAsInRecur(CaptionDecoder decoder, string cell, int seed,
        int extraConvolutions)
    {
        var config = new CaptionerConfig(decoder, 10, Height: 16, Width: 24, Channels: 2, HiddenSize: 5,
            EmbeddingSize: 4, JointSize: 6, Cell: RecurrentCells.Parse(cell), ExtraConvolutions: extraConvolutions);
        var model = new Captioner(config, new RandomGenerator((ulong)seed));
        var images = Tensor.RandomUniform(new RandomGenerator(42), [2, 1, 16, 24]);
        var expected = model.Describe(images, beamWidth: 1, maxLength: 6);
        string encoderPath = Path.Combine(folder, "encoder.onnx"), decoderPath = Path.Combine(folder, "decoder.onnx");
        OnnxExport.Save(model, encoderPath, decoderPath);
        var state = new Dictionary<string, (float[] Values, long[] Shape)>(
            Run(encoderPath, new Input("images", images.ToArray(), [2, 1, 16, 24])));
        var decoded = Greedy(decoderPath, state, 10, 6, _ => 6);
        SameAsDecoded([.. expected.Select(d => (d.Tokens, d.LogProbability, d.Attention))], decoded);
        Assert.Contains(decoded.Tokens, row => row.Count > 0); // the check reads some words, not only an end
    }
}

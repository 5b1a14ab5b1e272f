using System.Text.Json.Nodes;
using Recur.Autograd;
using Recur.Captioning;
using Recur.Classification;
using Recur.Forecasting;
using Recur.Language;
using Recur.Memory;
using Recur.Nn;
using Recur.Nn.Recurrent;
using Recur.Speech;
using Recur.Tagging;
using Recur.Translation;
using Recur.WaveNet;
using DataType = Recur.Export.Protos.TensorProto.Types.DataType;

namespace Recur.Export;

/// <summary>
/// Writes trained Recur models as ONNX files (opset 17) that ONNX Runtime and other ONNX engines run. Recurrent
/// stacks of the cells ONNX has become its own RNN, LSTM and GRU operators (gate blocks reordered,
/// <c>sequence_lens</c> for variable lengths, <c>layout</c> 0), so an engine's fused kernels run them; the other cells
/// (projected LSTM, Jordan, leaky, layer-normalised) run as a <c>Scan</c> over one step's graph. Dimensions named
/// <c>steps</c> and <c>batch</c> are free. Token ids are int64, lengths int32; the model's <c>config.json</c> travels
/// in the metadata property <c>recur.config</c>. The file is written in one step, never in part.
/// </summary>
public static class OnnxExport
{
    /// <summary>
    /// A bare <see cref="RecurrentLayer"/> stack: inputs <c>input</c> [steps, batch, inputSize] ([batch, steps, …] when
    /// batch-first) and, with <paramref name="variableLengths"/>, <c>lengths</c> (int32 [batch]) → <c>output</c>
    /// [steps, batch, D·H] (zero past each length), <c>hn</c> [numLayers·D, batch, H] (and <c>cn</c> for an LSTM), as
    /// <see cref="RecurrentLayer.Forward"/>.
    /// </summary>
    public static void Save(RecurrentLayer layer, string path, bool variableLengths = true)
    {
        var config = layer.Config;
        var kind = new JsonObject { ["architecture"] = "recurrent_layer", ["mode"] = config.Mode.ToString() };
        Write(path, "recurrent_layer", kind, layer, (graph, state) =>
        {
            object[] sequence = config.BatchFirst ? ["batch", "steps"] : ["steps", "batch"];
            string input = graph.FloatInput("input", [.. sequence, config.InputSize]);
            string? lengths = variableLengths ? graph.Input("lengths", DataType.Int32, "batch") : null;
            var encoded = graph.Recurrent(config, state.ToDictionary(p => "rnn." + p.Key, p => p.Value), "rnn", input,
                lengths);
            int states = config.NumLayers * config.Directions;
            int width = config.Directions * config.HiddenSize;
            graph.Output(encoded.Output, "output", DataType.Float, [.. sequence, width]);
            graph.Output(encoded.Hidden, "hn", DataType.Float, states, "batch", config.HiddenSize);
            if (encoded.Cell is { } cell) graph.Output(cell, "cn", DataType.Float, states, "batch", config.HiddenSize);
        });
    }

    /// <summary>
    /// A <see cref="SequenceModel"/>: input <c>input</c> [steps, batch, inputSize] → <c>output</c> [batch, outputSize]
    /// (many-to-one) or [steps, batch, outputSize] (per step).
    /// </summary>
    public static void Save(SequenceModel model, string path)
    {
        var config = model.Config;
        Write(path, "sequence_model", config.ToJson(), model, (graph, state) =>
        {
            string input = graph.FloatInput("input", "steps", "batch", config.InputSize);
            string output = SequenceModelGraph(graph, config, state, input);
            if (config.PerStep) graph.Output(output, "output", DataType.Float, "steps", "batch", config.OutputSize);
            else graph.Output(output, "output", DataType.Float, "batch", config.OutputSize);
        });
    }

    /// <summary>A sequence model's recurrent stack and head over <paramref name="input"/> [T, B, in].</summary>
    static string SequenceModelGraph(OnnxGraph graph, SequenceModelConfig config,
        IReadOnlyDictionary<string, Tensor> state, string input)
    {
        var encoded = graph.Recurrent(config.Recurrent, state, "rnn", input);
        string features = config.PerStep ? encoded.Output
            : LastStep(graph, encoded.Output, config.Recurrent.OutputWidth, config.Bidirectional);
        return graph.Linear(state, "head", features);
    }

    /// <summary>
    /// A <see cref="Forecaster"/> with its preprocessing, in the series' own units: input <c>history</c> [batch,
    /// window + lag] (the last values of each series; lag is the difference lag, 0 without differencing), with
    /// covariates also <c>covariates</c> [batch, window + lag, covariates] over the same steps → <c>forecast</c>
    /// [batch, horizon]. Inside: the logarithm, differencing and scaling fitted on the training part, the network,
    /// and their inverses — what <see cref="Forecaster.Forecast"/> does for one block of the horizon (feed the forecast
    /// back as history for more).
    /// </summary>
    public static void Save(Forecaster forecaster, string path)
    {
        var options = forecaster.Options;
        int window = options.Window, lag = options.DifferenceLag, horizon = options.Horizon;
        Write(path, "forecaster", forecaster.Config, forecaster.Network, (graph, state) =>
        {
            string history = graph.FloatInput("history", "batch", window + lag);
            string Scale(string value, Scaler scaler) => graph.Op("Div", [graph.Op("Sub", [value,
                graph.Weight("offset", [(float)scaler.Offset])]), graph.Weight("scale", [(float)scaler.Scale])]);
            string levels = options.Log ? graph.Op("Log", [history]) : history;
            string changes = lag == 0 ? levels
                : graph.Op("Sub", [graph.Slice(levels, lag, window + lag), graph.Slice(levels, 0, window)]);
            var features = new List<string> { graph.Op("Unsqueeze", [Scale(changes, forecaster.Scaler),
                graph.Int64s(2)]) };
            if (options.Covariates > 0)
            {
                string covariates = graph.FloatInput("covariates", "batch", window + lag, options.Covariates);
                for (int c = 0; c < options.Covariates; c++)
                    features.Add(Scale(graph.Slice(graph.Slice(covariates, lag, window + lag), c, c + 1, 2),
                        forecaster.CovariateScalers[c]));
            }
            string x = features.Count == 1 ? features[0]
                : graph.Op("Concat", [.. features], OnnxGraph.Attribute("axis", 2L)); // [B, window, F]
            string predicted;
            if (options.Model == "mlp")
            {
                string flat = graph.Op("Flatten", [x], OnnxGraph.Attribute("axis", 1L));
                predicted = graph.Linear(state, "head", graph.Op("Tanh", [graph.Linear(state, "hidden", flat)]));
            }
            else
            {
                var network = (SequenceModel)forecaster.Network;
                predicted = SequenceModelGraph(graph, network.Config, state, graph.Transpose(x, 1, 0, 2));
            }
            string unscaled = graph.Op("Add", [graph.Op("Mul", [predicted,
                graph.Weight("scale", [(float)forecaster.Scaler.Scale])]),
                graph.Weight("offset", [(float)forecaster.Scaler.Offset])]);
            string forecast = unscaled;
            if (lag > 0)
            {
                // undo differencing one step of the horizon at a time: a level is its change plus the level lag
                // steps earlier, from the history or from this forecast
                var steps = new List<string>();
                for (int h = 0; h < horizon; h++)
                {
                    string earlier = h < lag ? graph.Slice(levels, window + h, window + h + 1) : steps[h - lag];
                    steps.Add(graph.Op("Add", [graph.Slice(unscaled, h, h + 1), earlier]));
                }
                forecast = steps.Count == 1 ? steps[0]
                    : graph.Op("Concat", [.. steps], OnnxGraph.Attribute("axis", 1L));
            }
            if (options.Log) forecast = graph.Op("Exp", [forecast]);
            graph.Output(forecast, "forecast", DataType.Float, "batch", horizon);
        });
    }

    /// <summary>
    /// The summary of a whole sequence [batch, D·H] from the outputs [T, B, D·H]: the last step's, with the backward
    /// direction's taken at step 0, where it has read everything.
    /// </summary>
    static string LastStep(OnnxGraph graph, string output, int width, bool bidirectional)
    {
        string last = graph.Op("Gather", [output, graph.Int64s([-1], [])], OnnxGraph.Attribute("axis", 0L));
        if (!bidirectional) return last;
        string first = graph.Op("Gather", [output, graph.Int64s([0], [])], OnnxGraph.Attribute("axis", 0L));
        string forward = graph.Op("Slice", [last, graph.Int64s(0), graph.Int64s(width), graph.Int64s(1)]);
        string backward = graph.Op("Slice", [first, graph.Int64s(width), graph.Int64s(2 * width), graph.Int64s(1)]);
        return graph.Op("Concat", [forward, backward], OnnxGraph.Attribute("axis", 1L));
    }

    /// <summary>
    /// A <see cref="TextClassifier"/>: inputs <c>ids</c> (int64 [steps, segments], time-major, padding 0 past each) and
    /// <c>lengths</c> (int32 [segments], each in 1..steps) → <c>logits</c> and <c>probabilities</c> [batch, classes].
    /// A model that reads whole texts has one segment per text (segments = batch). One that reads in chunks or by
    /// sentences (a hierarchical attention network) also takes <c>segment_index</c> (int64 [most, batch]) and
    /// <c>segment_counts</c> (int32 [batch]), and <c>ids</c> holds every text's segments:
    /// <see cref="TextClassifier.Segmented"/> cuts a batch so (its <c>Index</c> and <c>Counts</c>). The graph encodes
    /// and pools every segment, gathers the segment vectors into [most, batch, width] (a zero row where a text has
    /// no more), and max-pools them (chunks) or reads them with the sentence encoder and its attention (sentences).
    /// Padding never changes a result, as in Recur. (A token budget is not part of the graph: the caller cuts texts
    /// to <see cref="TextClassifierConfig.MaxTokens"/>, as <c>Segmented</c> does.)
    /// </summary>
    public static void Save(TextClassifier model, string path)
    {
        var config = model.Config;
        Write(path, "text_classifier", config.ToJson(), model, (graph, state) =>
        {
            bool segmented = config.Segmentation != Segmentation.None;
            string ids = graph.Input("ids", DataType.Int64, "steps", segmented ? "segments" : "batch");
            string lengths = graph.Input("lengths", DataType.Int32, segmented ? "segments" : "batch");
            string embedded = graph.Embedding(state, "embedding", ids);
            var encoded = graph.Recurrent(config.Encoder, state, "encoder", embedded, lengths);
            string pooled = Pool(graph, config, state, encoded, lengths);
            if (segmented)
            {
                string index = graph.Input("segment_index", DataType.Int64, "most", "batch");
                string counts = graph.Input("segment_counts", DataType.Int32, "batch");
                int width = config.Encoder.OutputWidth * (config.Bidirectional ? 2 : 1)
                    * (config.Pooling == Pooling.Concat ? 3 : 1);
                string none = graph.Weight("no_segment", new float[width], 1, width);
                string padded = graph.Op("Gather", [graph.Op("Concat", [pooled, none],
                    OnnxGraph.Attribute("axis", 0L)), index]); // [most, B, width]
                if (config.Segmentation == Segmentation.Chunks)
                    pooled = graph.Op("ReduceMax", [graph.Op("Add", [padded, Penalty(graph, counts, padded)])],
                        OnnxGraph.Attribute("axes", new long[] { 0 }), OnnxGraph.Attribute("keepdims", 0L));
                else
                {
                    var sentences = graph.Recurrent(config.SentenceEncoder, state, "sentence_encoder", padded,
                        counts);
                    pooled = Attend(graph, state, "sentence_attention", sentences.Output, counts);
                }
            }
            string logits = graph.Linear(state, "head", pooled);
            graph.Output(logits, "logits", DataType.Float, "batch", config.Classes);
            string probabilities = graph.Op("Softmax", [logits], OnnxGraph.Attribute("axis", -1L));
            graph.Output(probabilities, "probabilities", DataType.Float, "batch", config.Classes);
        });
    }

    static string Pool(OnnxGraph graph, TextClassifierConfig config, IReadOnlyDictionary<string, Tensor> state,
        OnnxRecurrentOutput encoded, string lengths)
    {
        int directions = config.Bidirectional ? 2 : 1;
        string Last()
        {
            int top = (config.NumLayers - 1) * directions;
            string finals = graph.Op("Slice", [encoded.Hidden, graph.Int64s(top), graph.Int64s(top + directions),
                graph.Int64s(0)]); // [D, B, H]
            return graph.Op("Reshape", [graph.Transpose(finals, 1, 0, 2), graph.Int64s(0, -1)]);
        }
        string Mean()
        {
            string total = graph.Op("ReduceSum", [encoded.Output, graph.Int64s(0)],
                OnnxGraph.Attribute("keepdims", 0L));
            string count = graph.Op("Unsqueeze", [graph.Op("Cast", [lengths], OnnxGraph.Attribute("to", 1L)),
                graph.Int64s(1)]);
            return graph.Op("Div", [total, count]);
        }
        string Max()
        {
            string masked = graph.Op("Add", [encoded.Output, Penalty(graph, lengths, encoded.Output)]);
            return graph.Op("ReduceMax", [masked], OnnxGraph.Attribute("axes", new long[] { 0 }),
                OnnxGraph.Attribute("keepdims", 0L));
        }
        return config.Pooling switch
        {
            Pooling.Last => Last(),
            Pooling.Mean => Mean(),
            Pooling.Max => Max(),
            Pooling.Concat => graph.Op("Concat", [Last(), Max(), Mean()], OnnxGraph.Attribute("axis", 1L)),
            _ => Attend(graph, state, "attention", encoded.Output, lengths),
        };
    }

    /// <summary>Σ_t softmax_t(vᵀ tanh(W h_t + b)) h_t over the real steps of <paramref name="output"/> [T, B, width],
    /// with W, b under <paramref name="prefix"/> and v under <c>{prefix}_vector</c>.</summary>
    static string Attend(OnnxGraph graph, IReadOnlyDictionary<string, Tensor> state, string prefix, string output,
        string lengths)
    {
        string scores = graph.Linear(state, prefix + "_vector", graph.Op("Tanh", [graph.Linear(state, prefix,
            output)]));
        string weights = graph.Op("Softmax", [graph.Op("Add", [scores, Penalty(graph, lengths, output)])],
            OnnxGraph.Attribute("axis", 0L));
        return graph.Op("ReduceSum", [graph.Op("Mul", [output, weights]), graph.Int64s(0)],
            OnnxGraph.Attribute("keepdims", 0L));
    }

    /// <summary>[T, B, 1]: 0 at real tokens, −1e9 at padding (as the classifier's own penalty).</summary>
    static string Penalty(OnnxGraph graph, string lengths, string like)
    {
        string mask = graph.LengthMask(lengths, like);
        string one = graph.Weight("one", [1f]), large = graph.Weight("padding_penalty", [-1e9f]);
        return graph.Op("Mul", [graph.Op("Sub", [one, mask]), large]);
    }

    /// <summary>
    /// A <see cref="LanguageModel"/> that runs a whole sequence or one step at a time: inputs <c>ids</c> (int64 [steps,
    /// batch]), <c>h0</c> [numLayers, batch, H] (and <c>c0</c> for an LSTM; zeros to start) → <c>logits</c> [steps,
    /// batch, vocabulary], <c>hn</c> (and <c>cn</c>), the state to feed back with the next token.
    /// </summary>
    public static void Save(LanguageModel model, string path)
    {
        var config = model.Config;
        var recurrent = config.Recurrent;
        bool lstm = recurrent.Mode == RecurrentMode.Lstm;
        Write(path, "language_model", config.ToJson(), model, (graph, state) =>
        {
            string ids = graph.Input("ids", DataType.Int64, "steps", "batch");
            string h0 = graph.FloatInput("h0", config.NumLayers, "batch", recurrent.OutputWidth);
            string? c0 = lstm ? graph.FloatInput("c0", config.NumLayers, "batch", recurrent.HiddenSize) : null;
            var encoded = graph.Recurrent(recurrent, state, "rnn", graph.Embedding(state, "embedding", ids), h0: h0,
                c0: c0);
            string logits = graph.Linear(config.TieWeights ? state["embedding.weight"] : state["decoder.weight"],
                state["decoder.bias"], encoded.Output, "decoder");
            graph.Output(logits, "logits", DataType.Float, "steps", "batch", config.VocabularySize);
            graph.Output(encoded.Hidden, "hn", DataType.Float, config.NumLayers, "batch", recurrent.OutputWidth);
            if (lstm)
                graph.Output(encoded.Cell!, "cn", DataType.Float, config.NumLayers, "batch", recurrent.HiddenSize);
        });
    }

    /// <summary>
    /// A <see cref="SequenceTagger"/>'s emission scores: inputs <c>words</c> (int64 [steps, batch], 0 past each
    /// sentence), <c>lengths</c> (int32 [batch]), with character features <c>chars</c> (int64 [steps, batch,
    /// characters], each word's character ids, 0-padded) and <c>char_lengths</c> (int32 [steps, batch]), with a casing
    /// embedding <c>casing</c> (int64 [steps, batch]) → <c>emissions</c> [steps, batch, tags]. A CRF tagger also gives
    /// the scores its Viterbi decoding adds — <c>transitions</c> [tags, tags] (from row tag to column tag),
    /// <c>start_transitions</c> and <c>end_transitions</c> [tags] — with the moves its tag scheme forbids at −1e4; a
    /// softmax tagger's tags are the argmax of the emissions.
    /// </summary>
    public static void Save(SequenceTagger model, string path)
    {
        var config = model.Config;
        int tags = config.Tags.Length;
        Write(path, "sequence_tagger", config.ToJson(), model, (graph, state) =>
        {
            string words = graph.Input("words", DataType.Int64, "steps", "batch");
            string lengths = graph.Input("lengths", DataType.Int32, "batch");
            var parts = new List<string> { graph.Embedding(state, "word_embedding", words) };
            if (config.CharFeatures)
            {
                string chars = graph.Input("chars", DataType.Int64, "steps", "batch", "characters");
                string charLengths = graph.Input("char_lengths", DataType.Int32, "steps", "batch");
                // every position's word through the character BiLSTM at once: [characters, steps·batch]
                string flat = graph.Transpose(graph.Op("Flatten", [chars], OnnxGraph.Attribute("axis", 2L)), 1, 0);
                string charEmbedded = graph.Embedding(state, "char_embedding", flat);
                // padding positions run one padding character; the word encoder never reads them
                string perWord = graph.Op("Max", [graph.Op("Reshape", [charLengths, graph.Int64s(-1)]),
                    graph.Int32s(1)]);
                var charConfig = new RecurrentConfig(RecurrentMode.Lstm, config.CharEmbeddingSize,
                    config.CharHiddenSize,
                    Bidirectional: true);
                var encodedChars = graph.Recurrent(charConfig, state, "char_encoder", charEmbedded, perWord);
                string wordShape = graph.Op("Shape", [words]);
                string featureShape = graph.Op("Concat", [wordShape, graph.Int64s(2 * config.CharHiddenSize)],
                    OnnxGraph.Attribute("axis", 0L));
                parts.Add(graph.Op("Reshape", [graph.Transpose(encodedChars.Hidden, 1, 0, 2), featureShape]));
            }
            if (config.CasingEmbeddingSize > 0)
                parts.Add(graph.Embedding(state, "casing_embedding", graph.Input("casing", DataType.Int64, "steps",
                    "batch")));
            string features = parts.Count == 1 ? parts[0]
                : graph.Op("Concat", [.. parts], OnnxGraph.Attribute("axis", 2L));
            var encoderConfig = new RecurrentConfig(RecurrentMode.Lstm, state["encoder.weight_ih_l0"].Size(1),
                config.HiddenSize, config.NumLayers, Bidirectional: true);
            var encoded = graph.Recurrent(encoderConfig, state, "encoder", features, lengths);
            string emissions = graph.Linear(state, "emission", encoded.Output);
            graph.Output(emissions, "emissions", DataType.Float, "steps", "batch", tags);
            if (model.Crf is { } crf)
            {
                var (transitions, start, end) = crf.DecodingScores();
                graph.Output(graph.Weight("crf.transitions", transitions, tags, tags), "transitions", DataType.Float,
                    tags, tags);
                graph.Output(graph.Weight("crf.start", start, tags), "start_transitions", DataType.Float, tags);
                graph.Output(graph.Weight("crf.end", end, tags), "end_transitions", DataType.Float, tags);
            }
        });
    }

    /// <summary>
    /// A <see cref="Seq2Seq"/> translation model as two files, run the way its greedy or beam decoding runs.
    /// The encoder (<paramref name="encoderPath"/>): <c>source</c> (int64 [source_steps, batch], 0 past each
    /// sentence) and <c>source_lengths</c> (int32 [batch]) → <c>memory</c> [source_steps, batch, W] (the encoder's
    /// outputs), <c>keys</c> (what the attention scores read; the memory itself for dot attention), <c>penalty</c>
    /// [source_steps, batch] (−1e9 on padding) and the decoder's first state <c>h</c> [layers, batch, W] (and
    /// <c>c</c>, and <c>feed</c> [batch, W], zeros, with attention). The decoder step (<paramref
    /// name="decoderPath"/>): <c>previous</c> (int64 [batch], <c>&lt;bos&gt;</c> first), the state and the encoder's
    /// outputs → next-token <c>logits</c> [batch, target vocabulary], the next state (<c>h_next</c>, <c>c_next</c>,
    /// <c>feed_next</c>) and the <c>attention</c> weights [source_steps, batch].
    /// </summary>
    public static void Save(Seq2Seq model, string encoderPath, string decoderPath)
    {
        var config = model.Config;
        bool lstm = config.Mode == RecurrentMode.Lstm, attention = config.Attention != AttentionKind.None;
        int width = config.Width, layers = config.NumLayers, directions = config.Bidirectional ? 2 : 1;
        var encoderConfig = new RecurrentConfig(config.Mode, config.EmbeddingSize, config.HiddenSize, layers,
            Bidirectional: config.Bidirectional);
        // both graphs are built before either file is written
        var state = model.StateDict();
        using var noGrad = GradMode.NoGrad();
        var encoder = new OnnxGraph("seq2seq_encoder");
        {
            var graph = encoder;
            string source = graph.Input("source", DataType.Int64, "source_steps", "batch");
            string lengths = graph.Input("source_lengths", DataType.Int32, "batch");
            var encoded = graph.Recurrent(encoderConfig, state, "encoder",
                graph.Embedding(state, "source_embedding", source), lengths);
            graph.Output(encoded.Output, "memory", DataType.Float, "source_steps", "batch", width);
            if (attention)
            {
                string keys = config.Attention == AttentionKind.Dot ? encoded.Output
                    : graph.Linear(state, "attention_keys", encoded.Output);
                graph.Output(keys, "keys", DataType.Float, "source_steps", "batch", width);
            }
            graph.Output(graph.Op("Squeeze", [Penalty(graph, lengths, encoded.Output), graph.Int64s(2)]), "penalty",
                DataType.Float, "source_steps", "batch");
            // each layer's final states, both directions side by side, through the bridge
            string Bridge(string states, string bridge) => graph.Op("Tanh", [graph.Linear(state, bridge,
                graph.Op("Reshape", [graph.Transpose(graph.Op("Reshape", [states, graph.Int64s(layers, directions,
                    -1, config.HiddenSize)]), 0, 2, 1, 3), graph.Int64s(0, 0, -1)]))]);
            graph.Output(Bridge(encoded.Hidden, "bridge_hidden"), "h", DataType.Float, layers, "batch", width);
            if (lstm) graph.Output(Bridge(encoded.Cell!, "bridge_cell"), "c", DataType.Float, layers, "batch", width);
            if (attention)
                graph.Output(graph.Op("Mul", [graph.Op("Gather", [encoded.Output, graph.Int64s([0], [])],
                    OnnxGraph.Attribute("axis", 0L)), graph.Weight("zero", [0f])]), "feed", DataType.Float, "batch",
                    width);
        }
        var decoder = new OnnxGraph("seq2seq_decoder_step");
        {
            var graph = decoder;
            string previous = graph.Input("previous", DataType.Int64, "batch");
            string h = graph.FloatInput("h", layers, "batch", width);
            string? c = lstm ? graph.FloatInput("c", layers, "batch", width) : null;
            string? feed = attention ? graph.FloatInput("feed", "batch", width) : null;
            string? memory = attention ? graph.FloatInput("memory", "source_steps", "batch", width) : null;
            string? keys = attention ? graph.FloatInput("keys", "source_steps", "batch", width) : null;
            string? penalty = attention ? graph.FloatInput("penalty", "source_steps", "batch") : null;
            string x = graph.Embedding(state, "target_embedding", previous);
            if (feed != null) x = graph.Op("Concat", [x, feed], OnnxGraph.Attribute("axis", 1L));
            var hiddens = new List<string>();
            var cells = new List<string>();
            string Layer(string states, int l) => graph.Op("Squeeze", [graph.Op("Slice", [states, graph.Int64s(l),
                graph.Int64s(l + 1), graph.Int64s(0)]), graph.Int64s(0)]);
            for (int l = 0; l < layers; l++)
            {
                var (hl, cl) = graph.CellStep(config.Mode, state, $"decoder_l{l}", x, Layer(h, l),
                    c is null ? null : Layer(c, l));
                hiddens.Add(graph.Op("Unsqueeze", [hl, graph.Int64s(0)]));
                if (cl != null) cells.Add(graph.Op("Unsqueeze", [cl, graph.Int64s(0)]));
                x = hl;
            }
            string top = x;
            if (attention)
            {
                string query = graph.Op("Unsqueeze", [top, graph.Int64s(0)]); // [1, B, W]
                string scores = config.Attention == AttentionKind.Additive
                    ? graph.Op("Squeeze", [graph.Linear(state, "attention_energy", graph.Op("Tanh", [graph.Op("Add",
                        [keys!, graph.Linear(state, "attention_query", query)])])), graph.Int64s(2)])
                    : graph.Op("ReduceSum", [graph.Op("Mul", [keys!, query]), graph.Int64s(2)],
                        OnnxGraph.Attribute("keepdims", 0L));
                string weights = graph.Op("Softmax", [graph.Op("Add", [scores, penalty!])],
                    OnnxGraph.Attribute("axis", 0L)); // [S, B]
                string context = graph.Op("ReduceSum", [graph.Op("Mul", [memory!, graph.Op("Unsqueeze", [weights,
                    graph.Int64s(2)])]), graph.Int64s(0)], OnnxGraph.Attribute("keepdims", 0L));
                top = graph.Op("Tanh", [graph.Linear(state, "attention_combine",
                    graph.Op("Concat", [context, top], OnnxGraph.Attribute("axis", 1L)))]);
                graph.Output(weights, "attention", DataType.Float, "source_steps", "batch");
            }
            graph.Output(graph.Linear(state, "output", top), "logits", DataType.Float, "batch",
                config.TargetVocabulary);
            string Joined(List<string> values) => values.Count == 1 ? values[0]
                : graph.Op("Concat", [.. values], OnnxGraph.Attribute("axis", 0L));
            graph.Output(Joined(hiddens), "h_next", DataType.Float, layers, "batch", width);
            if (lstm) graph.Output(Joined(cells), "c_next", DataType.Float, layers, "batch", width);
            if (attention) graph.Output(top, "feed_next", DataType.Float, "batch", width);
        }
        var metadata = Metadata("seq2seq", config.ToJson());
        encoder.Save(encoderPath, "Recur seq2seq encoder", metadata);
        decoder.Save(decoderPath, "Recur seq2seq decoder step", metadata);
    }

    /// <summary>
    /// A <see cref="Captioner"/> as two files, as a translation model: the encoder <paramref name="encoderPath"/>
    /// (<c>images</c> [batch, 1, height, width] → the decoder's first <c>h</c> [batch, H] (and <c>c</c> for an LSTM)
    /// and what every step reads: the m-RNN's projected <c>image</c> [batch, joint], or the attention decoder's
    /// <c>annotations</c> [cells, batch, D] and <c>keys</c> [cells, batch, joint]) and the decoder step
    /// <paramref name="decoderPath"/> (<c>previous</c> int64 [batch] (<c>&lt;bos&gt;</c> first), <c>h</c> (<c>c</c>)
    /// and the encoder's outputs → <c>logits</c> [batch, vocabulary], <c>h_next</c> (<c>c_next</c>) and for the
    /// attention decoder <c>attention</c> [cells, batch]). Greedy or beam decoding is a loop over the step.
    /// </summary>
    public static void Save(Captioner model, string encoderPath, string decoderPath)
    {
        var config = model.Config;
        bool lstm = config.Mode == RecurrentMode.Lstm;
        int hidden = config.HiddenSize, joint = config.JointSize, d = config.FeatureSize;
        var (mapH, mapW) = config.FeatureMap;
        int cells = mapH * mapW;
        var state = model.StateDict();
        using var noGrad = GradMode.NoGrad();
        var encoder = new OnnxGraph("captioner_encoder");
        {
            var graph = encoder;
            string x = graph.FloatInput("images", "batch", 1, config.Height, config.Width);
            for (int l = 0; l < 3; l++)
            {
                x = graph.Op("MaxPool", [graph.Op("Relu", [graph.Conv(state, $"encoder.{l}", x,
                    OnnxGraph.Attribute("kernel_shape", [3, 3]), OnnxGraph.Attribute("pads", [1, 1, 1, 1]))])],
                    OnnxGraph.Attribute("kernel_shape", [2, 2]), OnnxGraph.Attribute("strides", [2, 2]));
            }
            for (int l = 3; l < 3 + config.ExtraConvolutions; l++)
            {
                x = graph.Op("Relu", [graph.Conv(state, $"encoder.{l}", x, OnnxGraph.Attribute("kernel_shape", [3, 3]),
                    OnnxGraph.Attribute("pads", [1, 1, 1, 1]))]);
            }
            string flat = graph.Op("Reshape", [x, graph.Int64s(0, -1)]); // [B, D·h·w]
            string Bridge(string prefix) => graph.Op("Tanh", [graph.Linear(state, prefix, flat)]);
            if (config.Decoder == CaptionDecoder.MRnn)
            {
                // the m-RNN starts from zeros: flat · 0 keeps the batch dimension
                string zeros = graph.Op("Mul", [graph.Op("Slice", [flat, graph.Int64s(0), graph.Int64s(1),
                    graph.Int64s(1)]), graph.Weight("zeros", new float[hidden], 1, hidden)]);
                graph.Output(graph.Linear(state, "image", flat), "image", DataType.Float, "batch", joint);
                graph.Output(zeros, "h", DataType.Float, "batch", hidden);
                if (lstm) graph.Output(graph.Op("Identity", [zeros]), "c", DataType.Float, "batch", hidden);
            }
            else
            {
                graph.Output(Bridge("bridge"), "h", DataType.Float, "batch", hidden);
                if (lstm) graph.Output(Bridge("bridge_cell"), "c", DataType.Float, "batch", hidden);
            }
            if (config.Decoder == CaptionDecoder.Attention)
            {
                string annotations = graph.Op("Add", [graph.Transpose(graph.Op("Reshape", [x,
                    graph.Int64s(0, d, -1)]), 2, 0, 1), graph.Weight("places", state["places"].Span, cells, 1, d)]);
                graph.Output(annotations, "annotations", DataType.Float, cells, "batch", d);
                graph.Output(graph.Linear(state, "attention_keys", annotations), "keys", DataType.Float, cells,
                    "batch", joint);
            }
        }
        var decoder = new OnnxGraph("captioner_decoder_step");
        {
            var graph = decoder;
            string previous = graph.Input("previous", DataType.Int64, "batch");
            string h = graph.FloatInput("h", "batch", hidden);
            string? c = lstm ? graph.FloatInput("c", "batch", hidden) : null;
            string word = graph.Embedding(state, "embedding", previous);
            string logits;
            (string H, string? C) next;
            switch (config.Decoder)
            {
                case CaptionDecoder.ShowTell:
                    next = graph.CellStep(config.Mode, state, "decoder", word, h, c);
                    logits = graph.Linear(state, "head", next.H);
                    break;
                case CaptionDecoder.MRnn:
                {
                    string image = graph.FloatInput("image", "batch", joint);
                    next = graph.CellStep(config.Mode, state, "decoder", word, h, c);
                    // the scaled tanh 1.7159·tanh(2x/3)
                    string sum = graph.Op("Add", [graph.Op("Add", [graph.Linear(state, "multimodal_word", word),
                        graph.Linear(state, "multimodal_state", next.H)]), image]);
                    string multimodal = graph.Op("Mul", [graph.Op("Tanh", [graph.Op("Mul", [sum,
                        graph.Weight("two_thirds", [2f / 3f])])]), graph.Weight("lecun", [1.7159f])]);
                    logits = graph.Linear(state, "head", multimodal);
                    break;
                }
                default:
                {
                    string annotations = graph.FloatInput("annotations", cells, "batch", d);
                    string keys = graph.FloatInput("keys", cells, "batch", joint);
                    string query = graph.Op("Unsqueeze", [graph.Linear(state, "attention_query", h),
                        graph.Int64s(0)]);
                    string scores = graph.Op("Squeeze", [graph.Linear(state, "attention_energy", graph.Op("Tanh",
                        [graph.Op("Add", [keys, query])])), graph.Int64s(2)]); // [L, B]
                    string weights = graph.Op("Softmax", [scores], OnnxGraph.Attribute("axis", 0L));
                    string context = graph.Op("Mul", [graph.Op("ReduceSum", [graph.Op("Mul", [annotations,
                        graph.Op("Unsqueeze", [weights, graph.Int64s(2)])]), graph.Int64s(0)],
                        OnnxGraph.Attribute("keepdims", 0L)), graph.Op("Sigmoid", [graph.Linear(state,
                        "attention_gate", h)])]); // [B, D]
                    next = graph.CellStep(config.Mode, state, "decoder", graph.Op("Concat", [word, context],
                        OnnxGraph.Attribute("axis", 1L)), h, c);
                    string deep = graph.Op("Add", [graph.Op("Add", [word, graph.Linear(state, "output_state",
                        next.H)]), graph.Linear(state, "output_context", context)]);
                    logits = graph.Linear(state, "head", deep);
                    graph.Output(weights, "attention", DataType.Float, cells, "batch");
                    break;
                }
            }
            graph.Output(logits, "logits", DataType.Float, "batch", config.VocabularySize);
            graph.Output(next.H, "h_next", DataType.Float, "batch", hidden);
            if (next.C != null) graph.Output(next.C, "c_next", DataType.Float, "batch", hidden);
        }
        var metadata = Metadata("captioner", config.ToJson());
        encoder.Save(encoderPath, "Recur captioner encoder", metadata);
        decoder.Save(decoderPath, "Recur captioner decoder step", metadata);
    }

    /// <summary>
    /// A <see cref="StoryLstm"/>: inputs <c>ids</c> (int64 [steps, batch], the word sequences of
    /// <see cref="StoryLstm.Sequence"/> time-major, 0 past each) and <c>lengths</c> (int32 [batch]) →
    /// <c>logits</c> [batch, vocabulary] over the answers, read from each sequence's last word (the LSTM runs with
    /// <c>sequence_lens</c>, so padding changes nothing).
    /// </summary>
    public static void Save(StoryLstm model, string path)
    {
        var config = model.Config;
        Write(path, "story_lstm", config.ToJson(), model, (graph, state) =>
        {
            string ids = graph.Input("ids", DataType.Int64, "steps", "batch");
            string lengths = graph.Input("lengths", DataType.Int32, "batch");
            var encoded = graph.Recurrent(model.Encoder, state, "lstm", graph.Embedding(state, "embedding", ids),
                lengths);
            string last = graph.Op("Reshape", [encoded.Hidden, graph.Int64s(-1, config.HiddenSize)]); // [B, H]
            graph.Output(graph.Linear(state, "head", last), "logits", DataType.Float, "batch", config.VocabularySize);
        });
    }

    /// <summary>
    /// A <see cref="NeuralTuringMachine"/>: input <c>inputs</c> [steps, batch, inputs] → <c>output</c> [steps, batch,
    /// outputs] (logits) and the heads' weightings <c>read_weights</c> and <c>write_weights</c> [steps, batch, slots],
    /// as <see cref="NeuralTuringMachine.Forward"/> gives them. The machine is one <c>Scan</c> over the steps whose
    /// state is the memory [batch, slots, width], both weightings, the read vector and the controller's state; a step
    /// is the paper's addressing in ONNX operators — cosine similarity, <c>Softmax</c>, interpolation, the rotation by
    /// shifts −1, 0, +1 as three <c>Gather</c>s, sharpening as exp(γ·log w) — then erase, add and read.
    /// </summary>
    public static void Save(NeuralTuringMachine model, string path)
    {
        var config = model.Config;
        int n = config.MemorySlots, w = config.SlotSize, h = config.ControllerSize;
        Write(path, "ntm", config.ToJson(), model, (graph, state) =>
        {
            string inputs = graph.FloatInput("inputs", "steps", "batch", config.InputSize);
            string batch = graph.Op("Slice", [graph.Op("Shape", [inputs]), graph.Int64s(1), graph.Int64s(2),
                graph.Int64s(0)]);
            string Shape(params long[] sizes) => graph.Op("Concat", [batch, graph.Int64s(sizes)],
                OnnxGraph.Attribute("axis", 0L));
            string Zeros(int size) => graph.Op("ConstantOfShape", [Shape(size)]);
            var oneHot = new float[n];
            oneHot[0] = 1f;
            string start = graph.Op("Expand", [graph.Weight("start_weights", oneHot, 1, n), Shape(n)]);
            var initial = new List<string>
            {
                graph.Op("Expand", [graph.Weight("empty_memory", [1e-6f], 1, 1, 1), Shape(n, w)]), start, start,
                Zeros(w),
            };
            if (config.LstmController) initial.AddRange([Zeros(h), Zeros(h)]);

            var step = graph.Subgraph("ntm_step");
            string memory = step.FreshFloatInput("memory", "batch", n, w);
            string readWeights = step.FreshFloatInput("read_weights_prev", "batch", n);
            string writeWeights = step.FreshFloatInput("write_weights_prev", "batch", n);
            string read = step.FreshFloatInput("read", "batch", w);
            string? hidden = config.LstmController ? step.FreshFloatInput("h", "batch", h) : null;
            string? cell = config.LstmController ? step.FreshFloatInput("c", "batch", h) : null;
            string x = step.FreshFloatInput("x", "batch", config.InputSize);
            string joined = step.Op("Concat", [x, read], OnnxGraph.Attribute("axis", 1L));
            if (config.LstmController) (hidden, cell) = step.CellStep(RecurrentMode.Lstm, state, "controller", joined,
                hidden!, cell);
            else hidden = step.Op("Tanh", [step.Linear(state, "controller", joined)]);
            string Part(string values, int from, int size) => step.Slice(values, from, from + size);
            string written = step.Linear(state, "write_head", hidden);
            string newWrite = step.NtmAddress(written, memory, writeWeights, n, w);
            string column = step.Op("Unsqueeze", [newWrite, step.Int64s(2)]); // [B, N, 1]
            string Row(string vector) => step.Op("Unsqueeze", [vector, step.Int64s(1)]); // [B, 1, W]
            string erase = step.Op("MatMul", [column, Row(step.Op("Sigmoid", [Part(written, w + 6, w)]))]);
            string add = step.Op("MatMul", [column, Row(step.Op("Tanh", [Part(written, 2 * w + 6, w)]))]);
            string newMemory = step.Op("Add", [step.Op("Mul", [memory, step.Op("Sub", [step.Weight("one", [1f]),
                erase])]), add]);
            string newRead = step.NtmAddress(step.Linear(state, "read_head", hidden), newMemory, readWeights, n, w);
            string readVector = step.Op("Squeeze", [step.Op("MatMul", [Row(newRead), newMemory]), step.Int64s(1)]);
            string output = step.Linear(state, "output", step.Op("Concat", [hidden, readVector],
                OnnxGraph.Attribute("axis", 1L)));
            var outputs = new List<(string Value, object[] Dims)>
            {
                (newMemory, ["batch", n, w]), (newRead, ["batch", n]), (newWrite, ["batch", n]),
                (readVector, ["batch", w]),
            };
            if (config.LstmController) outputs.AddRange([(hidden, ["batch", h]), (cell!, ["batch", h])]);
            outputs.AddRange([(output, ["batch", config.OutputSize]), (step.Op("Identity", [newRead]), ["batch", n]),
                (step.Op("Identity", [newWrite]), ["batch", n])]);
            foreach (var (value, dims) in outputs) step.Output(value, value, DataType.Float, dims);
            var results = graph.Ops("Scan", [.. initial, inputs], outputs.Count, step.AsAttribute("body"),
                OnnxGraph.Attribute("num_scan_inputs", 1L));
            graph.Output(results[^3], "output", DataType.Float, "steps", "batch", config.OutputSize);
            graph.Output(results[^2], "read_weights", DataType.Float, "steps", "batch", n);
            graph.Output(results[^1], "write_weights", DataType.Float, "steps", "batch", n);
        });
    }

    /// <summary>The model kinds (<c>architecture</c> in <c>config.json</c>) <see cref="SaveRun"/> exports.</summary>
    public static IReadOnlyList<string> Kinds { get; } =
        ["sequence_model", "text_classifier", "language_model", "sequence_tagger", "forecaster", "seq2seq", "wavenet",
            "speech_recognizer", "memn2n", "story_lstm", "captioner", "ntm"];

    /// <summary>
    /// A <see cref="MemoryNetwork"/> (MemN2N) on a padded batch, as <see cref="MemoryNetwork.Pad"/> makes it: inputs
    /// <c>story</c> (int64 [batch, slots, words], most recent sentence first, 0 pads), <c>ages</c> (int64 [batch,
    /// slots], the memory size for a padding slot), <c>mask</c> ([batch, slots], 0 or −∞, added to the attention
    /// scores) and <c>question</c> (int64 [batch, words]) → <c>logits</c> [batch, vocabulary] over the answers and
    /// <c>attention</c> [hops, batch, slots]. Each sentence is a bag of its words' rows (<c>Gather</c>, the padding id
    /// masked out, weighted by the position encoding when the model uses it, <c>ReduceSum</c>); a model exported during
    /// its linear start attends without the softmax, as it then computes.
    /// </summary>
    public static void Save(MemoryNetwork model, string path)
    {
        var config = model.Config;
        int d = config.EmbeddingSize;
        Write(path, "memn2n", config.ToJson(), model, (graph, state) =>
        {
            string story = graph.Input("story", DataType.Int64, "batch", "slots", config.SentenceLength);
            string ages = graph.Input("ages", DataType.Int64, "batch", "slots");
            string mask = graph.FloatInput("mask", "batch", "slots");
            string question = graph.Input("question", DataType.Int64, "batch", config.SentenceLength);
            string? positions = config.Encoding == SentenceEncoding.Position
                ? graph.Weight("positions", MemoryNetwork.PositionEncoding(config.SentenceLength, d).Span,
                    config.SentenceLength, d) : null;
            // Σ_j w_j ⊙ E[ids_j] over the last axis of the ids, the padding id 0 adding nothing
            string Bag(string ids, int k)
            {
                string rows = graph.Embedding(state, $"embeddings.{k}", ids); // [..., J, d]
                string used = graph.Op("Cast", [graph.Op("Not", [graph.Op("Equal", [ids, graph.Int64s([0], [])])])],
                    OnnxGraph.Attribute("to", (long)DataType.Float));
                rows = graph.Op("Mul", [rows, graph.Op("Unsqueeze", [used, graph.Int64s(-1)])]);
                if (positions != null) rows = graph.Op("Mul", [rows, positions]);
                return graph.Op("ReduceSum", [rows, graph.Int64s(-2)], OnnxGraph.Attribute("keepdims", 0L));
            }
            var memories = new string[config.Hops + 1];
            for (int k = 0; k <= config.Hops; k++)
            {
                memories[k] = Bag(story, k); // [B, M, d]
                if (config.TemporalEncoding)
                    memories[k] = graph.Op("Add", [memories[k], graph.Embedding(state, $"temporal.{k}", ages)]);
            }
            string u = Bag(question, 0); // [B, d]
            string? keep = model.LinearStart ? graph.Op("Cast", [graph.Op("Equal", [mask, graph.Weight("zero",
                [0f])])], OnnxGraph.Attribute("to", (long)DataType.Float)) : null;
            var attention = new List<string>();
            for (int k = 1; k <= config.Hops; k++)
            {
                string scores = graph.Op("Squeeze", [graph.Op("MatMul", [memories[k - 1],
                    graph.Op("Unsqueeze", [u, graph.Int64s(2)])]), graph.Int64s(2)]); // [B, M]
                string p = keep is null
                    ? graph.Op("Softmax", [graph.Op("Add", [scores, mask])], OnnxGraph.Attribute("axis", 1L))
                    : graph.Op("Mul", [scores, keep]);
                attention.Add(graph.Op("Unsqueeze", [p, graph.Int64s(0)]));
                u = graph.Op("Add", [u, graph.Op("Squeeze", [graph.Op("MatMul", [graph.Op("Unsqueeze", [p,
                    graph.Int64s(1)]), memories[k]]), graph.Int64s(1)])]);
            }
            graph.Output(graph.Linear(state[$"embeddings.{config.Hops}.weight"], null, u, "answer"), "logits",
                DataType.Float, "batch", config.VocabularySize);
            graph.Output(attention.Count == 1 ? attention[0]
                : graph.Op("Concat", [.. attention], OnnxGraph.Attribute("axis", 0L)), "attention", DataType.Float,
                config.Hops, "batch", "slots");
        });
    }

    /// <summary>
    /// A <see cref="SpeechRecognizer"/>'s acoustic model: inputs <c>features</c> [batch, 1, mels, frames] (the
    /// normalised log-mel frames of <see cref="SpeechFeatureConfig.Compute"/>, transposed, zero past each utterance)
    /// and <c>lengths</c> (int32 [batch], frames) → <c>log_probs</c> [steps, batch, classes] over the blank (0) and the
    /// characters, and <c>output_lengths</c> (int32 [batch]), the frames of each utterance after the convolutions —
    /// what a CTC decoder reads. Each convolution is a strided <c>Conv</c> → <c>Relu</c> with the frames past each
    /// utterance's end zeroed, as in Recur, then the recurrent encoder runs on the lengths.
    /// </summary>
    public static void Save(SpeechRecognizer model, string path)
    {
        var config = model.Config;
        Write(path, "speech_recognizer", config.ToJson(), model, (graph, state) =>
        {
            int mels = config.Features.NMels, classes = model.Alphabet.Classes;
            string x = graph.FloatInput("features", "batch", 1, mels, "frames");
            string lengths = graph.Input("lengths", DataType.Int32, "batch");
            var (kh, kw) = SpeechRecognizerConfig.Kernel;
            for (int l = 0; l < config.ConvLayers; l++)
            {
                var (sh, sw) = SpeechRecognizerConfig.Stride(l);
                x = graph.Op("Relu", [graph.Conv(state, $"conv{l}", x, OnnxGraph.Attribute("kernel_shape", [kh, kw]),
                    OnnxGraph.Attribute("strides", [sh, sw]),
                    OnnxGraph.Attribute("pads", [kh / 2, kw / 2, kh / 2, kw / 2]))]);
                // frames after this layer: (n + 2·⌊KW/2⌋ − KW) / stride + 1, then the frames past them zeroed
                lengths = graph.Op("Add", [graph.Op("Div", [graph.Op("Add", [lengths,
                    graph.Int32s(2 * (kw / 2) - kw)]), graph.Int32s(sw)]), graph.Int32s(1)]);
                string mask = graph.Op("Unsqueeze", [graph.Transpose(graph.LengthMask(lengths, x, axis: 3), 1, 2, 0),
                    graph.Int64s(1)]); // [T, B, 1] → [B, 1, 1, T]
                x = graph.Op("Mul", [x, mask]);
            }
            // [B, C, rows, T] → [T, B, C·rows]
            string sequence = graph.Op("Reshape", [graph.Transpose(x, 3, 0, 1, 2), graph.Int64s(0, 0, -1)]);
            var encoded = graph.Recurrent(config.Encoder, state, "encoder", sequence, lengths);
            string logits = graph.Linear(state, "head", encoded.Output);
            graph.Output(graph.Op("LogSoftmax", [logits], OnnxGraph.Attribute("axis", 2L)), "log_probs",
                DataType.Float, "steps", "batch", classes);
            graph.Output(lengths, "output_lengths", DataType.Int32, "batch");
        });
    }

    /// <summary>
    /// A <see cref="WaveNetModel"/>'s teacher-forced forward: inputs <c>codes</c> (int64 [batch, steps], μ-law codes),
    /// with global conditioning <c>condition</c> (int64 [batch], a label per sequence), with local conditioning
    /// <c>local</c> [batch, local channels, steps] → <c>logits</c> [batch, levels, steps], the scores of the code that
    /// follows each input code. Each dilated layer is a causal <c>Conv</c> (left padding dilation·(K − 1)), the gated
    /// unit a <c>Split</c> into <c>Tanh</c> · <c>Sigmoid</c>, the 1×1 residual, skip and head layers <c>Conv</c>s.
    /// </summary>
    public static void Save(WaveNetModel model, string path)
    {
        var config = model.Config;
        int layers = config.LayersPerStack * config.Stacks, d = config.DilationChannels;
        Write(path, "wavenet", config.ToJson(), model, (graph, state) =>
        {
            string codes = graph.Input("codes", DataType.Int64, "batch", "steps");
            string? condition = config.GlobalConditions > 0 ? graph.Input("condition", DataType.Int64, "batch") : null;
            string? local = config.LocalChannels > 0
                ? graph.FloatInput("local", "batch", config.LocalChannels, "steps") : null;
            string Conv(string x, string prefix, int dilation = 1) => graph.Conv(state, prefix, x,
                OnnxGraph.Attribute("kernel_shape", [state[prefix + ".weight"].Size(2)]),
                OnnxGraph.Attribute("dilations", [dilation]),
                OnnxGraph.Attribute("pads", [(long)dilation * (state[prefix + ".weight"].Size(2) - 1), 0]));
            string x = graph.Transpose(graph.Embedding(state, "input", codes), 0, 2, 1); // [B, R, T]
            string? skip = null;
            string halves = graph.Int64s(d, d);
            for (int l = 0; l < layers; l++)
            {
                string a = Conv(x, $"layers.{l}.gate", config.Dilation(l));
                if (condition != null)
                    a = graph.Op("Add", [a, graph.Op("Unsqueeze", [graph.Embedding(state, $"layers.{l}.global",
                        condition), graph.Int64s(2)])]);
                if (local != null) a = graph.Op("Add", [a, Conv(local, $"layers.{l}.local")]);
                var parts = graph.Ops("Split", [a, halves], 2, OnnxGraph.Attribute("axis", 1));
                string z = graph.Op("Mul", [graph.Op("Tanh", [parts[0]]), graph.Op("Sigmoid", [parts[1]])]);
                string s = Conv(z, $"layers.{l}.skip");
                skip = skip is null ? s : graph.Op("Add", [skip, s]);
                if (l < layers - 1) x = graph.Op("Add", [x, Conv(z, $"layers.{l}.residual")]);
            }
            string hidden = Conv(graph.Op("Relu", [skip!]), "head.0");
            string logits = Conv(graph.Op("Relu", [hidden]), "head.1");
            graph.Output(logits, "logits", DataType.Float, "batch", config.Levels, "steps");
        });
    }

    /// <summary>
    /// Exports the model of a run or checkpoint folder (its <c>best/</c> checkpoint, else <c>last/</c>), choosing the
    /// model kind from its <c>config.json</c>; returns the kind and the files written — <paramref name="path"/>, or
    /// for a translation model or a captioner its encoder and decoder step beside it (<c>NAME.encoder.onnx</c>,
    /// <c>NAME.decoder.onnx</c>). Another kind gets a <see cref="NotSupportedException"/> naming it and the kinds that
    /// can be exported.
    /// </summary>
    public static (string Kind, IReadOnlyList<string> Files) SaveRun(string modelFolder, string path)
    {
        var (kind, model) = SavedModel.Open(modelFolder, Kinds, "ONNX");
        switch (model)
        {
            case Seq2Seq or Captioner:
            {
                string stem = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(path))!,
                    Path.GetFileNameWithoutExtension(path));
                string[] files = [stem + ".encoder.onnx", stem + ".decoder.onnx"];
                if (model is Seq2Seq translation) Save(translation, files[0], files[1]);
                else Save((Captioner)model, files[0], files[1]);
                return (kind, files);
            }
            case SequenceModel sequence: Save(sequence, path); break;
            case TextClassifier classifier: Save(classifier, path); break;
            case LanguageModel language: Save(language, path); break;
            case SequenceTagger tagger: Save(tagger, path); break;
            case WaveNetModel wavenet: Save(wavenet, path); break;
            case SpeechRecognizer speech: Save(speech, path); break;
            case MemoryNetwork memory: Save(memory, path); break;
            case StoryLstm story: Save(story, path); break;
            case NeuralTuringMachine machine: Save(machine, path); break;
            default: Save((Forecaster)model, path); break;
        }
        return (kind, [path]);
    }

    /// <summary>
    /// Builds the graph from the model's state dict with no gradients recorded, then writes it in one step, so a model
    /// that cannot be exported leaves no file.
    /// </summary>
    static void Write(string path, string kind, JsonObject config, Module model,
        Action<OnnxGraph, IReadOnlyDictionary<string, Tensor>> build)
    {
        ArgumentNullException.ThrowIfNull(model);
        using var _ = GradMode.NoGrad();
        var graph = new OnnxGraph(kind);
        build(graph, model.StateDict());
        graph.Save(path, $"Recur {kind}", Metadata(kind, config));
    }

    /// <summary>The metadata properties of every exported file: the model's kind and its <c>config.json</c>.</summary>
    static Dictionary<string, string> Metadata(string kind, JsonObject config) => new()
    {
        ["recur.kind"] = kind, ["recur.config"] = config.ToJsonString(),
    };
}

using System.Text.Json.Nodes;

namespace Recur.Explore;

/// <summary>The answer of <c>GET /info</c>.</summary>
/// <param name="Kind">The page's view (<see cref="ExploreSubject.Kind"/>).</param>
/// <param name="Name">The model's name.</param>
/// <param name="Details">Facts of the model (<see cref="ExploreSubject.Describe"/>).</param>
/// <param name="HasMetrics">Whether <c>GET /metrics</c> has training curves.</param>
/// <param name="Batching">Requests and batches per batched endpoint so far.</param>
public sealed record ModelInfo(string Kind, string Name, JsonObject Details, bool HasMetrics,
    BatchStatistics[] Batching);

/// <summary>How a batched endpoint has batched so far.</summary>
/// <param name="Endpoint">The endpoint.</param>
/// <param name="Requests">Requests answered.</param>
/// <param name="Batches">Model calls made for them.</param>
/// <param name="Largest">The most requests one call served.</param>
public sealed record BatchStatistics(string Endpoint, long Requests, long Batches, long Largest);

/// <summary>One record of a run's <c>metrics.jsonl</c>.</summary>
/// <param name="Type">What was measured (<c>train</c>, <c>eval</c>, …).</param>
/// <param name="Epoch">The epoch.</param>
/// <param name="Step">The optimizer step.</param>
/// <param name="Values">The measured values by name.</param>
public sealed record MetricsPoint(string Type, int Epoch, long Step, Dictionary<string, double> Values);

/// <summary>A token and its probability.</summary>
/// <param name="Token">The token's text.</param>
/// <param name="Id">The token's id.</param>
/// <param name="Probability">The model's probability for it.</param>
public sealed record TokenProbability(string Token, int Id, double Probability);

/// <summary>The body of a language model's <c>POST /predict</c>.</summary>
/// <param name="Prompt">The text read so far.</param>
/// <param name="Top">How many of the most likely next tokens to return.</param>
public sealed record NextTokenRequest(string Prompt, int Top = 10);

/// <summary>The answer of a language model's <c>POST /predict</c>.</summary>
/// <param name="Next">The most likely next tokens, most likely first.</param>
public sealed record NextTokenResponse(TokenProbability[] Next);

/// <summary>The body of <c>POST /generate</c>: a prompt and how to continue it (see
/// <see cref="Language.SamplingOptions"/>).</summary>
/// <param name="Prompt">The text to continue.</param>
/// <param name="Length">Tokens to generate.</param>
/// <param name="Temperature">Divides the logits; 0 is greedy decoding.</param>
/// <param name="TopK">Sample among the k most likely tokens only (0: all).</param>
/// <param name="TopP">Nucleus sampling's p (1: all).</param>
/// <param name="Beam">Beam width (0: sample instead); a beam's best continuation is sent when the search ends.</param>
/// <param name="Seed">The sampling seed: the same seed gives the same text.</param>
public sealed record GenerateRequest(string Prompt, int Length = 200, float Temperature = 0.8f, int TopK = 0,
    float TopP = 1f, int Beam = 0, ulong Seed = 1);

/// <summary>The body of a language model's <c>POST /explain</c>.</summary>
/// <param name="Text">The text the model reads.</param>
public sealed record ExplainTextRequest(string Text);

/// <summary>What a language model computed at every token of a text.</summary>
/// <param name="Tokens">The tokens' texts.</param>
/// <param name="HiddenSize">Units of the top layer.</param>
/// <param name="Hidden">The top layer's hidden state h_t: [token][unit].</param>
/// <param name="Layers">Each recurrent pass's gate activations.</param>
/// <param name="Next">The probability the model gave each token before reading it (the first: none, 0).</param>
public sealed record TextActivations(string[] Tokens, int HiddenSize, float[][] Hidden, LayerGates[] Layers,
    double[] Next);

/// <summary>The activated gates of one recurrent pass.</summary>
/// <param name="Layer">The pass's label, e.g. <c>l0</c>.</param>
/// <param name="Gates">The gate names, e.g. i, f, g, o for an LSTM.</param>
/// <param name="Values">[gate][token][unit].</param>
public sealed record LayerGates(string Layer, string[] Gates, float[][][] Values);

/// <summary>The body of <c>POST /units</c>: a text and a span of its tokens.</summary>
/// <param name="Text">The text the model reads.</param>
/// <param name="Start">The span's first token.</param>
/// <param name="End">The token after the span.</param>
/// <param name="Threshold">A unit is on where its activation is at least this.</param>
public sealed record UnitSearchRequest(string Text, int Start, int End, float Threshold = 0.3f);

/// <summary>The units that are on over a span, and where else in the text they are on together (LSTMVis).</summary>
/// <param name="Units">The top layer's units on over the whole span, most active first.</param>
/// <param name="Matches">Spans [start, end) of tokens where all of them are on.</param>
public sealed record UnitSearchResponse(int[] Units, TokenSpan[] Matches);

/// <summary>A span of tokens [Start, End).</summary>
/// <param name="Start">The first token.</param>
/// <param name="End">The token after the last.</param>
public sealed record TokenSpan(int Start, int End);

/// <summary>The body of a classifier's (and a tagger's and a translator's) <c>POST /predict</c>.</summary>
/// <param name="Texts">The texts, up to 64 per request.</param>
public sealed record TextsRequest(string[] Texts);

/// <summary>A classifier's answer for one text.</summary>
/// <param name="Label">The most probable class.</param>
/// <param name="Probability">Its probability.</param>
/// <param name="Probabilities">Every class's probability.</param>
public sealed record ClassPrediction(string Label, double Probability, Dictionary<string, double> Probabilities);

/// <summary>The answer of a classifier's <c>POST /predict</c>.</summary>
/// <param name="Predictions">One per text, in order.</param>
public sealed record ClassifyResponse(ClassPrediction[] Predictions);

/// <summary>The body of a classifier's <c>POST /explain</c>.</summary>
/// <param name="Text">The text.</param>
/// <param name="Label">The class to explain (default: the predicted one).</param>
public sealed record ExplainClassRequest(string Text, string? Label = null);

/// <summary>A word and how much the model leaned on it.</summary>
/// <param name="Word">The word as the model read it.</param>
/// <param name="Weight">Its weight (attention, or its contribution to the class).</param>
public sealed record WordWeight(string Word, double Weight);

/// <summary>A block of a text (a sentence for a hierarchical model, else the whole text).</summary>
/// <param name="Label">The block's own weight as text (a sentence's attention), or null.</param>
/// <param name="Words">The block's words.</param>
public sealed record TextBlock(string? Label, WordWeight[] Words);

/// <summary>What a classifier read closely in a text for a class.</summary>
/// <param name="Label">The class explained.</param>
/// <param name="Prediction">The classifier's answer for the text.</param>
/// <param name="By">What the weights are (e.g. attention).</param>
/// <param name="Blocks">The text's blocks with their words' weights.</param>
public sealed record ClassExplanation(string Label, ClassPrediction Prediction, string By, TextBlock[] Blocks);

/// <summary>A tagged text.</summary>
/// <param name="Tokens">The tokens.</param>
/// <param name="Tags">One tag per token.</param>
/// <param name="Entities">The entities the tags make.</param>
public sealed record TaggedText(string[] Tokens, string[] Tags, TaggedEntity[] Entities);

/// <summary>An entity: a span of tokens and its type.</summary>
/// <param name="Type">The entity type, e.g. PER.</param>
/// <param name="Start">The first token.</param>
/// <param name="End">The token after the last.</param>
/// <param name="Text">The entity's tokens joined by spaces.</param>
public sealed record TaggedEntity(string Type, int Start, int End, string Text);

/// <summary>The answer of a tagger's <c>POST /predict</c>.</summary>
/// <param name="Results">One per text, in order.</param>
public sealed record TagResponse(TaggedText[] Results);

/// <summary>The body of a tagger's and a translator's <c>POST /explain</c>.</summary>
/// <param name="Text">The text.</param>
public sealed record ExplainRequest(string Text);

/// <summary>A tagged text with each token's marginal tag probabilities.</summary>
/// <param name="Tagged">The decoded tags and entities.</param>
/// <param name="TagNames">The model's tags, in the order of <paramref name="Marginals"/>' columns.</param>
/// <param name="Marginals">[token][tag]: P(tag at the token | text) (CRF: by forward–backward; else softmax).</param>
public sealed record TagExplanation(TaggedText Tagged, string[] TagNames, double[][] Marginals);

/// <summary>The body of a translator's <c>POST /predict</c>.</summary>
/// <param name="Texts">Source sentences, up to 64 per request.</param>
/// <param name="Beam">Beam width (1: greedy).</param>
public sealed record TranslateRequest(string[] Texts, int Beam = 5);

/// <summary>A translation.</summary>
/// <param name="Source">The source tokens as the model read them.</param>
/// <param name="Target">The translation's tokens.</param>
/// <param name="Text">The translation.</param>
/// <param name="LogProbability">The translation's log-probability.</param>
/// <param name="Attention">[target token][source token] attention weights (empty without attention).</param>
public sealed record Translation(string[] Source, string[] Target, string Text, double LogProbability,
    double[][] Attention);

/// <summary>The answer of a translator's <c>POST /predict</c>.</summary>
/// <param name="Translations">One per text, in order.</param>
public sealed record TranslateResponse(Translation[] Translations);

/// <summary>The body of a forecaster's <c>POST /predict</c>.</summary>
/// <param name="History">The series so far, oldest first.</param>
/// <param name="Steps">Values to forecast after it.</param>
public sealed record ForecastRequest(double[] History, int Steps = 12);

/// <summary>A forecast.</summary>
/// <param name="Forecast">The values after the history.</param>
/// <param name="Lower">The interval's lower ends (null when the model gives none).</param>
/// <param name="Upper">The interval's upper ends.</param>
/// <param name="Coverage">The interval's nominal coverage, e.g. 0.95.</param>
public sealed record ForecastResponse(double[] Forecast, double[]? Lower, double[]? Upper, double? Coverage);

using System.Buffers;
using System.Numerics.Tensors;
using Recur.Decoding;
using Recur.Kernels;

namespace Recur.Language;

/// <summary>How <see cref="TextGenerator.Generate"/> picks each next token.</summary>
/// <param name="Temperature">Divides the logits; 0 picks the most likely token (greedy decoding).</param>
/// <param name="TopK">Sample only among the k most likely tokens (0: all).</param>
/// <param name="TopP">Nucleus sampling (Holtzman et al. 2020): only the smallest set of most likely tokens whose
/// probability reaches p (1: all).</param>
/// <param name="Seed">Seed of the sampling generator: the same seed gives the same text.</param>
/// <param name="StopAtEos">End when the model produces <c>&lt;eos&gt;</c> (word models, whose <c>&lt;eos&gt;</c> is a
/// line end, usually keep going).</param>
public sealed record SamplingOptions(float Temperature = 1f, int TopK = 0, float TopP = 1f, ulong Seed = 1,
    bool StopAtEos = false)
{
    /// <summary>Throws an <see cref="ArgumentException"/> naming the first invalid setting.</summary>
    public void Validate()
    {
        if (!(Temperature >= 0)
            || float.IsInfinity(Temperature)) throw new ArgumentException(
            $"sampling: temperature must be ≥ 0, got {Temperature}.");
        if (TopK < 0) throw new ArgumentException($"sampling: top-k must be ≥ 0, got {TopK}.");
        if (!(TopP > 0 && TopP <= 1)) throw new ArgumentException($"sampling: top-p must be in (0, 1], got {TopP}.");
    }
}

/// <summary>A beam-search result.</summary>
/// <param name="Tokens">The generated tokens (the prompt not included).</param>
/// <param name="LogProbability">Sum of the tokens' log-probabilities.</param>
/// <param name="Score">The length-normalised score that ranked it.</param>
public sealed record BeamHypothesis(int[] Tokens, double LogProbability, double Score);

/// <summary>
/// Generates text from a <see cref="LanguageModel"/> in evaluation mode without gradients: the prompt is read in one
/// pass, then one token at a time is chosen (sampling with temperature, top-k and top-p, greedy decoding, or beam
/// search) and fed back. <see cref="Generate"/> and <see cref="BeamSearch"/> are extension methods, so they read as the
/// model's own: <c>model.Generate(prompt, 200, new SamplingOptions(Temperature: 0.8f))</c>.
/// </summary>
public static class TextGenerator
{
    static (float[] Logits, LanguageModelState State) Prime(LanguageModel model, IReadOnlyList<int> prompt, int streams)
    {
        if (prompt.Count == 0) throw new ArgumentException(
            "generation: the prompt has no tokens (start from <bos> or any token).");
        var ids = new int[prompt.Count * streams];
        for (int t = 0; t < prompt.Count; t++) for (int s = 0; s < streams; s++) ids[t * streams + s] = prompt[t];
        var (logits, state) = model.Forward(ids, prompt.Count, streams);
        int vocabulary = model.Config.VocabularySize;
        return (logits.Span.Slice((prompt.Count - 1) * streams * vocabulary, streams * vocabulary).ToArray(), state);
    }

    /// <summary>
    /// Continues <paramref name="prompt"/> by up to <paramref name="length"/> tokens; <paramref name="onToken"/> sees
    /// each token as soon as it is chosen (for streaming). Returns the generated tokens.
    /// </summary>
    public static int[] Generate(this LanguageModel model, IReadOnlyList<int> prompt, int length,
        SamplingOptions options, Action<int>? onToken = null)
    {
        options.Validate();
        if (length < 0) throw new ArgumentException($"generation: length must be ≥ 0, got {length}.");
        using var _ = model.Evaluating();
        var random = new RandomGenerator(options.Seed);
        var (logits, state) = Prime(model, prompt, 1);
        // each token's input projection read from a table rather than W_ih read at every token
        var table = length > 1 ? model.NextTokenTable() : null;
        var generated = new List<int>(length);
        for (int i = 0; i < length; i++)
        {
            int next = Choose(logits, options, random);
            generated.Add(next);
            onToken?.Invoke(next);
            if (options.StopAtEos && next == Text.Tokenizers.Eos) break;
            if (i + 1 == length) break;
            var (nextLogits, nextState) = table is null ? model.Forward([next], 1, 1, state)
                : model.Step([next], state, table);
            (logits, state) = (nextLogits.ToArray(), nextState);
        }
        return [.. generated];
    }

    /// <summary>
    /// Picks a token from <paramref name="logits"/> under <paramref name="options"/> (exposed for tests). Sampling
    /// from every token needs no order and takes two passes over the logits; top-k and top-p take the most likely
    /// tokens (ties by id) from <see cref="Scores.Top"/>, which sorts only those — a word or BPE vocabulary of 50,000
    /// is not sorted for every token. Logits that are NaN or infinite are an error (the model's output is broken),
    /// not a draw.
    /// </summary>
    public static int Choose(ReadOnlySpan<float> logits, SamplingOptions options, RandomGenerator random)
    {
        int n = logits.Length;
        if (n == 0) throw new ArgumentException("generation: there are no logits to choose from.");
        if (!TensorPrimitives.IsFiniteAll(logits))
            for (int i = 0; i < n; i++)
                if (!float.IsFinite(logits[i]))
                    throw new ArgumentException($"generation: the logit of token {i} of {n} is {logits[i]}; the "
                        + "model's output is not finite.");
        if (options.Temperature == 0) return Scores.ArgMax(logits);
        double temperature = options.Temperature, max = TensorPrimitives.Max(logits) / temperature;
        int keep = options.TopK > 0 ? Math.Min(options.TopK, n) : n;
        var pool = ArrayPool<double>.Shared;
        if (keep == n && options.TopP >= 1)
        {
            // every token can be drawn: in id order, no sorting
            var weights = pool.Rent(n);
            try
            {
                double total = Weights(logits, temperature, max, weights.AsSpan(0, n));
                double u = random.NextDouble() * total, running = 0;
                for (int i = 0; i < n; i++)
                {
                    running += weights[i];
                    if (u < running) return i;
                }
                return n - 1; // not reached: the running total ends at the total, which u is below
            }
            finally { pool.Return(weights); }
        }
        // top-p measures its nucleus against every kept token's weight; top-k alone needs only the k best
        double all = 0;
        if (options.TopP < 1 && keep == n)
            for (int i = 0; i < n; i++) all += Weight(logits[i], temperature, max); // as Weights sums, in id order
        var best = Array.Empty<int>();
        var probabilities = Array.Empty<double>();
        int count = 0;
        // the m most likely tokens: top-k's k, or for top-p alone m growing until the nucleus fits in them (a flat
        // distribution needs them all)
        for (int m = keep < n ? keep : Math.Min(n, 64); ; m = Math.Min(keep, m * 8))
        {
            best = Scores.Top(logits, m);
            probabilities = new double[m];
            double sum = 0;
            for (int i = 0; i < m; i++) sum += probabilities[i] = Weight(logits[best[i]], temperature, max);
            if (keep < n) all = sum;
            count = m;
            if (options.TopP < 1)
            {
                double cumulative = 0;
                int reached = -1;
                for (int i = 0; i < m && reached < 0; i++)
                    if ((cumulative += probabilities[i] / all) >= options.TopP) reached = i + 1;
                if (reached > 0) count = reached;
                else if (m < keep) continue;
            }
            break;
        }
        double kept = 0;
        for (int i = 0; i < count; i++) kept += probabilities[i];
        double draw = random.NextDouble() * kept, walked = 0;
        for (int i = 0; i < count; i++)
        {
            walked += probabilities[i];
            if (draw < walked) return best[i];
        }
        return best[count - 1];
    }

    /// <summary>Every token's weight e^(logit/T − max) into <paramref name="weights"/> and their sum, taken in id
    /// order (<c>Math.Exp</c>: <c>TensorPrimitives.Exp</c> measured three times slower on doubles).</summary>
    internal static double Weights(ReadOnlySpan<float> logits, double temperature, double max, Span<double> weights)
    {
        double total = 0;
        for (int i = 0; i < logits.Length; i++) total += weights[i] = Weight(logits[i], temperature, max);
        return total;
    }

    /// <summary>A token's unnormalised probability at <paramref name="temperature"/>, e^(logit/T − max).</summary>
    static double Weight(float logit, double temperature, double max) => Math.Exp(logit / temperature - max);

    /// <summary>
    /// Beam search of width <paramref name="beamWidth"/> for up to <paramref name="length"/> tokens after the prompt.
    /// A hypothesis ends at <c>&lt;eos&gt;</c> when <paramref name="eosId"/> is given. Hypotheses are ranked by
    /// log P / ((5 + n)/6)^α (Wu et al. 2016's length penalty; α = 0 ranks by log-probability alone). The search (the
    /// shared <see cref="Decoding.BeamSearch"/>) ends when the best finished hypothesis beats every live one, when
    /// <paramref name="beamWidth"/> have finished, or at <paramref name="length"/>. Returns the finished (their
    /// <c>&lt;eos&gt;</c> included) and live hypotheses, best first.
    /// </summary>
    public static IReadOnlyList<BeamHypothesis> BeamSearch(this LanguageModel model, IReadOnlyList<int> prompt,
        int length, int beamWidth, double lengthPenalty = 0.6, int? eosId = null)
    {
        using var _ = model.Evaluating();
        var (primed, initial) = Prime(model, prompt, 1);
        var table = length > 1 && beamWidth <= LanguageModel.StepStreams ? model.NextTokenTable() : null;
        bool first = true;
        DecoderStep<LanguageModelState> Step(int[] rows, int[] previous, LanguageModelState state)
        {
            if (first)
            {
                first = false; // the prompt's last logits choose the first token
                return new(primed, null, state);
            }
            var (logits, next) = table is null ? model.Forward(previous, 1, previous.Length, state)
                : model.Step(previous, state, table);
            return new(logits.ToArray(), null, next);
        }
        var ranked = Decoding.BeamSearch.Search(1, initial, Step, (state, rows) => state.SelectStreams(rows),
            new BeamOptions(model.Config.VocabularySize, prompt[^1], eosId ?? -1, beamWidth, length, lengthPenalty))[0];
        return ranked.Select(h => new BeamHypothesis(h.Ended ? [.. h.Tokens, eosId!.Value] : h.Tokens,
            h.LogProbability, h.Score)).ToList();
    }
}

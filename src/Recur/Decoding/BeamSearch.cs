using Recur.Kernels;

namespace Recur.Decoding;

/// <summary>A sequence found by <see cref="BeamSearch"/>.</summary>
/// <param name="Tokens">Token ids, without the start and end tokens.</param>
/// <param name="LogProbability">Sum of the chosen tokens' log-probabilities (the end token included when
/// produced).</param>
/// <param name="Attention">The decoder's attention weights at each step (empty when it reports none).</param>
/// <param name="Score">The length-normalised score that ranked it.</param>
/// <param name="Ended">Whether the end token closed it (rather than the length limit or the end of the search).</param>
public sealed record DecodedSequence(int[] Tokens, double LogProbability, double[][] Attention, double Score = 0,
    bool Ended = false);

/// <summary>What one step of an autoregressive decoder returns to <see cref="BeamSearch"/>.</summary>
/// <param name="Logits">Next-token scores [rows, vocabulary], not yet normalised (this buffer is overwritten with
/// log-probabilities).</param>
/// <param name="Attention">The attention weights of a row (over source tokens, image cells, …), or null when the
/// decoder has none; only asked for the rows a hypothesis keeps.</param>
/// <param name="State">The decoder state after the step, one row per input row.</param>
public sealed record DecoderStep<TState>(float[] Logits, Func<int, double[]>? Attention, TState State);

/// <summary>Settings of a <see cref="BeamSearch"/>.</summary>
/// <param name="Vocabulary">Number of token ids the decoder scores.</param>
/// <param name="Bos">The start token fed at the first step.</param>
/// <param name="Eos">The end token that finishes a hypothesis (a negative id: none, hypotheses run to the length
/// limit).</param>
/// <param name="BeamWidth">Hypotheses kept per input; 1 is greedy decoding.</param>
/// <param name="MaxLength">Most tokens of a hypothesis, the end token not counted.</param>
/// <param name="LengthPenalty">α of the length normalisation log P / ((5 + n)/6)^α (Wu et al. 2016); 0 ranks by log P
/// alone.</param>
public sealed record BeamOptions(int Vocabulary, int Bos, int Eos, int BeamWidth = 5, int MaxLength = 50,
    double LengthPenalty = 0.6);

/// <summary>
/// Beam search over any autoregressive decoder (translation, captioning): every live hypothesis of every input is
/// advanced by one batched decoder step; hypotheses end at the end token or at the length limit and are ranked by
/// log P / ((5 + n)/6)^α, n counting the end token. An input stops when it has as many finished hypotheses as the beam
/// is wide or none of its live ones can overtake its best finished one. Ties break by beam, then token id, so the
/// result is deterministic.
/// </summary>
public static class BeamSearch
{
    /// <summary>
    /// Decodes <paramref name="count"/> inputs. <paramref name="initial"/> holds one state row per input;
    /// <paramref name="step"/> advances rows (given, per row, the input it belongs to and the previous token);
    /// <paramref name="select"/> keeps the state rows listed (in that order) for the next step. Returns each input's
    /// best sequence.
    /// </summary>
    public static List<DecodedSequence> Run<TState>(int count, TState initial,
        Func<int[], int[], TState, DecoderStep<TState>> step, Func<TState, int[], TState> select,
        BeamOptions options) =>
        Search(count, initial, step, select, options).Select(ranked => ranked[0]).ToList();

    /// <summary>As <see cref="Run"/>, but every hypothesis each input ended with (finished, and live at the end of its
    /// search), best first.</summary>
    public static List<List<DecodedSequence>> Search<TState>(int count, TState initial,
        Func<int[], int[], TState, DecoderStep<TState>> step, Func<TState, int[], TState> select, BeamOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.BeamWidth < 1 || options.MaxLength < 1 || options.Vocabulary < 1 || options.LengthPenalty < 0)
            throw new ArgumentException($"beam search: width and length must be positive, got width "
                + $"{options.BeamWidth}, length {options.MaxLength}, length penalty {options.LengthPenalty}.");
        int width = options.BeamWidth, vocabulary = options.Vocabulary;
        double Normalise(double logP, int n) => logP / Math.Pow((5.0 + n) / 6.0, options.LengthPenalty);
        var beams = Enumerable.Range(0, count).Select(_ => new List<Hypothesis> { new([], 0, []) }).ToArray();
        var finished = Enumerable.Range(0, count).Select(_ => new List<DecodedSequence>()).ToArray();
        var active = Enumerable.Range(0, count).ToList(); // inputs still searching, in row order
        var state = initial;
        for (int t = 0; t < options.MaxLength && active.Count > 0; t++)
        {
            // one decoder row per live hypothesis, grouped by input
            var rowItems = active.SelectMany(i => Enumerable.Repeat(i, beams[i].Count)).ToArray();
            var previous = active.SelectMany(i => beams[i].Select(b => b.Tokens.Count == 0 ? options.Bos
                : b.Tokens[^1])).ToArray();
            var result = step(rowItems, previous, state);
            if (result.Logits.Length != rowItems.Length * vocabulary)
                throw new InvalidOperationException($"beam search: the decoder step gave {result.Logits.Length} "
                    + $"scores for {rowItems.Length} rows of {vocabulary} tokens.");
            var order = new List<int>(); // rows of the next step, as rows of this one
            var stillActive = new List<int>();
            int row0 = 0;
            foreach (int i in active)
            {
                var live = beams[i];
                var candidates = new List<(int Beam, int Token, double LogP)>();
                for (int b = 0; b < live.Count; b++)
                {
                    var row = result.Logits.AsSpan((row0 + b) * vocabulary, vocabulary);
                    Scores.LogSoftmax(row);
                    foreach (int v in Scores.Top(row, width)) candidates.Add((b, v, live[b].LogP + row[v]));
                }
                var kept = new List<Hypothesis>();
                foreach (var c in candidates.OrderByDescending(c => c.LogP).ThenBy(c => c.Beam).ThenBy(c => c.Token))
                {
                    var attention = new List<double[]>(live[c.Beam].Attention);
                    if (result.Attention != null) attention.Add(result.Attention(row0 + c.Beam));
                    if (c.Token == options.Eos)
                        finished[i].Add(new([.. live[c.Beam].Tokens], c.LogP, [.. attention],
                            Normalise(c.LogP, live[c.Beam].Tokens.Count + 1), Ended: true));
                    else
                    {
                        kept.Add(new([.. live[c.Beam].Tokens, c.Token], c.LogP, attention));
                        order.Add(row0 + c.Beam);
                    }
                    if (kept.Count == width) break;
                }
                row0 += live.Count;
                beams[i] = kept;
                // done when no live hypothesis can still overtake the best finished one
                bool done = kept.Count == 0 || finished[i].Count >= width
                    || finished[i].Count > 0 && finished[i].Max(f => f.Score) >= kept.Max(b => Math.Max(
                        Normalise(b.LogP, b.Tokens.Count + 1), Normalise(b.LogP, options.MaxLength + 1)));
                if (done) order.RemoveRange(order.Count - kept.Count, kept.Count);
                else stillActive.Add(i);
            }
            active = stillActive;
            if (active.Count == 0) break;
            state = select(result.State, order.ToArray());
        }
        // hypotheses still live (at the length limit, or stopped early) compete with the finished ones
        return Enumerable.Range(0, count).Select(i => finished[i]
            .Concat(beams[i].Select(b => new DecodedSequence([.. b.Tokens], b.LogP, [.. b.Attention],
                Normalise(b.LogP, b.Tokens.Count))))
            .OrderByDescending(f => f.Score).ToList()).ToList();
    }

    sealed record Hypothesis(List<int> Tokens, double LogP, List<double[]> Attention);
}

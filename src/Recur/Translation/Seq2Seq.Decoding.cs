using Recur.Decoding;
using Recur.Kernels;
using Recur.Text;

namespace Recur.Translation;

/// <summary>Decoding: greedy and beam search over the trained model, without gradients.</summary>
public sealed partial class Seq2Seq
{
    /// <summary>Greedy decoding of a batch (each sentence until <c>&lt;eos&gt;</c> or <paramref name="maxLength"/>
    /// tokens), without gradients.</summary>
    public List<Translated> Greedy(IReadOnlyList<int[]> sources, int maxLength = 50)
    {
        using var _ = this.Evaluating();
        var (encoded, state) = Encode(sources);
        int batch = sources.Count, vocabulary = Config.TargetVocabulary;
        var previous = Enumerable.Repeat(Tokenizers.Bos, batch).ToArray();
        var tokens = Enumerable.Range(0, batch).Select(_ => new List<int>()).ToArray();
        var attention = Enumerable.Range(0, batch).Select(_ => new List<double[]>()).ToArray();
        var logP = new double[batch];
        var done = new bool[batch];
        for (int t = 0; t < maxLength && !done.All(d => d); t++)
        {
            (var top, state, var weights) = Step(encoded, state, previous);
            var scores = Logits(top).ToArray();
            var w = weights?.ToArray();
            for (int b = 0; b < batch; b++)
            {
                if (done[b]) continue;
                var row = scores.AsSpan(b * vocabulary, vocabulary);
                Scores.LogSoftmax(row);
                int next = Scores.ArgMax(row);
                logP[b] += row[next];
                if (w != null)
                    attention[b].Add(Enumerable.Range(0, encoded.Lengths[b]).Select(s => (double)w[s * batch + b])
                        .ToArray());
                if (next == Tokenizers.Eos) { done[b] = true; continue; }
                tokens[b].Add(next);
                previous[b] = next;
            }
        }
        return Enumerable.Range(0, batch).Select(b => new Translated([.. tokens[b]], logP[b], [.. attention[b]]))
            .ToList();
    }

    /// <summary>Beam search for one source sentence; see
    /// <see cref="BeamSearch(IReadOnlyList{int[]}, int, int, double)"/>.</summary>
    public Translated BeamSearch(int[] source, int beamWidth = 5, int maxLength = 50, double lengthPenalty = 0.6) =>
        BeamSearch([source], beamWidth, maxLength, lengthPenalty)[0];

    /// <summary>
    /// Beam search of width <paramref name="beamWidth"/> for a batch of source sentences, every live hypothesis of
    /// every sentence advanced by one decoder step together: hypotheses end at <c>&lt;eos&gt;</c> or at
    /// <paramref name="maxLength"/> tokens and are ranked by log P / ((5 + n)/6)^α (Wu et al. 2016), n counting the end
    /// token. A sentence stops when it has <paramref name="beamWidth"/> finished hypotheses or none of its live ones
    /// can overtake its best finished one. Width 1 is greedy decoding. Returns each sentence's best translation.
    /// </summary>
    public List<Translated> BeamSearch(IReadOnlyList<int[]> sources, int beamWidth = 5, int maxLength = 50,
        double lengthPenalty = 0.6)
    {
        using var _ = this.Evaluating();
        var (all, initial) = Encode(sources);
        DecoderStep<DecoderState> Advance(int[] rowSentence, int[] previous, DecoderState state)
        {
            int rows = rowSentence.Length;
            var encoded = all with
            {
                Outputs = all.Outputs.IndexSelect(1, rowSentence),
                Keys = all.Keys?.IndexSelect(1, rowSentence),
                Penalty = all.Penalty.IndexSelect(1, rowSentence),
                Batch = rows,
                Lengths = rowSentence.Select(i => all.Lengths[i]).ToArray(),
            };
            var (top, next, weights) = Step(encoded, state, previous);
            var w = weights?.ToArray();
            return new(Logits(top).ToArray(), w == null ? null
                : row => Enumerable.Range(0, encoded.Lengths[row]).Select(s => (double)w[s * rows + row]).ToArray(),
                next);
        }
        static DecoderState Select(DecoderState state, int[] rows) => new(
            state.Hidden.Select(h => h.IndexSelect(0, rows)).ToArray(),
            state.Cell.Select(c => c?.IndexSelect(0, rows)).ToArray(), state.Feed?.IndexSelect(0, rows));
        return Decoding.BeamSearch.Run(sources.Count, initial, Advance, Select,
                new BeamOptions(Config.TargetVocabulary, Tokenizers.Bos, Tokenizers.Eos, beamWidth, maxLength,
                    lengthPenalty))
            .Select(d => new Translated(d.Tokens, d.LogProbability, d.Attention)).ToList();
    }
}

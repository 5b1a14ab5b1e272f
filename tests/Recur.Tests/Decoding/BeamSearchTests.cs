using Recur.Decoding;

namespace Recur.Tests.Decoding;

public sealed class BeamSearchTests
{
    // tokens: 0 pad, 1 <bos>, 2 <eos>, 3 "a", 4 "b"; a first-order model whose state is the previous token
    static readonly Dictionary<int, double[]> Next = new()
    {
        [1] = [0, 0, 0, 0.6, 0.4],
        [3] = [0, 0, 0.4, 0.3, 0.3],
        [4] = [0, 0, 0.9, 0.1, 0],
    };

    static List<DecodedSequence> Decode(int width, double lengthPenalty = 0, int inputs = 1)
    {
        var calls = new List<int>();
        DecoderStep<int[]> Step(int[] rowItems, int[] previous, int[] state)
        {
            // the selected state rows (the token fed at the step before) follow their hypotheses: b is never
            // followed by b, and every row's token is a possible successor of its state's
            for (int r = 0; r < previous.Length; r++)
                Assert.True(state[r] == 0 || Next[state[r]][previous[r]] > 0, $"row {r}: {state[r]} → {previous[r]}");
            calls.Add(rowItems.Length);
            var logits = previous.SelectMany(p => Next[p].Select(q => (float)Math.Log(q + 1e-12))).ToArray();
            return new(logits, row => [previous[row]], previous);
        }
        return BeamSearch.Run(inputs, new int[inputs], Step,
            (state, rows) => rows.Select(r => state[r]).ToArray(), new BeamOptions(5, 1, 2, width, 6, lengthPenalty));
    }

    [Fact]
    public void WidthOneIsGreedyAndAWiderBeamFindsTheMoreProbableSequence()
    {
        var greedy = Decode(1)[0];
        Assert.Equal([3], greedy.Tokens); // a (0.6), then <eos> (0.4): P = 0.24
        Assert.Equal(Math.Log(0.24), greedy.LogProbability, 5);
        var beam = Decode(2)[0];
        Assert.Equal([4], beam.Tokens); // b (0.4), then <eos> (0.9): P = 0.36
        Assert.Equal(Math.Log(0.36), beam.LogProbability, 5);
        // the attention reported at each step is the row's own, the end step included
        Assert.Equal([[1.0], [4.0]], beam.Attention);
    }

    [Fact]
    public void InputsAreSearchedTogetherAndIndependently()
    {
        var results = Decode(2, inputs: 3);
        Assert.All(results, r => Assert.Equal([4], r.Tokens));
    }

    [Fact]
    public void InvalidSettingsAreRefused()
    {
        var error = Assert.Throws<ArgumentException>(() => Decode(0));
        Assert.Contains("width", error.Message);
    }
}

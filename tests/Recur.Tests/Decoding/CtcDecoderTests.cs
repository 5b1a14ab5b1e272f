using Recur.Decoding;

namespace Recur.Tests.Decoding;

public sealed class CtcDecoderTests
{
    static float[] Log(double[,] probabilities) =>
        Enumerable.Range(0, probabilities.GetLength(0)).SelectMany(t => Enumerable.Range(0, probabilities.GetLength(1))
            .Select(k => (float)Math.Log(probabilities[t, k]))).ToArray();

    [Fact]
    public void GreedyCollapsesRepeatsAndDropsBlanks()
    {
        // best path: 1 1 0 1 2 2 0 → labels 1 1 2
        var lp = Log(new double[,]
        {
            { 0.1, 0.8, 0.1 }, { 0.2, 0.7, 0.1 }, { 0.6, 0.3, 0.1 }, { 0.1, 0.8, 0.1 }, { 0.1, 0.1, 0.8 }, { 0.2, 0.1,
                0.7 }, { 0.9, 0.05, 0.05 },
        });
        var result = CtcDecoder.Greedy(lp, 7, 3);
        Assert.Equal([1, 1, 2], result.Labels);
        Assert.Equal(Math.Log(0.8 * 0.7 * 0.6 * 0.8 * 0.8 * 0.7 * 0.9), result.LogProbability, 5);
    }

    [Fact]
    public void BeamSearchFindsTheLabellingWhosePathsTogetherBeatTheBestPath()
    {
        // two steps: the best single path is blank·blank (0.36, empty labelling), but the paths of "1"
        // (1·1, 1·blank, blank·1: 0.16 + 0.24 + 0.24 = 0.64) together are more probable
        var lp = Log(new double[,] { { 0.6, 0.4 }, { 0.6, 0.4 } });
        Assert.Empty(CtcDecoder.Greedy(lp, 2, 2).Labels);
        var beam = CtcDecoder.Beam(lp, 2, 2, beamWidth: 4);
        Assert.Equal([1], beam[0].Labels);
        Assert.Equal(Math.Log(0.64), beam[0].LogProbability, 5);
        Assert.Equal(Math.Log(0.36), beam.Single(h => h.Labels.Length == 0).LogProbability, 5);
    }

    [Fact]
    public void BeamProbabilitiesAgreeWithTheCtcLoss()
    {
        var logits = Tensor.RandomNormal(new RandomGenerator(2), [6, 1, 4]);
        var logProbs = logits.LogSoftmax(2);
        foreach (var hypothesis in CtcDecoder.Beam(logProbs.Span, 6, 4, beamWidth: 1100).Take(5))
        {
            // 1,100 ≥ every prefix of 6 steps over 3 labels: nothing is pruned, so each is exactly −CTC loss
            double loss = Losses.Ctc(logProbs, [hypothesis.Labels], [6], reduction: LossReduction.Sum).Item();
            Assert.Equal(-loss, hypothesis.LogProbability, 4);
        }
    }

    [Fact]
    public void ErrorRatesCountSubstitutionsInsertionsAndDeletions()
    {
        Assert.Equal(3, ErrorRates.EditDistance("kitten".ToCharArray(), "sitting".ToCharArray()));
        Assert.Equal(0, ErrorRates.EditDistance(Array.Empty<char>(), Array.Empty<char>()));
        // "one two three" → "one too three four": one substitution and one insertion over 3 reference words
        Assert.Equal(2.0 / 3, ErrorRates.WordErrorRate(["one two three"], ["one too three four"]), 12);
        // corpus CER: (1 + 2) / (3 + 4)
        Assert.Equal(3.0 / 7, ErrorRates.CharacterErrorRate(["abc", "abcd"], ["abd", "ab"]), 12);
        Assert.Throws<ArgumentException>(() => ErrorRates.WordErrorRate(["a"], []));
    }
}

using Recur.Decoding;

namespace Recur.Tests.Decoding;

public sealed class LabelNgramTests
{
    static readonly int[][] Words = [[1, 2, 3], [1, 2, 3], [1, 4], [2, 3]];

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    public void NextLabelProbabilitiesSumToOneForAnyHistory(int order)
    {
        var model = LabelNgram.Train(Words, order, vocabulary: 5);
        foreach (int[] history in new[] { Array.Empty<int>(), [1], [1, 2], [4, 4, 0], [3, 2, 1, 0] })
        {
            double sum = Math.Exp(model.LogProbability(history, LabelNgram.End));
            for (int label = 0; label < 5; label++) sum += Math.Exp(model.LogProbability(history, label));
            Assert.Equal(1.0, sum, 10);
        }
    }

    [Fact]
    public void LearnsWhatFollowsWhatAndWhereSequencesEnd()
    {
        var model = LabelNgram.Train(Words, 3, vocabulary: 5);
        Assert.True(model.LogProbability([1], 2) > model.LogProbability([1], 3));
        Assert.True(model.LogProbability([1, 2, 3], LabelNgram.End) > Math.Log(0.5));
        Assert.True(model.LogProbability([1, 2], LabelNgram.End) < model.LogProbability([1, 2], 3));
        Assert.True(double.IsFinite(model.LogProbability([0, 0], 0))); // unseen, still possible
        Assert.Throws<ArgumentException>(() => model.LogProbability([], 5));
        Assert.Throws<ArgumentException>(() => LabelNgram.Train([[7]], 2, 5));
    }

    [Fact]
    public void TheFileKeepsTheFormatOfEarlierVersions()
    {
        // what Recur wrote before the file became a typed record: contexts and labels in ordinal order
        const string earlier = "{\"format\":\"recur-label-ngram\",\"order\":2,\"vocabulary\":2,\"counts\":"
            + "{\"\":{\"-1\":1,\"0\":1,\"1\":1},\"-2\":{\"0\":1},\"0\":{\"1\":1},\"1\":{\"-1\":1}}}";
        string path = Path.Combine(Path.GetTempPath(), $"recur-ngram-{Guid.NewGuid():N}.json");
        try
        {
            var model = LabelNgram.Train([[0, 1]], 2, vocabulary: 2);
            model.Save(path);
            Assert.Equal(earlier, File.ReadAllText(path));
            File.WriteAllText(path, earlier);
            var loaded = LabelNgram.Load(path);
            Assert.Equal(model.LogProbability([0], 1), loaded.LogProbability([0], 1));
            File.WriteAllText(path, earlier.Replace("\"order\":2", "\"order\":\"two\"", StringComparison.Ordinal));
            var error = Assert.Throws<InvalidDataException>(() => LabelNgram.Load(path)).Message;
            Assert.Contains(path, error);
            Assert.Contains("'order'", error);
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void SavesAndLoadsTheSameModel()
    {
        string path = Path.Combine(Path.GetTempPath(), $"recur-ngram-{Guid.NewGuid():N}.json");
        try
        {
            var model = LabelNgram.Train(Words, 4, vocabulary: 5);
            model.Save(path);
            var loaded = LabelNgram.Load(path);
            Assert.Equal(model.LogProbability([1, 2], 3), loaded.LogProbability([1, 2], 3));
            Assert.Equal(model.LogProbability([4], LabelNgram.End), loaded.LogProbability([4], LabelNgram.End));
            File.WriteAllText(path, "{\"format\": \"something else\"}");
            Assert.Contains(path, Assert.Throws<InvalidDataException>(() => LabelNgram.Load(path)).Message);
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void ShallowFusionOverrulesAWeakAcousticPreference()
    {
        // three frames: label 1 slightly ahead of label 2 in the middle one, blanks around it
        float[] probabilities = [0.9f, 0.05f, 0.05f, 0.1f, 0.47f, 0.43f, 0.9f, 0.05f, 0.05f];
        var logProbs = probabilities.Select(p => MathF.Log(p)).ToArray();
        Assert.Equal([1], CtcDecoder.Beam(logProbs, 3, 3, 4)[0].Labels);
        var lm = LabelNgram.Train([[2], [2], [2]], 2, vocabulary: 3);
        var fused = CtcDecoder.Beam(logProbs, 3, 3, 4, fusion: new LanguageModelFusion(lm, Weight: 1.0));
        Assert.Equal([2], fused[0].Labels);
        // weight 0 is the plain beam
        Assert.Equal([1], CtcDecoder.Beam(logProbs, 3, 3, 4, fusion: new LanguageModelFusion(lm, 0))[0].Labels);
    }
}

using Recur.Nn;

namespace Recur.Tests.Nn;

public sealed class RaggedBatchTests
{
    [Fact]
    public void PadsTimeMajorWithZerosPastEachLength()
    {
        var (ids, lengths, steps) = RaggedBatch.TimeMajor([[5, 6, 7], [8], [9, 4]], 10, "test");
        Assert.Equal(3, steps);
        Assert.Equal([3, 1, 2], lengths);
        Assert.Equal([5, 8, 9, 6, 0, 4, 7, 0, 0], ids); // t = 0: 5 8 9; t = 1: 6 pad 4; t = 2: 7 pad pad
    }

    [Fact]
    public void RefusesEmptyBatchesEmptySequencesAndIdsOutsideTheVocabularyNamingThem()
    {
        Assert.Contains("an empty batch", Assert.Throws<ArgumentException>(() => RaggedBatch.TimeMajor([], 10,
            "M")).Message);
        Assert.Contains("sequence 1 of the batch has no tokens",
            Assert.Throws<ArgumentException>(() => RaggedBatch.TimeMajor([[1], []], 10, "M")).Message);
        var e = Assert.Throws<ArgumentException>(() => RaggedBatch.TimeMajor([[1, 10]], 10, "Model"));
        Assert.Equal("Model: token id 10 in sequence 0 is outside the vocabulary of 10.", e.Message);
        Assert.Throws<ArgumentException>(() => RaggedBatch.TimeMajor([[-1]], 10, "Model"));
    }
}

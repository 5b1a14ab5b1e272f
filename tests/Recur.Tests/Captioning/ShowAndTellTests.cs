using Recur.Autograd;
using Recur.Captioning;

namespace Recur.Tests.Captioning;

public sealed class ShowAndTellTests
{
    [Fact]
    public void TheLossPassesAFiniteDifferenceCheckThroughDecoderAndConvolutions()
    {
        var model = new ShowAndTell(new ShowAndTellConfig(6, Height: 8, Width: 16, Channels: 2, HiddenSize: 4,
            EmbeddingSize: 3), new RandomGenerator(1));
        var images = Tensor.RandomUniform(new RandomGenerator(2), [2, 1, 8, 16]);
        int[][] captions = [[3, 4, 5], [5]];
        var result = GradientCheck.Compare(() => model.Loss(images, captions), model.Parameters().ToList(),
            epsilon: 1e-3);
        Assert.True(result.Passed, $"error {result.MaxError:G3}× tolerance at {result.Where}");
        Assert.Throws<ArgumentException>(() => model.Loss(Tensor.Zeros(2, 1, 8, 15), captions));
    }
}

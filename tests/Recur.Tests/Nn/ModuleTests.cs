using Recur.Autograd;
using Recur.Nn;

namespace Recur.Tests.Nn;

public sealed class ModuleTests
{
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void EvaluatingRestoresTheModeAndGradientRecordingEvenAfterAnException(bool startTraining)
    {
        var model = new Linear(3, 2, new RandomGenerator(1));
        model.Train(startTraining);
        void Fail()
        {
            using var _ = model.Evaluating();
            Assert.False(model.Training);
            Assert.False(GradMode.IsEnabled);
            throw new InvalidOperationException("inside");
        }
        Assert.Throws<InvalidOperationException>(Fail);
        Assert.Equal(startTraining, model.Training);
        Assert.True(GradMode.IsEnabled);
        using (model.Evaluating(gradients: true))
        {
            Assert.False(model.Training);
            Assert.True(GradMode.IsEnabled); // saliency and gradient-flow analyses need the tape
        }
        Assert.Equal(startTraining, model.Training);
    }
}

using System.Text.Json;
using Recur.Autograd;
using Recur.Tests.Fixtures;

namespace Recur.Tests.Autograd;

/// <summary>
/// The likelihood losses: PyTorch parity (Fixtures/make_likelihood_fixtures.py: gaussian_nll_loss and the log-densities
/// of torch.distributions), finite differences, and clear errors for parameters outside their domain.
/// </summary>
public sealed class LikelihoodTests
{
    static readonly JsonElement Cases = PyTorchFixture.Read("likelihoods_pytorch.json").Root.GetProperty("cases");

    public static TheoryData<string> Names()
    {
        var data = new TheoryData<string>();
        foreach (var c in Cases.EnumerateArray()) data.Add(c.GetProperty("name").GetString()!);
        return data;
    }

    [Theory]
    [MemberData(nameof(Names))]
    public void MatchesPyTorch(string name)
    {
        var c = Cases.EnumerateArray().First(x => x.GetProperty("name").GetString() == name);
        int[] shape = PyTorchFixture.Ints(c.GetProperty("shape"));
        var inputs = c.GetProperty("inputs");
        Tensor Input(string key) => Tensor.FromArray(PyTorchFixture.Floats(inputs.GetProperty(key)), shape);
        float[]? weights = c.GetProperty("weights").ValueKind == JsonValueKind.Null ? null
            : PyTorchFixture.Floats(c.GetProperty("weights"));
        var named = new Dictionary<string, Tensor>();
        Func<Tensor> loss = c.GetProperty("kind").GetString() switch
        {
            "gaussian" => () => Losses.GaussianNll(named["input"], named["target"], named["variance"],
                c.GetProperty("full").GetBoolean(), (float)c.GetProperty("eps").GetDouble(), weights),
            "student_t" => () => Losses.StudentTNll(named["location"], named["scale"], named["degrees_of_freedom"],
                named["target"], weights),
            _ => () => Losses.NegativeBinomialNll(named["mean"], named["dispersion"], named["target"], weights),
        };
        foreach (var input in inputs.EnumerateObject()) named[input.Name] = Input(input.Name);
        var grads = c.GetProperty("grads");
        foreach (var g in grads.EnumerateObject()) named[g.Name].RequiresGrad = true;
        var value = loss();
        Assert.Equal(c.GetProperty("loss").GetDouble(), value.Item(), 4);
        value.Backward();
        foreach (var g in grads.EnumerateObject())
            Close.Values(PyTorchFixture.Floats(g.Value), named[g.Name].Grad!.ToArray(), $"{name}: ∂/∂{g.Name}",
                Close.ParityTolerance, 1e-4);
    }

    static Tensor Uniform(ulong seed, float low, float high, params int[] shape) =>
        GradientCheckTests.Uniform(seed, low, high, shape);

    static void Check(Func<Tensor> function, params Tensor[] inputs) => GradientCheckTests.Check(function, inputs);

    [Fact]
    public void PassFiniteDifferences()
    {
        var x = Uniform(1, -2f, 2f, 3, 4);
        var t = Uniform(2, -2f, 2f, 3, 4);
        var variance = Uniform(3, 0.5f, 2f, 3, 4);
        float[] weights = [.. Enumerable.Range(0, 12).Select(i => i % 3 == 0 ? 0f : 0.5f + i / 12f)];
        Check(() => Losses.GaussianNll(x, t, variance, full: true), x, t, variance);
        Check(() => Losses.GaussianNll(x, t, variance, mask: weights), x, t, variance);
        var scale = Uniform(4, 0.5f, 2f, 3, 4);
        var dof = Uniform(5, 1f, 8f, 3, 4);
        Check(() => Losses.StudentTNll(x, scale, dof, t), x, scale, dof, t);
        Check(() => Losses.StudentTNll(x, scale, dof, t, weights), x, scale, dof, t);
        var mean = Uniform(6, 1f, 20f, 3, 4);
        var dispersion = Uniform(7, 0.2f, 1.5f, 3, 4);
        var counts = Tensor.FromArray([.. Enumerable.Range(0, 12).Select(i => (float)(i * 7 % 23))], 3, 4);
        Check(() => Losses.NegativeBinomialNll(mean, dispersion, counts), mean, dispersion);
        Check(() => Losses.NegativeBinomialNll(mean, dispersion, counts, weights), mean, dispersion);
    }

    [Fact]
    public void StudentTApproachesTheGaussianAndTheNegativeBinomialIsADistribution()
    {
        using var _ = GradMode.NoGrad();
        // ν → ∞: the t density becomes the normal one (full Gaussian NLL with variance σ²)
        var mu = Tensor.FromArray([0.3f, -1f], 2);
        var sigma = Tensor.FromArray([0.7f, 2f], 2);
        var z = Tensor.FromArray([1.1f, 0.5f], 2);
        float t = Losses.StudentTNll(mu, sigma, Tensor.FromArray([1e6f, 1e6f], 2), z).Item();
        float gaussian = Losses.GaussianNll(mu, z, sigma * sigma, full: true).Item();
        Assert.Equal(gaussian, t, 4);
        // the probabilities of the counts 0 … 400 add up to 1, and their mean is μ
        const float m = 6.5f, alpha = 0.4f;
        double total = 0, first = 0;
        for (int k = 0; k <= 400; k++)
        {
            double p = Math.Exp(-Losses.NegativeBinomialNll(Tensor.FromArray([m], 1), Tensor.FromArray([alpha], 1),
                Tensor.FromArray([(float)k], 1)).Item());
            total += p;
            first += k * p;
        }
        Assert.Equal(1, total, 4);
        Assert.Equal(m, first, 3);
    }

    [Fact]
    public void ParametersOutsideTheirDomainAreNamed()
    {
        var one = Tensor.FromArray([1f, 1f], 2);
        var bad = Tensor.FromArray([1f, -0.5f], 2);
        var e = Assert.Throws<ArgumentException>(() => Losses.StudentTNll(one, bad, one, one));
        Assert.Contains("scale -0.5 at element 1 of [2]", e.Message);
        e = Assert.Throws<ArgumentException>(() => Losses.NegativeBinomialNll(one, one, bad));
        Assert.Contains("target -0.5 at element 1", e.Message);
        e = Assert.Throws<ArgumentException>(() => Losses.GaussianNll(one, one, bad));
        Assert.Contains("variance -0.5", e.Message);
        e = Assert.Throws<ArgumentException>(() => Losses.GaussianNll(one, Tensor.FromArray([1f], 1), one));
        Assert.Contains("target [1] and input [2] differ", e.Message);
        Assert.Throws<ArgumentException>(() => Losses.GaussianNll(one, one, one, mask: [1f]));
    }
}

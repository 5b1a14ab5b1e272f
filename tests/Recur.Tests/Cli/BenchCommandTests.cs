using Recur.Cli;

namespace Recur.Tests.Cli;

/// <summary>The bench verbs' argument checks (their timings belong to benchmark runs, not to tests).</summary>
[Collection("cli")]
public sealed class BenchCommandTests
{
    [Fact]
    public void ConvRefusesZeroRoundsBeforeTimingAnything()
    {
        var error = new StringWriter();
        var previous = Console.Error;
        Console.SetError(error);
        try { Assert.Equal(2, RecurCommand.Run("bench", "conv", "--rounds", "0")); }
        finally { Console.SetError(previous); }
        Assert.True(error.ToString().Contains("--rounds must be a positive number"), $"stderr: [{error}]");
    }

    [Theory]
    [InlineData("--tokens", "0")]
    [InlineData("--hidden", "0")]
    [InlineData("--layers", "-1")]
    public void GenerateRefusesSizesBelowOneBeforeTimingAnything(string option, string value)
    {
        var error = new StringWriter();
        var previous = Console.Error;
        Console.SetError(error);
        try { Assert.Equal(2, RecurCommand.Run("bench", "generate", option, value)); }
        finally { Console.SetError(previous); }
        Assert.True(error.ToString().Contains("positive"), $"stderr: [{error}]");
    }

    [Fact]
    public void TheStreamingBandwidthIsMeasuredOverEveryThreadsShare()
    {
        // odd sizes are rounded to whole vectors; every thread's passes count (a real machine reads > 0.1 GB/s)
        double bandwidth = Recur.Cli.Bench.WeightStreaming.Bandwidth(100_003, 2, seconds: 0.05);
        Assert.True(double.IsFinite(bandwidth) && bandwidth > 1e8, $"bandwidth {bandwidth}");
    }

    [Theory]
    [InlineData(25, 17, "Zen 4")] // EPYC 9004 (Genoa)
    [InlineData(25, 1, "Zen 3")]  // EPYC 7003 (Milan)
    [InlineData(26, 2, "Zen 5")]  // EPYC 9005 (Turin)
    [InlineData(6, 85, null)]     // not an AMD family
    public void TheCpuLineNamesTheZenGenerationOfAnAmdFamilyAndModel(int family, int model, string? expected) =>
        Assert.Equal(expected, Recur.Cli.Bench.RnnBench.ZenGeneration(family, model));

    [Fact]
    public void TheCpuLineCarriesFamilyAndModelWhereTheKernelReportsThem()
    {
        string cpu = Recur.Cli.Bench.RnnBench.CpuModel();
        Assert.False(string.IsNullOrWhiteSpace(cpu));
        if (File.Exists("/proc/cpuinfo") && File.ReadLines("/proc/cpuinfo").Any(l => l.StartsWith("cpu family")))
            Assert.Contains("family ", cpu);
    }

    [Fact]
    public void RoundsCombineAsTheMedianOfTheirMediansAndTheOuterSpread()
    {
        var rounds = new[]
        {
            new Recur.Cli.Bench.Timing(2.0, 1.5, 2.5, 5), new Recur.Cli.Bench.Timing(9.0, 1.9, 9.5, 5),
            new Recur.Cli.Bench.Timing(3.0, 2.9, 3.1, 7),
        };
        Assert.Equal(new Recur.Cli.Bench.Timing(3.0, 1.5, 9.5, 17), Recur.Cli.Bench.Timing.Combine(rounds));
        // an even number of rounds: the mean of the middle two medians (1, 2, 3, 9 → 2.5)
        Assert.Equal(2.5, Recur.Cli.Bench.Timing.Combine([.. rounds, new Recur.Cli.Bench.Timing(1.0, 1.0, 1.0, 1)])
            .Median);
    }
}

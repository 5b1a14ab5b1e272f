// guide:begin
using Recur;
using Recur.Forecasting;

namespace Forecasting;

public static class Example
{
    /// <summary>Returns the mean sMAPE of the global network, of ES-RNN and of Theta on the held-out quarters, and the
    /// share of them inside DeepAR's 95% intervals.</summary>
    public static (double Network, double EsRnn, double Theta, double DeepArCoverage) Run(TextWriter output)
    {
        // 60 quarterly series of different scales, growth rates and seasonal shapes; the last 4 quarters held out
        var random = new RandomGenerator(7);
        var series = Enumerable.Range(0, 60).Select(_ =>
        {
            double scale = Math.Pow(10, 1 + 3 * random.NextDouble()), growth = 0.005 + 0.03 * random.NextDouble();
            double amplitude = 0.25 * random.NextDouble();
            return Enumerable.Range(0, 32).Select(t => scale * Math.Exp(growth * t)
                * (1 + amplitude * Math.Cos(Math.PI / 2 * t)) * (1 + 0.02 * random.NextNormal())).ToArray();
        }).ToList();
        var train = series.Select(s => s[..^4]).ToList();
        var actual = series.Select(s => s[^4..]).ToList();

        // classical methods, one series at a time: ETS chosen by AICc, and Theta with a 95% interval
        var ets = ExponentialSmoothing.Auto(train[0], seasonLength: 4);
        var theta = ThetaMethod.Fit(train[0], seasonLength: 4);
        var interval = theta.Interval(4, coverage: 0.95);
        output.WriteLine($"series 0: {ets.Model.Name} forecasts {ets.Forecast(4)[0]:F1}, "
            + $"Theta {theta.Forecast(4)[0]:F1} in [{interval.Lower[0]:F1}, {interval.Upper[0]:F1}], "
            + $"actual {actual[0][0]:F1}");

        // one recurrent network across all series, correcting Theta's forecast of each window
        var network = new GlobalForecaster(new GlobalForecasterOptions(Horizon: 4, Window: 12, SeasonLength: 4,
            HiddenSize: 24, Epochs: 15));
        network.Fit(train);
        var forecasts = network.Forecast(train);

        double Smape(double[] a, double[] f) => a.Select((v, i) => 200 * Math.Abs(f[i] - v) / (v + f[i])).Average();
        double networkSmape = series.Select((_, i) => Smape(actual[i], forecasts[i])).Average();
        double thetaSmape = series.Select((_, i) => Smape(actual[i], ThetaMethod.Fit(train[i], 4).Forecast(4)))
            .Average();
        output.WriteLine($"mean sMAPE over {series.Count} series: network {networkSmape:F2}%, Theta {thetaSmape:F2}%");

        // ES-RNN: each series' Holt–Winters level and seasonality, learned with one LSTM shared by all
        var esRnn = new EsRnnForecaster(new EsRnnOptions(Horizon: 4, Window: 8, SeasonLength: 4, HiddenSize: 24,
            Epochs: 15, LearningRate: 3e-3f, Batch: 10));
        esRnn.Fit(train);
        var smoothed = esRnn.Forecast(train);
        double esRnnSmape = series.Select((_, i) => Smape(actual[i], smoothed[i])).Average();
        var (alpha, gamma, _) = esRnn.Smoothing(0);
        output.WriteLine($"ES-RNN: mean sMAPE {esRnnSmape:F2}%; series 0 learned α = {alpha:F2}, γ = {gamma:F2}");

        // DeepAR: an autoregressive LSTM with a Gaussian head; its sampled paths give a median and a 95% interval
        var deepAr = new DeepArForecaster(new DeepArOptions(Horizon: 4, Context: 8, SeasonLength: 4, HiddenSize: 24,
            NumLayers: 1, Epochs: 15, Samples: 200));
        deepAr.Fit(train);
        var (_, intervals) = deepAr.ForecastWithIntervals(train);
        double coverage = series.Select((_, i) => IntervalScore.Compute(actual[i], intervals[i], train[i], 4).Coverage)
            .Average();
        output.WriteLine($"DeepAR's 95% intervals hold {100 * coverage:F0}% of the held-out quarters");
        return (networkSmape, esRnnSmape, thetaSmape, coverage);
    }
}
// guide:end

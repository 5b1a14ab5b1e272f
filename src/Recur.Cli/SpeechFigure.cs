using Recur.Figures;
using Recur.Speech;

namespace Recur.Cli;

/// <summary>The spectrogram of an utterance with the recogniser's character probabilities over time under it.</summary>
static class SpeechFigure
{
    public static FigureFiles Draw(string basePath, string name, float[,] features, double secondsPerFrame,
        float[][] probabilities, SpeechAlphabet alphabet, string transcript)
    {
        int frames = features.GetLength(0), bands = features.GetLength(1);
        var spectrogram = new double[bands, frames];
        for (int t = 0; t < frames; t++)
            for (int m = 0; m < bands; m++) spectrogram[bands - 1 - m, t] = features[t, m];
        // the recurrent layers see fewer frames than the features have (the convolutions stride in time)
        double secondsPerStep = secondsPerFrame * frames / Math.Max(1, probabilities.Length);
        return Charts.SpectrogramWithLines(basePath, $"{name}: \"{transcript}\"", spectrogram, secondsPerFrame,
            Lines(probabilities, alphabet, secondsPerStep), Marks(probabilities, alphabet, secondsPerStep));
    }

    static IEnumerable<Series> Lines(float[][] probabilities, SpeechAlphabet alphabet, double secondsPerStep)
    {
        var x = Enumerable.Range(0, probabilities.Length).Select(t => (t + 0.5) * secondsPerStep).ToArray();
        yield return new("blank", x, probabilities.Select(p => (double)p[SpeechAlphabet.Blank]).ToArray());
        for (int c = 1; c < alphabet.Classes; c++)
            if (probabilities.Any(p => p[c] > 0.1f))
                yield return new(alphabet.Characters[c - 1] == ' ' ? "space" : alphabet.Characters[c - 1].ToString(),
                    x, probabilities.Select(p => (double)p[c]).ToArray());
    }

    /// <summary>The character at each step where it is the most likely class (where CTC emits it).</summary>
    static IEnumerable<(double, double, string)> Marks(float[][] probabilities, SpeechAlphabet alphabet,
        double secondsPerStep)
    {
        for (int t = 0; t < probabilities.Length; t++)
        {
            int best = Array.IndexOf(probabilities[t], probabilities[t].Max());
            if (best == SpeechAlphabet.Blank || t > 0 && Array.IndexOf(probabilities[t - 1],
                probabilities[t - 1].Max()) == best) continue;
            char c = alphabet.Characters[best - 1];
            yield return ((t + 0.5) * secondsPerStep, probabilities[t][best], c == ' ' ? "␣" : c.ToString());
        }
    }
}

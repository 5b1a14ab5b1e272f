using System.Globalization;
using Recur.Data;

namespace Recur.Speech;

/// <summary>One recording of the Free Spoken Digit Dataset.</summary>
/// <param name="Path">The WAV file.</param>
/// <param name="Digit">The digit spoken, 0–9.</param>
/// <param name="Speaker">The speaker's name as in the file name.</param>
/// <param name="Take">The take number (0–49).</param>
public sealed record DigitRecording(string Path, int Digit, string Speaker, int Take)
{
    /// <summary>The transcript: the digit's English word.</summary>
    public string Transcript => SpokenDigits.Words[Digit];
}

/// <summary>How recordings are split into training and test sets.</summary>
public enum SpeechSplit
{
    /// <summary>The dataset's own split: takes 0–4 of every speaker are the test set, the rest training.</summary>
    Official,
    /// <summary>Speaker-independent: the test speakers' recordings are the test set, everyone else's
    /// training.</summary>
    Speaker,
}

/// <summary>
/// The Free Spoken Digit Dataset (<c>recordings/{digit}_{speaker}_{take}.wav</c>, 8 kHz mono): listing, splits and
/// connected-digit utterances made from its recordings.
/// </summary>
public static class SpokenDigits
{
    /// <summary>The words of the digits 0–9.</summary>
    public static IReadOnlyList<string> Words { get; } =
        ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"];

    /// <summary>
    /// The recordings under <paramref name="folder"/> (the dataset's root, or its <c>recordings</c> folder), sorted by
    /// name. A WAV file whose name does not follow <c>{digit}_{speaker}_{take}.wav</c> is an error naming it.
    /// </summary>
    public static IReadOnlyList<DigitRecording> List(string folder)
    {
        string recordings = Path.Combine(folder, "recordings");
        if (!Directory.Exists(recordings)) recordings = folder;
        if (!Directory.Exists(recordings)) throw new DirectoryNotFoundException($"{folder}: no such folder.");
        var files = Directory.GetFiles(recordings, "*.wav").Order(StringComparer.Ordinal).ToList();
        if (files.Count == 0) throw new InvalidDataException($"{recordings}: no .wav recordings.");
        return files.Select(Parse).ToList();
    }

    static DigitRecording Parse(string path)
    {
        var parts = Path.GetFileNameWithoutExtension(path).Split('_');
        if (parts.Length != 3 || !int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out int digit)
            || digit > 9 || parts[1].Length == 0
            || !int.TryParse(parts[2], NumberStyles.None, CultureInfo.InvariantCulture, out int take))
            throw new InvalidDataException(
                $"{path}: the name is not {{digit}}_{{speaker}}_{{take}}.wav as in the Free Spoken Digit Dataset.");
        return new(path, digit, parts[1], take);
    }

    /// <summary>The speakers in name order.</summary>
    public static IReadOnlyList<string> Speakers(IEnumerable<DigitRecording> recordings) =>
        recordings.Select(r => r.Speaker).Distinct().Order(StringComparer.Ordinal).ToList();

    /// <summary>
    /// Splits <paramref name="recordings"/>: <see cref="SpeechSplit.Official"/> puts takes 0–4 in the test set;
    /// <see cref="SpeechSplit.Speaker"/> puts <paramref name="testSpeakers"/> there (default: the last two speakers in
    /// name order).
    /// </summary>
    public static (IReadOnlyList<DigitRecording> Train, IReadOnlyList<DigitRecording> Test) Split(
        IReadOnlyList<DigitRecording> recordings, SpeechSplit split, IReadOnlyCollection<string>? testSpeakers = null)
    {
        Func<DigitRecording, bool> isTest;
        if (split == SpeechSplit.Official) isTest = r => r.Take < 5;
        else
        {
            var speakers = Speakers(recordings);
            var held = testSpeakers is { Count: > 0 } ? testSpeakers.ToHashSet() : speakers.TakeLast(2).ToHashSet();
            if (held.FirstOrDefault(s => !speakers.Contains(s)) is { } unknown)
                throw new ArgumentException(
                    $"SpokenDigits: no recordings of speaker '{unknown}' (speakers: {string.Join(", ", speakers)}).");
            if (held.Count >= speakers.Count)
                throw new ArgumentException("SpokenDigits: a speaker split needs at least one training speaker.");
            isTest = r => held.Contains(r.Speaker);
        }
        var train = recordings.Where(r => !isTest(r)).ToList();
        var test = recordings.Where(isTest).ToList();
        if (train.Count == 0 || test.Count == 0)
            throw new InvalidDataException($"SpokenDigits: the {split} split leaves {train.Count} training and "
                + $"{test.Count} test recordings.");
        return (train, test);
    }

    /// <summary>Reads a recording as mono samples at <paramref name="sampleRate"/> (resampled when it
    /// differs).</summary>
    public static float[] Read(DigitRecording recording, int sampleRate) => Audio.Load(recording.Path, sampleRate);

    /// <summary>
    /// Connected digits: <paramref name="count"/> utterances, each 2–7 (<paramref name="minDigits"/>–
    /// <paramref name="maxDigits"/>) recordings drawn from <paramref name="pool"/> and joined with gaps of 50–300 ms
    /// of silence, with white noise at a signal-to-noise ratio drawn from 20–40 dB when <paramref name="noise"/> is
    /// set. Deterministic for a given generator state. The transcript is the words separated by spaces.
    /// </summary>
    public static IReadOnlyList<(float[] Signal, string Transcript)> Connected(
        IReadOnlyList<(float[] Signal, int Digit)> pool, int count, int sampleRate, RandomGenerator random,
        int minDigits = 2, int maxDigits = 7, bool noise = true)
    {
        if (pool.Count == 0) throw new ArgumentException("SpokenDigits.Connected: no recordings to join.");
        if (minDigits < 1 || maxDigits < minDigits)
            throw new ArgumentException($"SpokenDigits.Connected: digits {minDigits}–{maxDigits} per utterance.");
        var result = new List<(float[], string)>(count);
        for (int u = 0; u < count; u++)
        {
            int digits = minDigits + random.NextInt(maxDigits - minDigits + 1);
            var parts = new List<float[]>();
            var words = new List<string>();
            for (int d = 0; d < digits; d++)
            {
                var (signal, digit) = pool[random.NextInt(pool.Count)];
                if (d > 0) parts.Add(new float[(int)(sampleRate * (0.05 + 0.25 * random.NextDouble()))]);
                parts.Add(signal);
                words.Add(Words[digit]);
            }
            var joined = parts.SelectMany(p => p).ToArray();
            if (noise) AddNoise(joined, 20 + 20 * random.NextDouble(), random);
            result.Add((joined, string.Join(' ', words)));
        }
        return result;
    }

    /// <summary>Adds Gaussian white noise at <paramref name="snrDb"/> decibels below the signal's mean power.</summary>
    public static void AddNoise(Span<float> signal, double snrDb, RandomGenerator random)
    {
        double power = 0;
        foreach (float s in signal) power += s * s;
        power /= Math.Max(signal.Length, 1);
        float scale = (float)Math.Sqrt(power / Math.Pow(10, snrDb / 10));
        for (int i = 0; i < signal.Length; i++) signal[i] += scale * random.NextNormal();
    }
}

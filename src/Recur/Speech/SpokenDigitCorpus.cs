namespace Recur.Speech;

/// <summary>
/// The Free Spoken Digit Dataset made ready for a <see cref="SpeechRecognizer"/>: the recordings read once (mono, at
/// the
/// model's rate), split into training, validation and test sets, and turned into isolated-digit or connected-digit
/// utterances with their features. Validation is takes 5–9 of the training speakers, so that choosing the epoch never
/// looks at the test set.
/// </summary>
public sealed class SpokenDigitCorpus
{
    readonly Dictionary<string, float[]> signals;

    /// <summary>How features are computed.</summary>
    public SpeechFeatureConfig Features { get; }

    /// <summary>Training recordings.</summary>
    public IReadOnlyList<DigitRecording> Train { get; }

    /// <summary>Validation recordings (takes 5–9 of the training speakers).</summary>
    public IReadOnlyList<DigitRecording> Validation { get; }

    /// <summary>Test recordings of the split.</summary>
    public IReadOnlyList<DigitRecording> Test { get; }

    SpokenDigitCorpus(SpeechFeatureConfig features, IReadOnlyList<DigitRecording> train,
        IReadOnlyList<DigitRecording> validation, IReadOnlyList<DigitRecording> test, Dictionary<string,
            float[]> signals)
    {
        (Features, Train, Validation, Test, this.signals) = (features, train, validation, test, signals);
    }

    /// <summary>
    /// Reads the dataset under <paramref name="folder"/> and splits it (see <see cref="SpokenDigits.Split"/>). A
    /// recording that cannot be read is an error naming the file.
    /// </summary>
    public static SpokenDigitCorpus Load(string folder, SpeechFeatureConfig features, SpeechSplit split,
        IReadOnlyCollection<string>? testSpeakers = null)
    {
        var all = SpokenDigits.List(folder);
        var (train, test) = SpokenDigits.Split(all, split, testSpeakers);
        var validation = train.Where(r => r.Take is >= 5 and <= 9).ToList();
        if (validation.Count == 0 || validation.Count == train.Count)
            throw new InvalidDataException($"{folder}: takes 5–9 (validation) leave {train.Count - validation.Count} "
                + "training recordings.");
        var signals = new Dictionary<string, float[]>(all.Count);
        var loaded = new float[all.Count][];
        Parallel.For(0, all.Count, i => loaded[i] = SpokenDigits.Read(all[i], features.SampleRate));
        for (int i = 0; i < all.Count; i++) signals[all[i].Path] = loaded[i];
        return new(features, train.Except(validation).ToList(), validation, test, signals);
    }

    /// <summary>The samples of a recording of this corpus.</summary>
    public float[] Signal(DigitRecording recording) => signals[recording.Path];

    /// <summary>One utterance per recording: its features and its word.</summary>
    public IReadOnlyList<SpeechExample> Isolated(IReadOnlyList<DigitRecording> recordings)
    {
        var result = new SpeechExample[recordings.Count];
        Parallel.For(0, recordings.Count, i =>
            result[i] = new(Features.Compute(Signal(recordings[i])), recordings[i].Transcript));
        return result;
    }

    /// <summary>
    /// <paramref name="count"/> connected-digit utterances made from <paramref name="recordings"/> (see
    /// <see cref="SpokenDigits.Connected"/>), determined by <paramref name="seed"/>.
    /// </summary>
    public IReadOnlyList<SpeechExample> Connected(IReadOnlyList<DigitRecording> recordings, int count, ulong seed,
        bool noise = true, int minDigits = 2, int maxDigits = 7)
    {
        var pool = recordings.Select(r => (Signal(r), r.Digit)).ToList();
        var utterances = SpokenDigits.Connected(pool, count, Features.SampleRate, new RandomGenerator(seed), minDigits,
            maxDigits, noise);
        var result = new SpeechExample[utterances.Count];
        Parallel.For(0, utterances.Count, i =>
            result[i] = new(Features.Compute(utterances[i].Signal), utterances[i].Transcript));
        return result;
    }
}

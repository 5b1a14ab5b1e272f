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
    readonly System.Collections.Concurrent.ConcurrentDictionary<(string, double), float[]> perturbed = new();

    /// <summary>The speeds of speed perturbation (Ko et al. 2015).</summary>
    public static IReadOnlyList<double> PerturbationSpeeds { get; } = [0.9, 1.0, 1.1];

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

    /// <summary>The same recordings and splits, with features computed by <paramref name="features"/> (of the same
    /// sample rate) — e.g. after <see cref="SpeechFeatureConfig.WithGlobalStatistics"/>.</summary>
    public SpokenDigitCorpus WithFeatures(SpeechFeatureConfig features) => features.SampleRate == Features.SampleRate
        ? new(features, Train, Validation, Test, signals)
        : throw new ArgumentException($"SpokenDigitCorpus: the recordings are at {Features.SampleRate} Hz, the "
            + $"features want {features.SampleRate} Hz.");

    /// <summary>The samples of a recording played <paramref name="speed"/> times as fast (computed once, then
    /// kept).</summary>
    public float[] Signal(DigitRecording recording, double speed) => speed == 1 ? Signal(recording)
        : perturbed.GetOrAdd((recording.Path, speed), _ => Data.Audio.ChangeSpeed(Signal(recording),
            Features.SampleRate, speed));

    /// <summary>
    /// One training utterance per recording, each played at a speed drawn from <see cref="PerturbationSpeeds"/> when
    /// <paramref name="speed"/> is set, with white noise at 20–40 dB below the signal when <paramref name="noise"/> is,
    /// and with <paramref name="crop"/> half of them cut short by up to 15% at each end (recordings trimmed tightly
    /// around the word, as some speakers' are); determined by <paramref name="seed"/> (a new seed each epoch gives new
    /// variants).
    /// </summary>
    public IReadOnlyList<SpeechExample> Perturbed(IReadOnlyList<DigitRecording> recordings, ulong seed,
        bool speed = true, bool noise = false, bool crop = false)
    {
        var random = new RandomGenerator(seed);
        var plans = recordings.Select(r => (Speed: PerturbationSpeeds[random.NextInt(PerturbationSpeeds.Count)],
            Snr: 20 + 20 * random.NextDouble(), Seed: random.NextUInt64(), Crop: random.NextInt(2) == 1,
            Head: 0.15 * random.NextDouble(), Tail: 0.15 * random.NextDouble())).ToArray();
        var result = new SpeechExample[recordings.Count];
        Parallel.For(0, recordings.Count, i =>
        {
            var signal = Signal(recordings[i], speed ? plans[i].Speed : 1.0).ToArray();
            if (crop && plans[i].Crop)
            {
                int head = (int)(plans[i].Head * signal.Length), tail = (int)(plans[i].Tail * signal.Length);
                signal = signal[head..(signal.Length - tail)];
            }
            if (noise) SpokenDigits.AddNoise(signal, plans[i].Snr, new RandomGenerator(plans[i].Seed));
            result[i] = new(Features.Compute(signal), recordings[i].Transcript);
        });
        return result;
    }

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
    /// <see cref="SpokenDigits.Connected"/>), determined by <paramref name="seed"/>; with
    /// <paramref name="speedPerturbation"/> each recording is played at a speed drawn from
    /// <see cref="PerturbationSpeeds"/>.
    /// </summary>
    public IReadOnlyList<SpeechExample> Connected(IReadOnlyList<DigitRecording> recordings, int count, ulong seed,
        bool noise = true, int minDigits = 2, int maxDigits = 7, bool speedPerturbation = false)
    {
        var speeds = new RandomGenerator(seed ^ 0x9E3779B97F4A7C15UL);
        var pool = recordings.Select(r => (Signal(r, speedPerturbation
            ? PerturbationSpeeds[speeds.NextInt(PerturbationSpeeds.Count)] : 1.0), r.Digit)).ToList();
        var utterances = SpokenDigits.Connected(pool, count, Features.SampleRate, new RandomGenerator(seed), minDigits,
            maxDigits, noise);
        var result = new SpeechExample[utterances.Count];
        Parallel.For(0, utterances.Count, i =>
            result[i] = new(Features.Compute(utterances[i].Signal), utterances[i].Transcript));
        return result;
    }
}

using Recur.Data;

namespace Recur.Tasks;

/// <summary>
/// The classic long-dependency benchmarks, generated from a seed: the adding problem, the copy-memory task, the
/// embedded Reber grammar, and sequential / permuted MNIST from the IDX files.
/// </summary>
public static class SyntheticTasks
{
    /// <summary>
    /// Adding problem (Hochreiter &amp; Schmidhuber 1997; Le et al. 2015): each step carries (value ∈ [0, 1), marker);
    /// one marker falls in each half of the sequence; the target is the sum of the two marked values. Predicting
    /// the mean, 1, gives MSE 1/6 ≈ 0.167.
    /// </summary>
    public static SequenceDataset Adding(RandomGenerator random, int length, int count) =>
        MarkedPair(random, length, count, "Adding", (a, b) => a + b);

    /// <summary>Baseline MSE of the adding problem (always answering 1).</summary>
    public const double AddingBaseline = 1.0 / 6.0;

    /// <summary>
    /// Multiplication problem (Hochreiter &amp; Schmidhuber 1997, experiment 5; one of the pathological problems of
    /// Martens &amp; Sutskever 2011): the adding problem's sequences, but the target is the product of the two marked
    /// values. Predicting the mean, 1/4, gives MSE 1/9 − 1/16 = 7/144 ≈ 0.049.
    /// </summary>
    public static SequenceDataset Multiplication(RandomGenerator random, int length, int count) =>
        MarkedPair(random, length, count, "Multiplication", (a, b) => a * b);

    /// <summary>Baseline MSE of the multiplication problem (always answering 1/4).</summary>
    public const double MultiplicationBaseline = 7.0 / 144.0;

    /// <summary>Sequences of (value ∈ [0, 1), marker), one marker in each half; the target combines the two.</summary>
    static SequenceDataset MarkedPair(RandomGenerator random, int length, int count, string name,
        Func<float, float, float> combine)
    {
        if (length < 2 || count < 1)
            throw new ArgumentException($"{name}: need length ≥ 2 and count ≥ 1, got {length}, {count}.");
        var x = new float[count * length * 2];
        var y = new float[count];
        int half = length / 2;
        for (int n = 0; n < count; n++)
        {
            for (int t = 0; t < length; t++) x[(n * length + t) * 2] = random.NextFloat();
            int first = random.NextInt(half), second = half + random.NextInt(length - half);
            x[(n * length + first) * 2 + 1] = 1f;
            x[(n * length + second) * 2 + 1] = 1f;
            y[n] = combine(x[(n * length + first) * 2], x[(n * length + second) * 2]);
        }
        return new SequenceDataset(x, count, length, 2, TargetKind.Regression, 1) { Values = y };
    }

    /// <summary>The input symbols of the temporal-order problems in one-hot order: four distractors, X and Y.</summary>
    public const string TemporalOrderSymbols = "abcdXY";

    /// <summary>
    /// Temporal order (Hochreiter &amp; Schmidhuber 1997, experiment 6, scaled to length T as Martens &amp; Sutskever
    /// 2011 use it): T random distractors from {a, b, c, d}, except that <paramref name="bits"/> (2 or 3) positions
    /// hold X or Y — for two, one in [0.1T, 0.2T) and one in [0.5T, 0.6T); for three, in [0.1T, 0.2T),
    /// [0.33T, 0.43T) and [0.66T, 0.76T), as the original's 10–20, 33–43 and 66–76 of 100. The class (4 or 8) is the
    /// X/Y order, read as binary with X = 0, first symbol most significant. Chance is 1/4 or 1/8.
    /// </summary>
    public static SequenceDataset TemporalOrder(RandomGenerator random, int length, int count, int bits = 2)
    {
        if (bits is not (2 or 3) || length < 10 || count < 1)
            throw new ArgumentException($"TemporalOrder: need 2 or 3 bits, length ≥ 10 and count ≥ 1, got {bits}, "
                + $"{length}, {count}.");
        double[] starts = bits == 2 ? [0.1, 0.5] : [0.1, 0.33, 0.66];
        int k = TemporalOrderSymbols.Length;
        var x = new float[count * length * k];
        var y = new int[count];
        for (int n = 0; n < count; n++)
        {
            var row = new int[length];
            for (int t = 0; t < length; t++) row[t] = random.NextInt(4);
            int label = 0;
            foreach (double start in starts)
            {
                int from = (int)(start * length), span = Math.Max(1, (int)(0.1 * length));
                int bit = random.NextInt(2);
                row[from + random.NextInt(span)] = 4 + bit;
                label = 2 * label + bit;
            }
            for (int t = 0; t < length; t++) x[(n * length + t) * k + row[t]] = 1f;
            y[n] = label;
        }
        return new SequenceDataset(x, count, length, k, TargetKind.ClassLast, 1 << bits) { Labels = y };
    }

    /// <summary>
    /// Copy memory (Arjovsky et al. 2016): 10 symbols from {1..8}, then <paramref name="delay"/>−1 blanks (0), a
    /// delimiter (9) and 10 blanks; the target is blank until the last 10 steps, which must reproduce the symbols.
    /// Inputs are one-hot over 10 categories. The memoryless baseline's cross-entropy is 10·ln 8 / (delay + 20).
    /// </summary>
    public static SequenceDataset Copy(RandomGenerator random, int delay, int count, int symbols = 8,
        int copyLength = 10)
    {
        if (delay < 1 || count < 1 || symbols < 1
            || copyLength < 1) throw new ArgumentException(
            "Copy: delay, count, symbols and copy length must be positive.");
        int steps = delay + 2 * copyLength, categories = symbols + 2, delimiter = symbols + 1;
        var x = new float[count * steps * categories];
        var y = new int[count * steps];
        for (int n = 0; n < count; n++)
        {
            var row = new int[steps];
            for (int i = 0; i < copyLength; i++)
            {
                int s = 1 + random.NextInt(symbols);
                row[i] = s;
                y[n * steps + delay + copyLength + i] = s;
            }
            row[copyLength + delay - 1] = delimiter;
            for (int t = 0; t < steps; t++) x[(n * steps + t) * categories + row[t]] = 1f;
        }
        return new SequenceDataset(x, count, steps, categories, TargetKind.ClassPerStep, categories) { Labels = y };
    }

    /// <summary>Cross-entropy of the copy task's memoryless baseline.</summary>
    public static double CopyBaseline(int delay, int symbols = 8,
        int copyLength = 10) => copyLength * Math.Log(symbols) / (delay + 2 * copyLength);

    /// <summary>The symbols of the Reber grammar, in one-hot order.</summary>
    public const string ReberSymbols = "BTPSXVE";

    // Reber grammar: state → (symbol, next state); state 6 emits E and ends.
    static readonly (char Symbol, int Next)[][] Reber =
    [
        [('B', 1)],
        [('T', 2), ('P', 3)],
        [('S', 2), ('X', 4)],
        [('T', 3), ('V', 5)],
        [('X', 3), ('S', 6)],
        [('P', 4), ('V', 6)],
        [('E', -1)],
    ];

    /// <summary>
    /// One embedded Reber string (Hochreiter &amp; Schmidhuber 1997) and, for each position, the symbols that may
    /// follow it: B, then T or P, a Reber string, the same T or P again, E. Predicting that second-to-last symbol needs
    /// the second one, remembered across the inner string.
    /// </summary>
    public static (string Text, string[] Next) EmbeddedReber(RandomGenerator random)
    {
        char branch = random.NextInt(2) == 0 ? 'T' : 'P';
        var text = new List<char> { 'B', branch };
        var next = new List<string> { "TP", "B" };
        int state = 0;
        while (state >= 0)
        {
            var choices = Reber[state];
            var (symbol, to) = choices[random.NextInt(choices.Length)];
            text.Add(symbol);
            next.Add(to >= 0 ? string.Concat(Reber[to].Select(c => c.Symbol)) : branch.ToString());
            state = to;
        }
        text.Add(branch);
        next.Add("E");
        text.Add('E');
        // next[i] lists what may follow text[i]; the last symbol has no successor
        return (new string([.. text]), next.Take(text.Count - 1).ToArray());
    }

    /// <summary>
    /// Embedded Reber strings as a next-symbol task: input one-hot of each symbol but the last, target the set of
    /// symbols that may come next. A sequence is solved when every step's set is predicted exactly.
    /// </summary>
    public static SequenceDataset EmbeddedReber(RandomGenerator random, int count, int maxLength = 60)
    {
        var strings = new List<(string Text, string[] Next)>();
        while (strings.Count < count)
        {
            var s = EmbeddedReber(random);
            if (s.Text.Length - 1 <= maxLength) strings.Add(s);
        }
        int steps = strings.Max(s => s.Text.Length - 1), k = ReberSymbols.Length;
        var x = new float[count * steps * k];
        var y = new float[count * steps * k];
        var lengths = new int[count];
        for (int n = 0; n < count; n++)
        {
            var (text, next) = strings[n];
            lengths[n] = text.Length - 1;
            for (int t = 0; t < lengths[n]; t++)
            {
                x[(n * steps + t) * k + ReberSymbols.IndexOf(text[t])] = 1f;
                foreach (char c in next[t]) y[(n * steps + t) * k + ReberSymbols.IndexOf(c)] = 1f;
            }
        }
        return new SequenceDataset(x, count, steps, k, TargetKind.MultiLabelPerStep, k)
        {
            LabelSets = y,
            Lengths = lengths
        };
    }

    /// <summary>
    /// Sequential MNIST (Le et al. 2015): each 28×28 digit read pixel by pixel (784 steps of one value in [0, 1]),
    /// class at the end; with <paramref name="permutationSeed"/>, every image's pixels follow one fixed random
    /// permutation (permuted MNIST). Rows <paramref name="start"/> … start + count of the IDX files.
    /// </summary>
    public static SequenceDataset SequentialMnist(string imagesPath, string labelsPath, int start, int count,
        ulong? permutationSeed = null)
    {
        var (shape, pixels) = Idx.Read(imagesPath);
        var (labelShape, labels) = Idx.Read(labelsPath);
        if (shape.Length != 3 || labelShape.Length != 1 || shape[0] != labelShape[0])
            throw new InvalidDataException($"{imagesPath} / {labelsPath}: expected images [N, rows, cols] and labels "
                + $"[N], got [{string.Join(", ", shape)}] and [{string.Join(", ", labelShape)}].");
        if (start < 0 || count < 1 || start + count > shape[0])
            throw new ArgumentException(
                $"SequentialMnist: rows {start}..{start + count} are outside the {shape[0]} images of {imagesPath}.");
        int steps = shape[1] * shape[2];
        var order = Enumerable.Range(0, steps).ToArray();
        if (permutationSeed is ulong seed) new RandomGenerator(seed).Shuffle(order.AsSpan());
        var x = new float[count * steps];
        var y = new int[count];
        for (int n = 0; n < count; n++)
        {
            for (int t = 0; t < steps; t++) x[n * steps + t] = pixels[(long)(start + n) * steps + order[t]] / 255f;
            y[n] = labels[start + n];
        }
        return new SequenceDataset(x, count, steps, 1, TargetKind.ClassLast, 10) { Labels = y };
    }
}

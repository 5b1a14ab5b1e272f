namespace Recur.Captioning;

/// <summary>One digit placed in a scene.</summary>
/// <param name="Label">The digit, 0–9.</param>
/// <param name="Source">Its image's index in the source set (the MNIST test digits).</param>
/// <param name="X">Left edge in the canvas, in pixels.</param>
/// <param name="Y">Top edge.</param>
/// <param name="Size">Width and height of the scaled digit (28 × scale, rounded).</param>
/// <param name="Scale">The scale drawn from 0.8–1.2.</param>
public sealed record PlacedDigit(int Label, int Source, int X, int Y, int Size, float Scale);

/// <summary>An image of a few handwritten digits side by side, and its descriptions.</summary>
/// <param name="Pixels">[height, width] grey levels in [0, 1] (1 = ink).</param>
/// <param name="Digits">The digits from left to right.</param>
public sealed record DigitScene(float[,] Pixels, IReadOnlyList<PlacedDigit> Digits)
{
    /// <summary>The digits' names from left to right: "seven two nine".</summary>
    public string Caption => string.Join(' ', Digits.Select(d => DigitScenes.Names[d.Label]));

    /// <summary>The same with sizes and relations: "a seven left of a large two left of a small nine" (small below
    /// scale 0.9, large above 1.1).</summary>
    public string RelationalCaption => string.Join(" left of ", Digits.Select(d =>
    {
        string size = d.Scale < 0.9f ? "small " : d.Scale > 1.1f ? "large " : "";
        string noun = size + DigitScenes.Names[d.Label];
        return (noun[0] is 'a' or 'e' or 'i' or 'o' or 'u' ? "an " : "a ") + noun;
    }));
}

/// <summary>
/// Multi-digit scenes for image description (issue: captioning), composed from real handwriting: 1 to
/// <c>maxDigits</c> digits at random horizontal places from left to right and small vertical offsets, scaled by
/// 0.8–1.2 (bilinear), overlapping a little at most, on a canvas 64 pixels high and <see cref="Width"/> wide, with
/// optional Gaussian noise and optional random rotation and shear of each digit (to augment training scenes).
/// Training scenes use only the first 8,000 of the 10,000 MNIST test digits, test scenes only the last 2,000, so no
/// handwritten digit is seen in both. Generation is deterministic in the seed.
/// </summary>
public sealed class DigitScenes
{
    /// <summary>The digits' names, 0 to 9.</summary>
    public static readonly IReadOnlyList<string> Names =
        ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"];

    /// <summary>Canvas height in pixels.</summary>
    public const int Height = 64;

    /// <summary>Canvas width per possible digit.</summary>
    public const int WidthPerDigit = 32;

    /// <summary>Canvas width for scenes of up to <paramref name="maxDigits"/> digits: 32 pixels per digit and 8
    /// more, so that even one digit at the largest scale (34 pixels) fits.</summary>
    public static int Width(int maxDigits) => WidthPerDigit * maxDigits + 8;

    /// <summary>The first source digit of test scenes: 0–7,999 train, 8,000–9,999 test.</summary>
    public const int TestStart = 8000;

    /// <summary>The largest random rotation of a digit, in degrees either way.</summary>
    public const float MaxRotation = 45;

    /// <summary>The largest random horizontal shear factor of a digit, either way.</summary>
    public const float MaxShear = 1;

    readonly byte[] images;
    readonly int[] labels;
    readonly int count;

    /// <summary>Scenes from <paramref name="images"/> (count × 28 × 28 bytes, as IDX stores them) and their
    /// <paramref name="labels"/>.</summary>
    public DigitScenes(byte[] images, int[] labels)
    {
        if (labels.Length == 0 || images.Length != labels.Length * 28 * 28)
            throw new ArgumentException($"DigitScenes: {images.Length} image bytes for {labels.Length} labels; each "
                + "digit is 28 × 28 bytes.");
        if (labels.Any(l => l is < 0 or > 9)) throw new ArgumentException("DigitScenes: labels must be 0–9.");
        (this.images, this.labels, count) = (images, labels, labels.Length);
    }

    /// <summary>Reads the MNIST test digits (<c>t10k-images-idx3-ubyte.gz</c>, <c>t10k-labels-idx1-ubyte.gz</c>) from
    /// <paramref name="folder"/>.</summary>
    public static DigitScenes Load(string folder)
    {
        var (imageShape, imageBytes) = Data.Idx.Read(Path.Combine(folder, "t10k-images-idx3-ubyte.gz"));
        var (labelShape, labelBytes) = Data.Idx.Read(Path.Combine(folder, "t10k-labels-idx1-ubyte.gz"));
        if (imageShape.Length != 3 || imageShape[1] != 28 || imageShape[2] != 28 || labelShape[0] != imageShape[0])
            throw new InvalidDataException($"{folder}: the MNIST files are not N × 28 × 28 images with N labels.");
        return new DigitScenes(imageBytes, labelBytes.Select(b => (int)b).ToArray());
    }

    /// <summary>
    /// <paramref name="scenes"/> scenes of 1 to <paramref name="maxDigits"/> digits from the training digits (or,
    /// with <paramref name="test"/>, the test digits), with Gaussian noise of standard deviation
    /// <paramref name="noise"/> (clipped to [0, 1]) and each digit rotated and sheared at random up to
    /// <paramref name="rotation"/> and <paramref name="shear"/>: scenes 0 to <paramref name="scenes"/> − 1 of
    /// <see cref="Scene"/>.
    /// </summary>
    public List<DigitScene> Generate(int scenes, ulong seed, bool test = false, int maxDigits = 5, float noise = 0,
        float rotation = 0, float shear = 0)
    {
        if (scenes < 1) throw new ArgumentException($"DigitScenes: {scenes} scenes; at least one.");
        return Enumerable.Range(0, scenes).Select(i => Scene(i, seed, test, maxDigits, noise, rotation, shear))
            .ToList();
    }

    /// <summary>
    /// Scene <paramref name="index"/> of the set fixed by <paramref name="seed"/>: each scene draws from its own
    /// generator, so any scene can be made alone, in any order (a training run makes its batches as it needs them).
    /// Each digit is rotated by an angle drawn uniformly from ±<paramref name="rotation"/> degrees and sheared
    /// horizontally by a factor drawn from ±<paramref name="shear"/> (x′ = x + s·y) about its centre; with both 0
    /// (the default) no draws are made, so the scenes of a seed stay what they were without distortion.
    /// </summary>
    public DigitScene Scene(int index, ulong seed, bool test = false, int maxDigits = 5, float noise = 0,
        float rotation = 0, float shear = 0)
    {
        if (index < 0 || maxDigits is < 1 or > 8 || !(noise >= 0) || !(rotation is >= 0 and <= MaxRotation)
            || !(shear is >= 0 and <= MaxShear))
            throw new ArgumentException($"DigitScenes: scene {index} of up to {maxDigits} digits (1–8), noise "
                + $"{noise} (≥ 0), rotation {rotation}° (0–{MaxRotation}), shear {shear} (0–{MaxShear}).");
        int first = test ? TestStart : 0, last = test ? count : Math.Min(count, TestStart);
        if (last <= first)
            throw new ArgumentException($"DigitScenes: no {(test ? "test" : "training")} digits among {count}.");
        // disjoint SplitMix inputs per scene: the generator of scene i is seeded 4 golden-ratio steps after i − 1's
        var random = new RandomGenerator(new RandomGenerator(seed).NextUInt64()
            + (ulong)index * 4 * 0x9E3779B97F4A7C15UL);
        return Compose(random, 1 + random.NextInt(maxDigits), maxDigits, first, last, noise, rotation, shear);
    }

    DigitScene Compose(RandomGenerator random, int digits, int maxDigits, int first, int last, float noise,
        float rotation, float shear)
    {
        int width = Width(maxDigits);
        var canvas = new float[Height, width];
        var placed = new List<PlacedDigit>();
        // each digit gets an equal share of the used width; it sits at a random place inside it and may reach a few
        // pixels into its neighbours' shares
        int used = Math.Min(width, WidthPerDigit * digits + random.NextInt(WidthPerDigit * (maxDigits - digits) + 1));
        int offset = random.NextInt(width - used + 1), share = used / digits;
        for (int i = 0; i < digits; i++)
        {
            int source = first + random.NextInt(last - first);
            float scale = 0.8f + 0.4f * random.NextFloat();
            int size = (int)MathF.Round(28 * scale);
            int slack = Math.Max(0, share - size + 6);
            int x = Math.Clamp(offset + i * share - 3 + random.NextInt(slack + 1), 0, width - size);
            int y = (Height - size) / 2 + random.NextInt(9) - 4;
            y = Math.Clamp(y, 0, Height - size);
            if (rotation > 0 || shear > 0)
            {
                float angle = rotation * (2 * random.NextFloat() - 1) * MathF.PI / 180;
                DrawDistorted(canvas, source, x, y, size, angle, shear * (2 * random.NextFloat() - 1));
            }
            else
                Draw(canvas, source, x, y, size);
            placed.Add(new PlacedDigit(labels[source], source, x, y, size, scale));
        }
        if (noise > 0)
            for (int r = 0; r < Height; r++)
                for (int c = 0; c < width; c++)
                    canvas[r, c] = Math.Clamp(canvas[r, c] + noise * random.NextNormal(), 0f, 1f);
        return new DigitScene(canvas, placed.OrderBy(d => d.X + d.Size / 2.0).ToArray());
    }

    /// <summary>
    /// A picture of someone's own digits as a canvas of <paramref name="height"/> × <paramref name="width"/> like the
    /// scenes': grey levels [rows, columns] in [0, 1] (1 white) become ink levels, inverted when the picture is
    /// mostly light (dark ink on paper); a picture larger than the canvas is scaled down to fit (bilinear), and the
    /// picture is centred vertically at the canvas's left edge.
    /// </summary>
    public static float[,] Canvas(float[,] grey, int height = Height, int width = 168)
    {
        int rows = grey.GetLength(0), columns = grey.GetLength(1);
        if (rows == 0 || columns == 0) throw new ArgumentException("DigitScenes.Canvas: the picture is empty.");
        double mean = 0;
        foreach (float v in grey) mean += v;
        bool paper = mean / grey.Length > 0.5;
        float scale = Math.Min(1f, Math.Min(height / (float)rows, width / (float)columns));
        int h = Math.Max(1, (int)MathF.Round(rows * scale)), w = Math.Max(1, (int)MathF.Round(columns * scale));
        var canvas = new float[height, width];
        int top = (height - h) / 2;
        for (int r = 0; r < h; r++)
            for (int c = 0; c < w; c++)
            {
                float sr = Math.Clamp((r + 0.5f) / scale - 0.5f, 0, rows - 1);
                float sc = Math.Clamp((c + 0.5f) / scale - 0.5f, 0, columns - 1);
                int r0 = (int)sr, c0 = (int)sc, r1 = Math.Min(r0 + 1, rows - 1), c1 = Math.Min(c0 + 1, columns - 1);
                float fr = sr - r0, fc = sc - c0;
                float value = (1 - fr) * ((1 - fc) * grey[r0, c0] + fc * grey[r0, c1])
                    + fr * ((1 - fc) * grey[r1, c0] + fc * grey[r1, c1]);
                canvas[top + r, c] = Math.Clamp(paper ? 1 - value : value, 0, 1);
            }
        return canvas;
    }

    /// <summary>Draws digit <paramref name="source"/> scaled to <paramref name="size"/> pixels (bilinear) with its top
    /// left corner at (<paramref name="x"/>, <paramref name="y"/>); overlaps keep the darker ink.</summary>
    void Draw(float[,] canvas, int source, int x, int y, int size)
    {
        int start = source * 28 * 28;
        for (int r = 0; r < size; r++)
            for (int c = 0; c < size; c++)
            {
                // the source position of this pixel's centre
                float sr = (r + 0.5f) * 28f / size - 0.5f, sc = (c + 0.5f) * 28f / size - 0.5f;
                canvas[y + r, x + c] = Math.Max(canvas[y + r, x + c], Sample(start, sr, sc));
            }
    }

    /// <summary>Like <see cref="Draw"/>, the digit first sheared by <paramref name="shear"/> and rotated by
    /// <paramref name="angle"/> (radians) about its centre: each canvas pixel samples the source at the inverse
    /// transform of its position.</summary>
    void DrawDistorted(float[,] canvas, int source, int x, int y, int size, float angle, float shear)
    {
        int start = source * 28 * 28;
        float cos = MathF.Cos(angle), sin = MathF.Sin(angle);
        for (int r = 0; r < size; r++)
            for (int c = 0; c < size; c++)
            {
                // the pixel's centre relative to the digit's centre, in source pixels
                float dx = (c + 0.5f) * 28f / size - 14f, dy = (r + 0.5f) * 28f / size - 14f;
                // undo the rotation, then the shear
                float u = cos * dx + sin * dy, v = cos * dy - sin * dx;
                canvas[y + r, x + c] = Math.Max(canvas[y + r, x + c], Sample(start, v + 13.5f, u - shear * v + 13.5f));
            }
    }

    /// <summary>The digit at <paramref name="start"/> sampled bilinearly at row <paramref name="sr"/>, column
    /// <paramref name="sc"/> (pixel centres at integers; 0 outside).</summary>
    float Sample(int start, float sr, float sc)
    {
        int r0 = (int)MathF.Floor(sr), c0 = (int)MathF.Floor(sc);
        float fr = sr - r0, fc = sc - c0;
        float Pixel(int rr, int cc) =>
            rr is < 0 or > 27 || cc is < 0 or > 27 ? 0 : images[start + rr * 28 + cc] / 255f;
        return (1 - fr) * ((1 - fc) * Pixel(r0, c0) + fc * Pixel(r0, c0 + 1))
            + fr * ((1 - fc) * Pixel(r0 + 1, c0) + fc * Pixel(r0 + 1, c0 + 1));
    }
}

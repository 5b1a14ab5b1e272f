using System.Globalization;

namespace Recur;

/// <summary>
/// A seeded pseudo-random generator (xoshiro256**, Blackman &amp; Vigna 2018, seeded through SplitMix64), so that
/// initialisation, shuffling, dropout and sampling repeat exactly for a seed on any .NET version. Not thread-safe:
/// give each consumer its own, or use <see cref="Fork"/>.
/// </summary>
public sealed class RandomGenerator
{
    ulong s0, s1, s2, s3;
    float? spareNormal;

    /// <summary>A generator whose sequence is fixed by <paramref name="seed"/>.</summary>
    public RandomGenerator(ulong seed)
    {
        ulong x = seed;
        s0 = SplitMix(ref x); s1 = SplitMix(ref x); s2 = SplitMix(ref x); s3 = SplitMix(ref x);
    }

    static ulong SplitMix(ref ulong x)
    {
        ulong z = x += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>The next 64 random bits.</summary>
    public ulong NextUInt64()
    {
        ulong result = ulong.RotateLeft(s1 * 5, 7) * 9;
        ulong t = s1 << 17;
        s2 ^= s0; s3 ^= s1; s1 ^= s2; s0 ^= s3;
        s2 ^= t;
        s3 = ulong.RotateLeft(s3, 45);
        return result;
    }

    /// <summary>Uniform in [0, 1), 24 random bits.</summary>
    public float NextFloat() => (NextUInt64() >> 40) * (1f / (1 << 24));

    /// <summary>Uniform in [0, 1), 53 random bits.</summary>
    public double NextDouble() => (NextUInt64() >> 11) * (1.0 / (1UL << 53));

    /// <summary>Uniform integer in [0, <paramref name="maxExclusive"/>), without modulo bias.</summary>
    public int NextInt(int maxExclusive)
    {
        if (maxExclusive <= 0) throw new ArgumentOutOfRangeException(nameof(maxExclusive), maxExclusive,
            "must be positive");
        ulong bound = (ulong)maxExclusive;
        ulong threshold = (0UL - bound) % bound;
        while (true)
        {
            ulong r = NextUInt64();
            if (r >= threshold) return (int)(r % bound);
        }
    }

    /// <summary>A standard normal sample (Box–Muller, pairs cached).</summary>
    public float NextNormal()
    {
        if (spareNormal is float spare) { spareNormal = null; return spare; }
        double u1 = 1.0 - NextDouble(), u2 = NextDouble();
        double radius = Math.Sqrt(-2.0 * Math.Log(u1)), angle = 2.0 * Math.PI * u2;
        spareNormal = (float)(radius * Math.Sin(angle));
        return (float)(radius * Math.Cos(angle));
    }

    /// <summary>
    /// A Gamma(<paramref name="shape"/>, 1) variate (mean and variance both the shape): Marsaglia &amp; Tsang's
    /// squeeze-and-reject method (2000) for shape ≥ 1; below 1 a Gamma(shape + 1) variate times U^(1/shape).
    /// </summary>
    public double NextGamma(double shape)
    {
        if (!(shape > 0) || !double.IsFinite(shape))
            throw new ArgumentOutOfRangeException(nameof(shape), shape, "NextGamma: the shape must be positive.");
        if (shape < 1) return NextGamma(shape + 1) * Math.Pow(1 - NextDouble(), 1 / shape);
        double d = shape - 1.0 / 3, c = 1 / Math.Sqrt(9 * d);
        while (true)
        {
            double x = NextNormal(), v = 1 + c * x;
            if (v <= 0) continue;
            v = v * v * v;
            double u = 1 - NextDouble(), x2 = x * x;
            if (u < 1 - 0.0331 * x2 * x2 || Math.Log(u) < 0.5 * x2 + d * (1 - v + Math.Log(v))) return d * v;
        }
    }

    /// <summary>
    /// A Poisson variate with the given mean: by multiplying uniforms below a mean of 10, above it by Hörmann's
    /// transformed rejection with squeeze (PTRS, 1993), whose cost does not grow with the mean.
    /// </summary>
    public long NextPoisson(double mean)
    {
        if (!(mean >= 0) || !double.IsFinite(mean))
            throw new ArgumentOutOfRangeException(nameof(mean), mean, "NextPoisson: the mean must be ≥ 0.");
        if (mean < 10)
        {
            double limit = Math.Exp(-mean), product = NextDouble();
            long count = 0;
            while (product > limit) { product *= NextDouble(); count++; }
            return count;
        }
        double root = Math.Sqrt(mean), logMean = Math.Log(mean);
        double b = 0.931 + 2.53 * root, a = -0.059 + 0.02483 * b;
        double inverseAlpha = 1.1239 + 1.1328 / (b - 3.4), accept = 0.9277 - 3.6224 / (b - 2);
        while (true)
        {
            double u = NextDouble() - 0.5, v = NextDouble(), us = 0.5 - Math.Abs(u);
            if (us <= 0) continue;
            double k = Math.Floor((2 * a / us + b) * u + mean + 0.43);
            if (us >= 0.07 && v <= accept) return (long)k;
            if (k < 0 || us < 0.013 && v > us) continue;
            if (Math.Log(v) + Math.Log(inverseAlpha) - Math.Log(a / (us * us) + b)
                <= -mean + k * logMean - Kernels.SpecialFunctions.LogGamma(k + 1)) return (long)k;
        }
    }

    /// <summary>Shuffles <paramref name="items"/> in place (Fisher–Yates).</summary>
    public void Shuffle<T>(Span<T> items)
    {
        for (int i = items.Length - 1; i > 0; i--)
        {
            int j = NextInt(i + 1);
            (items[i], items[j]) = (items[j], items[i]);
        }
    }

    /// <summary>The generator's full state as text (for checkpoints); <see cref="RestoreState"/> continues from it
    /// exactly.</summary>
    public string SaveState() =>
        string.Join(":", new[] { s0, s1, s2, s3 }.Select(v => v.ToString("x16", CultureInfo.InvariantCulture)))
        + (spareNormal is float spare ? ":" + BitConverter.SingleToInt32Bits(spare).ToString("x8",
            CultureInfo.InvariantCulture) : "");

    /// <summary>Continues from a state written by <see cref="SaveState"/>.</summary>
    public void RestoreState(string state)
    {
        var parts = state.Split(':');
        var words = new ulong[4];
        bool ok = parts.Length is 4 or 5 && parts.Take(4).Select((p, i) => ulong.TryParse(p, NumberStyles.HexNumber,
            CultureInfo.InvariantCulture, out words[i])).All(b => b);
        int spareBits = 0;
        if (ok && parts.Length == 5) ok = int.TryParse(parts[4], NumberStyles.HexNumber, CultureInfo.InvariantCulture,
            out spareBits);
        if (!ok
            || (words[0] | words[1] | words[2] | words[3]) == 0) throw new FormatException(
            $"RandomGenerator: '{state}' is not a saved generator state.");
        (s0, s1, s2, s3) = (words[0], words[1], words[2], words[3]);
        spareNormal = parts.Length == 5 ? BitConverter.Int32BitsToSingle(spareBits) : null;
    }

    /// <summary>An independent generator derived from this one's next output.</summary>
    public RandomGenerator Fork() => new(NextUInt64());
}

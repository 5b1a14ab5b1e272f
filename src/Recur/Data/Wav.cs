using System.Buffers.Binary;
using System.Text;

namespace Recur.Data;

/// <summary>A decoded WAV file: samples in [−1, 1], interleaved by channel.</summary>
/// <param name="SampleRate">Samples per second of each channel.</param>
/// <param name="Channels">Channels (interleaved in <see cref="Samples"/>).</param>
/// <param name="Samples">Frames × channels values in [−1, 1].</param>
public sealed record WavAudio(int SampleRate, int Channels, float[] Samples)
{
    /// <summary>Frames (samples per channel).</summary>
    public int Frames => Samples.Length / Channels;

    /// <summary>The mean of the channels at each frame (the samples themselves when mono).</summary>
    public float[] Mono()
    {
        if (Channels == 1) return Samples;
        var mono = new float[Frames];
        for (int f = 0; f < mono.Length; f++)
        {
            float sum = 0;
            for (int c = 0; c < Channels; c++) sum += Samples[f * Channels + c];
            mono[f] = sum / Channels;
        }
        return mono;
    }
}

/// <summary>
/// Reads and writes RIFF/WAVE files: 8-bit unsigned, 16-, 24- and 32-bit signed PCM and 32-bit float, any number of
/// channels and any sample rate (plain or WAVE_FORMAT_EXTENSIBLE headers). A file that is not RIFF/WAVE, is cut short,
/// has no samples or an unsupported format is refused with an error naming the file; the declared sizes are checked
/// against the file before anything is allocated.
/// </summary>
public static class Wav
{
    const ushort Pcm = 1, IeeeFloat = 3, Extensible = 0xFFFE;

    /// <summary>Reads <paramref name="path"/>.</summary>
    public static WavAudio Read(string path)
    {
        if (Directory.Exists(path)) throw new FileNotFoundException($"{path} is a folder, not a WAV file.", path);
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: no such file.", path);
        return Parse(File.ReadAllBytes(path), path);
    }

    /// <summary>Decodes a WAV image; <paramref name="source"/> names it in errors.</summary>
    public static WavAudio Parse(ReadOnlySpan<byte> bytes, string source)
    {
        if (bytes.Length < 12 || !bytes[..4].SequenceEqual("RIFF"u8) || !bytes.Slice(8, 4).SequenceEqual("WAVE"u8))
            throw new InvalidDataException($"{source}: not a WAV file (no RIFF/WAVE header).");
        long offset = 12;
        (ushort Format, int Channels, int Rate, int Bits)? format = null;
        while (offset + 8 <= bytes.Length)
        {
            var id = bytes.Slice((int)offset, 4);
            long size = BinaryPrimitives.ReadUInt32LittleEndian(bytes.Slice((int)offset + 4, 4));
            int body = (int)offset + 8;
            if (id.SequenceEqual("fmt "u8))
            {
                if (size < 16 || body
                    + size > bytes.Length) throw new InvalidDataException($"{source}: the fmt chunk is cut short.");
                var f = bytes.Slice(body, (int)size);
                ushort tag = BinaryPrimitives.ReadUInt16LittleEndian(f);
                // sub-format GUID starts with the tag
                if (tag == Extensible && size >= 26) tag = BinaryPrimitives.ReadUInt16LittleEndian(f.Slice(24, 2));
                format = (tag, BinaryPrimitives.ReadUInt16LittleEndian(f[2..]),
                    BinaryPrimitives.ReadInt32LittleEndian(f[4..]),
                    BinaryPrimitives.ReadUInt16LittleEndian(f[14..]));
            }
            else if (id.SequenceEqual("data"u8))
            {
                if (format is not { } fmt) throw new InvalidDataException(
                    $"{source}: the data chunk comes before any fmt chunk.");
                if (body + size > bytes.Length)
                    throw new InvalidDataException($"{source}: the data chunk declares {size} bytes but the file holds "
                        + $"{bytes.Length - body} (truncated).");
                return Decode(bytes.Slice(body, (int)size), fmt, source);
            }
            offset = body + size + (size & 1); // chunks are padded to even sizes
        }
        throw new InvalidDataException($"{source}: no {(format is null ? "fmt"
            : "data")} chunk (truncated or not audio).");
    }

    static WavAudio Decode(ReadOnlySpan<byte> data, (ushort Format, int Channels, int Rate, int Bits) fmt,
        string source)
    {
        var (tag, channels, rate, bits) = fmt;
        if (channels < 1 || rate < 1) throw new InvalidDataException(
            $"{source}: {channels} channels at {rate} Hz is not audio.");
        bool supported = tag == Pcm && bits is 8 or 16 or 24 or 32 || tag == IeeeFloat && bits == 32;
        if (!supported) throw new InvalidDataException(
            $"{source}: format {tag} with {bits}-bit samples is not supported (PCM 8/16/24/32 or float 32).");
        int width = bits / 8, frame = width * channels;
        int frames = data.Length / frame;
        if (frames == 0) throw new InvalidDataException($"{source}: no samples.");
        var samples = new float[frames * channels];
        for (int i = 0; i < samples.Length; i++)
        {
            var s = data.Slice(i * width, width);
            samples[i] = (tag, bits) switch
            {
                (IeeeFloat, _) => BinaryPrimitives.ReadSingleLittleEndian(s),
                (_, 8) => (s[0] - 128) / 128f,
                (_, 16) => BinaryPrimitives.ReadInt16LittleEndian(s) / 32768f,
                (_, 24) => ((s[0] | s[1] << 8 | (sbyte)s[2] << 16)) / 8388608f,
                _ => BinaryPrimitives.ReadInt32LittleEndian(s) / 2147483648f,
            };
        }
        return new WavAudio(rate, channels, samples);
    }

    /// <summary>Writes 16-bit PCM (values clipped to [−1, 1]), atomically: a failure leaves no partial file.</summary>
    public static void Write(string path, WavAudio audio)
    {
        if (audio.Channels < 1 || audio.SampleRate < 1 || audio.Samples.Length % audio.Channels != 0)
            throw new ArgumentException(
                $"Wav.Write: {audio.Samples.Length} samples do not fill frames of {audio.Channels} channels.");
        int dataBytes = audio.Samples.Length * 2;
        var bytes = new byte[44 + dataBytes];
        Encoding.ASCII.GetBytes("RIFF").CopyTo(bytes, 0);
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(4), (uint)(36 + dataBytes));
        Encoding.ASCII.GetBytes("WAVEfmt ").CopyTo(bytes, 8);
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(16), 16);
        BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(20), Pcm);
        BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(22), (ushort)audio.Channels);
        BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(24), audio.SampleRate);
        BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(28), audio.SampleRate * audio.Channels * 2);
        BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(32), (ushort)(audio.Channels * 2));
        BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(34), 16);
        Encoding.ASCII.GetBytes("data").CopyTo(bytes, 36);
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(40), (uint)dataBytes);
        for (int i = 0; i < audio.Samples.Length; i++)
        {
            float v = Math.Clamp(audio.Samples[i], -1f, 1f);
            BinaryPrimitives.WriteInt16LittleEndian(bytes.AsSpan(44 + 2 * i), (short)Math.Round(v * 32767f));
        }
        Serialization.AtomicFile.Write(path, stream => stream.Write(bytes));
    }
}

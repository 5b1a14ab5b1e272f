using System.Buffers.Binary;
using Recur.Data;

namespace Recur.Tests.Data;

public sealed class WavTests : IDisposable
{
    readonly string folder = Directory.CreateTempSubdirectory("recur-wav-").FullName;

    public void Dispose() => Directory.Delete(folder, recursive: true);

    /// <summary>A WAV image with one fmt chunk (tag, channels, rate, bits) and the given data bytes.</summary>
    static byte[] Image(ushort tag, int channels, int rate, int bits, byte[] data, bool extensible = false)
    {
        int fmtSize = extensible ? 40 : 16;
        var bytes = new byte[12 + 8 + fmtSize + 8 + data.Length];
        "RIFF"u8.CopyTo(bytes);
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(4), (uint)(bytes.Length - 8));
        "WAVEfmt "u8.CopyTo(bytes.AsSpan(8));
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(16), (uint)fmtSize);
        BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(20), extensible ? (ushort)0xFFFE : tag);
        BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(22), (ushort)channels);
        BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(24), rate);
        BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(34), (ushort)bits);
        if (extensible) BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(20 + 24), tag);
        "data"u8.CopyTo(bytes.AsSpan(20 + fmtSize));
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(24 + fmtSize), (uint)data.Length);
        data.CopyTo(bytes.AsSpan(28 + fmtSize));
        return bytes;
    }

    [Fact]
    public void DecodesEverySampleFormat()
    {
        Assert.Equal([-1f, 0f, 127 / 128f], Wav.Parse(Image(1, 1, 8000, 8, [0, 128, 255]), "u8").Samples);
        Assert.Equal([-1f, 0.5f], Wav.Parse(Image(1, 1, 16000, 16, [0x00, 0x80, 0x00, 0x40]), "s16").Samples);
        Assert.Equal([-1f, 0.5f], Wav.Parse(Image(1, 1, 16000, 24, [0, 0, 0x80, 0, 0, 0x40]), "s24").Samples);
        Assert.Equal([0.5f], Wav.Parse(Image(1, 1, 16000, 32, [0, 0, 0, 0x40]), "s32").Samples);
        Assert.Equal([0.25f], Wav.Parse(Image(3, 1, 44100, 32, BitConverter.GetBytes(0.25f)), "f32").Samples);
        var stereo = Wav.Parse(Image(1, 2, 22050, 16, [0x00, 0x40, 0x00, 0xC0], extensible: true), "ext");
        Assert.Equal((2, 22050, 1), (stereo.Channels, stereo.SampleRate, stereo.Frames));
        Assert.Equal([0f], stereo.Mono()); // 0.5 and −0.5 average to 0
    }

    [Fact]
    public void WritingThenReadingKeepsTheSamplesTo16Bits()
    {
        var samples = Enumerable.Range(0, 800).Select(i => MathF.Sin(i * 0.05f) * 0.9f).ToArray();
        string path = Path.Combine(folder, "tone.wav");
        Wav.Write(path, new WavAudio(8000, 1, samples));
        var back = Wav.Read(path);
        Assert.Equal((8000, 1), (back.SampleRate, back.Channels));
        for (int i = 0; i < samples.Length; i++) Assert.Equal(samples[i], back.Samples[i], 1f / 16384);
    }

    [Fact]
    public void BadAudioIsRefusedNamingTheFile()
    {
        Assert.Contains("not a WAV file", Assert.Throws<InvalidDataException>(() => Wav.Parse("RIFX1234WAVE"u8,
            "a.wav")).Message);
        var good = Image(1, 1, 8000, 16, new byte[20]);
        Assert.Contains("truncated", Assert.Throws<InvalidDataException>(() => Wav.Parse(good.AsSpan(0,
            good.Length - 4), "b.wav")).Message);
        Assert.Contains("no samples", Assert.Throws<InvalidDataException>(() => Wav.Parse(Image(1, 1, 8000, 16, []),
            "c.wav")).Message);
        Assert.Contains("not supported", Assert.Throws<InvalidDataException>(() => Wav.Parse(Image(2, 1, 8000, 4, [1,
            2]), "d.wav")).Message);
        Assert.Contains("d.wav", Assert.Throws<InvalidDataException>(() => Wav.Parse(Image(2, 1, 8000, 4, [1, 2]),
            "d.wav")).Message);
        Assert.Contains("is a folder", Assert.Throws<FileNotFoundException>(() => Wav.Read(folder)).Message);
    }

    [SharedDataFact("fsdd/recordings")]
    public void ReadsEveryRecordingOfTheSpokenDigits()
    {
        var files = Directory.GetFiles(SharedData.Folder("fsdd/recordings"), "*.wav");
        Assert.Equal(3000, files.Length);
        foreach (string file in files)
        {
            var audio = Wav.Read(file);
            Assert.Equal((8000, 1), (audio.SampleRate, audio.Channels));
            Assert.InRange(audio.Frames, 1000, 80000); // 0.1 to 10 s: every take is a spoken digit
            Assert.True(audio.Samples.All(s => s is >= -1f and <= 1f), file);
        }
    }
}

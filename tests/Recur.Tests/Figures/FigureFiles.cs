using System.Buffers.Binary;
using System.Xml.Linq;

namespace Recur.Tests.Figures;

/// <summary>Checks that a written figure is a real PNG and a well-formed SVG carrying the expected labels.</summary>
static class FigureFiles
{
    static readonly byte[] PngSignature = [0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A];

    /// <summary>Asserts a PNG signature and an IHDR chunk, and returns the image size.</summary>
    public static (int Width, int Height) AssertPng(string path)
    {
        Assert.True(File.Exists(path), $"{path} was not written");
        var bytes = File.ReadAllBytes(path);
        Assert.True(bytes.Length > 1000, $"{path} is only {bytes.Length} bytes");
        Assert.Equal(PngSignature, bytes[..8]);
        Assert.Equal("IHDR", System.Text.Encoding.ASCII.GetString(bytes, 12, 4));
        return (BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(16)),
            BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(20)));
    }

    /// <summary>Parses the SVG and asserts that each expected text appears in its text elements.</summary>
    public static void AssertSvg(string path, params string[] texts)
    {
        Assert.True(File.Exists(path), $"{path} was not written");
        var document = XDocument.Load(path);
        Assert.Equal("svg", document.Root!.Name.LocalName);
        var words = string.Join("\n",
            document.Descendants().Where(e => e.Name.LocalName == "text").Select(e => e.Value));
        foreach (var text in texts) Assert.Contains(text, words);
    }

    /// <summary>Asserts that no temporary file was left next to the figure.</summary>
    public static void AssertNoTemporaries(string folder) =>
        Assert.Empty(Directory.GetFiles(folder, "*.tmp.*", SearchOption.AllDirectories));
}

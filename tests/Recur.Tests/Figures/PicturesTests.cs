using Recur.Figures;
using SkiaSharp;

namespace Recur.Tests.Figures;

public sealed class PicturesTests : IDisposable
{
    readonly string folder = Directory.CreateTempSubdirectory("recur-pictures-").FullName;

    public void Dispose() => Directory.Delete(folder, recursive: true);

    [Fact]
    public void PngAndBothPgmFormsReadAsTheSameGreyLevels()
    {
        // 3 × 2: black, white, mid grey / white, black, white
        byte[] levels = [0, 255, 128, 255, 0, 255];
        string png = Path.Combine(folder, "a.png"), ascii = Path.Combine(folder, "a.pgm"),
            binary = Path.Combine(folder, "b.pgm");
        using (var bitmap = new SKBitmap(3, 2))
        {
            for (int i = 0; i < 6; i++) bitmap.SetPixel(i % 3, i / 3, new SKColor(levels[i], levels[i], levels[i]));
            using var stream = File.Create(png);
            bitmap.Encode(stream, SKEncodedImageFormat.Png, 100);
        }
        File.WriteAllText(ascii, "P2\n# a comment\n3 2\n255\n" + string.Join(' ', levels) + "\n");
        File.WriteAllBytes(binary, [.. "P5 3 2 255\n"u8.ToArray(), .. levels]);
        foreach (var path in new[] { png, ascii, binary })
        {
            var grey = Pictures.ReadGrey(path);
            Assert.Equal(2, grey.GetLength(0));
            Assert.Equal(3, grey.GetLength(1));
            for (int i = 0; i < 6; i++) Assert.Equal(levels[i] / 255f, grey[i / 3, i % 3], 3);
        }
    }

    [Fact]
    public void BrokenFilesAreNamedInTheError()
    {
        string text = Path.Combine(folder, "notes.png"), shortPgm = Path.Combine(folder, "short.pgm");
        File.WriteAllText(text, "hello");
        File.WriteAllBytes(shortPgm, [.. "P5 3 2 255\n"u8.ToArray(), 1, 2]);
        Assert.Contains("notes.png", Assert.Throws<InvalidDataException>(() => Pictures.ReadGrey(text)).Message);
        var error = Assert.Throws<InvalidDataException>(() => Pictures.ReadGrey(shortPgm)).Message;
        Assert.Contains("short.pgm", error);
        Assert.Contains("3 × 2", error);
        Assert.Throws<FileNotFoundException>(() => Pictures.ReadGrey(Path.Combine(folder, "missing.png")));
    }

    [Fact]
    public void AnAttentionGridNamesEveryWord()
    {
        var image = new float[16, 40];
        for (int x = 5; x < 12; x++) image[8, x] = 1;
        var map = new double[2, 5];
        map[1, 1] = 1;
        var files = Charts.AttentionGrid(Path.Combine(folder, "grid"), "a scene", image, ["seven", "<end>"],
            [map, map], columns: 2);
        FigureFiles.AssertPng(files.Png);
        FigureFiles.AssertSvg(files.Svg, "image", "seven", "<end>", "a scene");
        Assert.Throws<ArgumentException>(() => Charts.AttentionGrid(Path.Combine(folder, "bad"), "t", image,
            ["one"], [map, map]));
    }
}

using System.Text;
using Recur.Cli;
using Recur.Cli.Data;
using Recur.Tagging;

namespace Recur.Tests.Cli;

/// <summary>
/// One reader policy for every verb: quoting honoured in CSV and TSV, invalid UTF-8 and binary files refused with the
/// position, and nothing that would change a row silently.
/// </summary>
public sealed class ReaderPolicyTests : IDisposable
{
    readonly string folder = Directory.CreateTempSubdirectory("recur-readers-").FullName;

    public void Dispose() => Directory.Delete(folder, recursive: true);

    string Write(string name, string text) => Write(name, Encoding.UTF8.GetBytes(text));

    string Write(string name, byte[] bytes)
    {
        string path = Path.Combine(folder, name);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    [Fact]
    public void QuotedTsvFieldsMayHoldLineBreaksTabsAndQuotes()
    {
        string tsv = Write("q.tsv",
            "sentence\tlabel\n\"two\nlines\"\t1\n\"a\ttab\"\t0\n\"say \"\"hi\"\"\"\t1\nplain text\t0\n");
        var examples = LabelledTextFiles.Read(tsv, null, "label");
        Assert.Equal([("two\nlines", "1"), ("a\ttab", "0"), ("say \"hi\"", "1"), ("plain text", "0")], examples);
    }

    [Fact]
    public void ASemicolonCsvWithQuotedSemicolonsKeepsEveryRowWhole()
    {
        string csv = Write("s.csv", "text;label\n\"one; two\";pos\n\"three\";neg\nfour;pos\n");
        Assert.Equal([("one; two", "pos"), ("three", "neg"), ("four", "pos")], LabelledTextFiles.Read(csv, null,
            "label"));
    }

    [Fact]
    public void AnUnquotedSeparatorInsideTheTextIsRefusedWithItsLine()
    {
        string csv = Write("bad.csv", "text;label\ngood;pos\ncut; short here;neg\n");
        var e = Assert.Throws<InvalidDataException>(() => LabelledTextFiles.Read(csv, null, "label"));
        Assert.Contains("line 3", e.Message);
        Assert.Contains("2 fields", e.Message);
    }

    [Fact]
    public void InvalidUtf8IsRefusedByEveryVerbsReaderWithFileOffsetAndLine()
    {
        byte[] bad = [.. Encoding.UTF8.GetBytes("text,label\nfine,1\nbro"), 0xC3, 0x28,
            .. Encoding.UTF8.GetBytes("ken,0\n")];
        var e = Assert.Throws<InvalidDataException>(() => LabelledTextFiles.Read(Write("u.csv", bad), null,
            "label"));
        Assert.Contains("u.csv", e.Message);
        Assert.Contains("byte offset 21", e.Message);
        Assert.Contains("line 3", e.Message);

        byte[] conll = [.. Encoding.UTF8.GetBytes("EU B-ORG\nre"), 0xFF, .. Encoding.UTF8.GetBytes("jects O\n")];
        e = Assert.Throws<InvalidDataException>(() => ConllReader.Read(Write("u.conll", conll), chunkTags: true));
        Assert.Contains("byte offset 11", e.Message);
        Assert.Contains("line 2", e.Message);

        Directory.CreateDirectory(Path.Combine(folder, "imdb", "pos"));
        File.WriteAllBytes(Path.Combine(folder, "imdb", "pos", "1.txt"), [0x61, 0xFE, 0x62]);
        e = Assert.Throws<InvalidDataException>(() => LabelledTextFiles.Read(Path.Combine(folder, "imdb"), null,
            "label"));
        Assert.Contains("1.txt", e.Message);
    }

    [Fact]
    public void ARepeatedColumnABinaryFileAndAFolderAreRefusedClearly()
    {
        var e = Assert.Throws<InvalidDataException>(() => TableFile.Read(Write("dup.csv",
            "Month,Value,Value\n1,2,3\n")));
        Assert.Contains("'Value' appears 2 times", e.Message);

        e = Assert.Throws<InvalidDataException>(() => TableFile.Read(Write("bin.csv", [0x50, 0x4B, 0x03, 0x04, 0x00,
            0x00, 0x14])));
        Assert.Contains("binary file", e.Message);

        var missing = Assert.Throws<FileNotFoundException>(() => TableFile.Read(folder));
        Assert.Contains("is a folder", missing.Message);
    }

    [Fact]
    public void ForecastSeriesUseTheSameReader()
    {
        string csv = Write("series.csv", "Month,\"Value\"\n\"1949-01\", 112\n1949-02,118\n");
        var (dates, values) = SeriesFiles.ReadSeries(csv, "Value", null);
        Assert.Equal(["1949-01", "1949-02"], dates);
        Assert.Equal([112.0, 118.0], values);
        var e = Assert.Throws<InvalidDataException>(() => SeriesFiles.ReadSeries(Write("short.csv",
            "Month,Value\n1949-01\n"), "Value", null));
        Assert.Contains("line 2", e.Message);
    }
}

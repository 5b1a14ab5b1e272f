using CsvHelper;
using Recur.Text;

namespace Recur.Cli.Data;

/// <summary>One record of a table file: its fields and the line it starts on.</summary>
sealed record TableRow(long Line, string[] Fields);

/// <summary>
/// A CSV or TSV file with a header, read under one policy for every verb: strict UTF-8 (errors name the byte offset and
/// line), RFC 4180 quoting for both separators (a quoted field may hold the separator, quotes and line breaks), and a
/// refusal — naming the line — of anything that would otherwise change a row silently: malformed quoting, a record
/// with more or fewer fields than the header, a repeated column name.
/// </summary>
sealed record TableFile(string Path, string[] Header, IReadOnlyList<TableRow> Rows)
{
    /// <summary>
    /// Reads <paramref name="path"/>: tab-separated when it ends in <c>.tsv</c>, otherwise the separator is detected
    /// among <c>, ; TAB |</c> from the first lines. <paramref name="trim"/> drops spaces around unquoted fields.
    /// </summary>
    public static TableFile Read(string path, bool trim = false)
    {
        string text = TextFiles.ReadUtf8(path);
        CsvMalformedRecord? malformed = null;
        var options = new CsvReaderOptions
        {
            TrackLineNumbers = true, Mode = CsvMode.Rfc4180, AllowLineBreaksInQuotes = true, TrimWhitespace = trim,
            // skipped records are reported here, and refused below with their line: none is ever dropped silently
            MalformedData = CsvMalformedDataHandling.Skip, FieldCountMismatch = CsvFieldCountHandling.Skip,
            OnMalformedRecord = record => malformed ??= record,
            Separator = path.EndsWith(".tsv", StringComparison.OrdinalIgnoreCase) ? '\t' : null,
        };
        using var csv = CsvReader.FromText(text, options);
        string[] header;
        try { header = csv.Headers.ToArray(); }
        catch (CsvFormatException e)
        {
            throw new InvalidDataException(
            $"{path}, line 1: malformed header ({e.Message}).");
        }
        if (header.Length == 0
            || header.All(string.IsNullOrWhiteSpace)) throw new InvalidDataException($"{path}: no header line.");
        var repeated = header.GroupBy(h => h, StringComparer.Ordinal).FirstOrDefault(g => g.Count() > 1);
        if (repeated != null)
            throw new InvalidDataException(
                $"{path}, line 1: the column '{repeated.Key}' appears {repeated.Count()} times in the header.");
        var rows = new List<TableRow>();
        while (true)
        {
            bool more;
            try { more = csv.Read(); }
            catch (CsvFormatException e)
            {
                throw new InvalidDataException(
                $"{path}, line {csv.LineNumber}: malformed CSV ({e.Message}).");
            }
            if (malformed is { } bad)
                throw new InvalidDataException($"{path}, line {LineAt(text, bad.ByteOffset)}: {Describe(bad,
                    header.Length, csv.Separator)}");
            if (!more) break;
            var fields = new string[csv.FieldCount];
            for (int i = 0; i < fields.Length; i++) fields[i] = csv.GetString(i) ?? "";
            rows.Add(new TableRow(csv.LineNumber, fields));
        }
        return new TableFile(path, header, rows);
    }

    static string Describe(CsvMalformedRecord record, int columns, char separator)
    {
        string shown = separator == '\t' ? "tab" : $"'{separator}'";
        return record.Reason == CsvMalformedReason.FieldCountMismatch
            ? $"the record does not have the header's {columns} fields (a {shown} inside an unquoted field? "
                + "quote the field as in RFC 4180)."
            : $"malformed quoting ({record.Reason}): a quoted field must end with a quote followed by {shown} or a "
                + $"line break, "
                + "and a quote inside it is written twice.";
    }

    /// <summary>The 1-based line of UTF-8 byte <paramref name="byteOffset"/> of <paramref name="text"/>.</summary>
    static long LineAt(string text, long byteOffset)
    {
        long line = 1, bytes = 0;
        foreach (var rune in text.EnumerateRunes())
        {
            if (bytes >= byteOffset) break;
            if (rune.Value == '\n') line++;
            bytes += rune.Utf8SequenceLength;
        }
        return line;
    }

    /// <summary>The index of column <paramref name="name"/>; an error listing the columns when there is none.</summary>
    public int Column(string name, string what = "column") => Array.IndexOf(Header, name) is int i and >= 0 ? i
        : throw new InvalidDataException($"{Path}: no {what} '{name}' (columns: {string.Join(", ", Header)}).");
}

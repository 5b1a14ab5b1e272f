using System.Globalization;
using Recur.Cli.Training;
using Recur.Forecasting;

namespace Recur.Cli.Data;

/// <summary>
/// Series as <c>forecast train|predict</c> read them from CSV: a date column and numeric columns by name (one series
/// with its covariates), or a long-format panel of many series; a gap or a non-numeric cell is an error naming its
/// line unless <c>--fill</c> says how to treat gaps.
/// </summary>
static class SeriesFiles
{
    /// <summary>Reads a date column and a numeric target column; gaps and non-numeric cells are errors naming the
    /// line.</summary>
    internal static (string[] Dates, double[] Values) ReadSeries(string path, string target, string? dateColumn,
        GapFill? fill = null)
    {
        var (dates, columns) = ReadColumns(path, [target], dateColumn, fill);
        return (dates, columns[0]);
    }

    /// <summary>Reads a date column and numeric columns by name; gaps and non-numeric cells are errors naming the line
    /// and column.</summary>
    internal static (string[] Dates, double[][] Columns) ReadColumns(string path, string[] names, string? dateColumn,
        GapFill? fill = null)
    {
        var (dates, columns, _) = ReadColumns(path, names, [], dateColumn, fill);
        return (dates, columns);
    }

    /// <summary>
    /// Reads a date column, numeric columns and categorical columns (their cells as text) by name, row for row; an
    /// empty categorical cell is an error naming its line (a category is not interpolated), and a row that
    /// <c>--fill drop</c> removes goes from every column.
    /// </summary>
    internal static (string[] Dates, double[][] Columns, string[][] Categories) ReadColumns(string path,
        string[] names, string[] categorical, string? dateColumn, GapFill? fill)
    {
        if (!File.Exists(path) && !Directory.Exists(path)) throw new UsageException($"{path}: no such file.");
        var table = TableFile.Read(path, trim: true);
        var indices = names.Select(n => table.Column(n)).ToArray();
        var categoryIndices = categorical.Select(n => table.Column(n, "categorical column")).ToArray();
        int dateIndex = dateColumn is null ? (indices.Contains(0) || categoryIndices.Contains(0) ? -1 : 0)
            : table.Column(dateColumn, "date column");
        var dates = new List<string>();
        var columns = names.Select(_ => new List<double>()).ToArray();
        var categories = categorical.Select(_ => new List<string>()).ToArray();
        foreach (var row in table.Rows)
        {
            for (int k = 0; k < names.Length; k++)
            {
                columns[k].Add(Number(path, row.Line, row.Fields[indices[k]], names[k], $"the '{names[k]}' cell",
                    fill));
            }
            for (int k = 0; k < categorical.Length; k++)
            {
                string cell = row.Fields[categoryIndices[k]];
                if (IsMissing(cell)) throw new InvalidDataException($"{path}, line {row.Line}: the '{categorical[k]}' "
                    + $"cell is empty ('{cell}'); a categorical covariate needs a category in every row.");
                categories[k].Add(cell);
            }
            dates.Add(dateIndex >= 0 ? row.Fields[dateIndex] : dates.Count.ToString(CultureInfo.InvariantCulture));
        }
        if (dates.Count == 0) throw new InvalidDataException($"{path}: no rows.");
        if (fill == GapFill.Drop)
        {
            // a row with a gap in any of the columns goes, with its date and categories
            var keep = Enumerable.Range(0, dates.Count).Where(i => columns.All(c => !double.IsNaN(c[i]))).ToArray();
            return (keep.Select(i => dates[i]).ToArray(),
                columns.Select(c => keep.Select(i => c[i]).ToArray()).ToArray(),
                categories.Select(c => keep.Select(i => c[i]).ToArray()).ToArray());
        }
        return (dates.ToArray(), columns.Select((c, k) => FillGaps(c.ToArray(), fill, $"{path}, column '{names[k]}'"))
            .ToArray(), categories.Select(c => c.ToArray()).ToArray());
    }

    /// <summary>
    /// One 0/1 column per level of a categorical column (one-hot), in the order of <paramref name="levels"/>; a cell
    /// that is not one of them is an error naming its row's date and the levels known.
    /// </summary>
    internal static double[][] OneHot(string path, string column, string[] cells, string[] levels, string[] dates)
    {
        var result = levels.Select(_ => new double[cells.Length]).ToArray();
        for (int i = 0; i < cells.Length; i++)
        {
            int level = Array.IndexOf(levels, cells[i]);
            if (level < 0) throw new InvalidDataException($"{path}: the '{column}' cell of the row dated {dates[i]} is "
                + $"'{cells[i]}', not a category the model was trained with ({string.Join(", ", levels)}).");
            result[level][i] = 1;
        }
        return result;
    }

    /// <summary>
    /// The value of <paramref name="cell"/> (in <paramref name="column"/>, on <paramref name="line"/>): NaN for a gap
    /// when <paramref name="fill"/> treats gaps, otherwise an error naming <paramref name="what"/> for a gap and the
    /// column for anything that is not a finite number.
    /// </summary>
    static double Number(string path, long line, string cell, string column, string what, GapFill? fill)
    {
        if (IsMissing(cell))
            return fill is null ? throw new InvalidDataException(GapMessage(path, line, what, cell)) : double.NaN;
        if (!double.TryParse(cell, NumberStyles.Float, CultureInfo.InvariantCulture, out double value)
            || !double.IsFinite(value))
            throw new InvalidDataException($"{path}, line {line}: '{cell}' in column '{column}' is not a number.");
        return value;
    }

    /// <summary>The error for a gap without <c>--fill</c>: where it is and the option that treats it.</summary>
    internal static string GapMessage(string path, long line, string what, string cell) =>
        $"{path}, line {line}: {what} is {(string.IsNullOrWhiteSpace(cell) ? "empty" : $"'{cell}'")} (a gap in the "
        + "series); --fill interpolate, previous or drop says how to treat gaps.";

    /// <summary>An empty cell or a usual spelling of a missing value.</summary>
    internal static bool IsMissing(string cell) => string.IsNullOrWhiteSpace(cell)
        || cell.Trim().ToUpperInvariant() is "NA" or "N/A" or "NAN" or "NULL";

    /// <summary>Fills the gaps (NaN) of one series, or returns it as it is when it has none.</summary>
    internal static double[] FillGaps(double[] values, GapFill? fill, string where)
    {
        if (fill is null || !values.Any(double.IsNaN)) return values;
        try { return Gaps.Fill(values, fill.Value); }
        catch (ArgumentException e) { throw new InvalidDataException($"{where}: {e.Message}", e); }
    }

    /// <summary>One series of a panel: its id, category (or empty) and values in file order.</summary>
    internal sealed record PanelSeries(string Id, string Category, double[] Values, long FirstLine);

    /// <summary>
    /// Reads a long-format CSV (one observation a row: series id, value, optionally a category): rows of a series in
    /// time order, series in order of first appearance. An empty or non-numeric value is an error naming the line.
    /// </summary>
    internal static List<PanelSeries> ReadPanel(string path, string seriesColumn, string target, string? categoryColumn,
        GapFill? fill = null)
    {
        if (!File.Exists(path)) throw new UsageException($"{path}: no such file.");
        var table = TableFile.Read(path, trim: true);
        int idIndex = table.Column(seriesColumn, "series column"), valueIndex = table.Column(target);
        int categoryIndex = categoryColumn is null ? -1 : table.Column(categoryColumn, "category column");
        var order = new List<string>();
        var values = new Dictionary<string, (List<double> Values, string Category, long Line)>();
        foreach (var row in table.Rows)
        {
            string id = row.Fields[idIndex];
            if (string.IsNullOrWhiteSpace(id))
                throw new InvalidDataException($"{path}, line {row.Line}: the '{seriesColumn}' cell is empty.");
            double value = Number(path, row.Line, row.Fields[valueIndex], target,
                $"the '{target}' cell of series '{id}'", fill);
            string category = categoryIndex >= 0 ? row.Fields[categoryIndex] : "";
            if (!values.TryGetValue(id, out var entry))
            {
                entry = (new List<double>(), category, row.Line);
                values[id] = entry;
                order.Add(id);
            }
            else if (entry.Category != category)
                throw new InvalidDataException($"{path}, line {row.Line}: series '{id}' has category '{category}' here "
                    + $"but '{entry.Category}' on line {entry.Line}.");
            entry.Values.Add(value);
        }
        if (order.Count == 0) throw new InvalidDataException($"{path}: no rows.");
        return order.Select(id => new PanelSeries(id, values[id].Category,
            FillGaps(values[id].Values.ToArray(), fill, $"{path}, series '{id}'"), values[id].Line)).ToList();
    }

    /// <summary>
    /// Reads a wide CSV of many series. <paramref name="byRows"/> false: every column is a series named by its header
    /// (M3/M4-style spreadsheets turned sideways, or a date column beside one column per shop), except
    /// <paramref name="dateColumn"/> — by default the first column when one of its cells is not a number. True: every
    /// row is a series (as the M4 competition's files), its id in <paramref name="idColumn"/> (default the first
    /// column), its category in <paramref name="categoryColumn"/>, its values in the other columns in order. Series may
    /// differ in length: missing cells before a series' first value and after its last are not part of it; a gap
    /// between values is an error naming line and column unless <paramref name="fill"/> says how to treat it.
    /// </summary>
    internal static List<PanelSeries> ReadWide(string path, bool byRows, string? idColumn, string? dateColumn,
        string? categoryColumn, GapFill? fill = null)
    {
        if (!File.Exists(path)) throw new UsageException($"{path}: no such file.");
        var table = TableFile.Read(path, trim: true);
        if (table.Rows.Count == 0) throw new InvalidDataException($"{path}: no rows.");
        // one entry per series: id, category, (line, column name, cell) of each place in time order
        var series = new List<(string Id, string Category, List<(long Line, string Column, string Cell)> Cells)>();
        if (byRows)
        {
            if (dateColumn is not null)
                throw new UsageException("--wide rows holds a series a row, its times in the header; --date-column "
                    + "belongs to --wide columns and long files.");
            int id = idColumn is null ? 0 : table.Column(idColumn, "series column");
            int category = categoryColumn is null ? -1 : table.Column(categoryColumn, "category column");
            var seen = new Dictionary<string, long>(StringComparer.Ordinal);
            foreach (var row in table.Rows)
            {
                string name = row.Fields[id];
                if (string.IsNullOrWhiteSpace(name))
                    throw new InvalidDataException($"{path}, line {row.Line}: the '{table.Header[id]}' cell is empty.");
                if (seen.TryGetValue(name, out long first))
                    throw new InvalidDataException(
                        $"{path}, line {row.Line}: series '{name}' is also on line {first}.");
                seen[name] = row.Line;
                series.Add((name, category >= 0 ? row.Fields[category] : "", [.. Enumerable.Range(0,
                    table.Header.Length).Where(c => c != id && c != category)
                    .Select(c => (row.Line, table.Header[c], row.Fields[c]))]));
            }
        }
        else
        {
            if (idColumn is not null || categoryColumn is not null)
                throw new UsageException("--wide columns names each series by its column; --series-column and "
                    + "--category-column belong to --wide rows and long files.");
            int date = dateColumn is not null ? table.Column(dateColumn, "date column")
                : table.Rows.Any(r => !IsMissing(r.Fields[0]) && !double.TryParse(r.Fields[0], NumberStyles.Float,
                    CultureInfo.InvariantCulture, out _)) ? 0 : -1;
            for (int c = 0; c < table.Header.Length; c++)
                if (c != date)
                    series.Add((table.Header[c], "",
                        [.. table.Rows.Select(r => (r.Line, table.Header[c], r.Fields[c]))]));
        }
        if (series.Count == 0) throw new InvalidDataException($"{path}: no series columns.");
        var result = new List<PanelSeries>();
        foreach (var (id, category, cells) in series)
        {
            int start = cells.FindIndex(c => !IsMissing(c.Cell)), end = cells.FindLastIndex(c => !IsMissing(c.Cell));
            if (start < 0) throw new InvalidDataException($"{path}: series '{id}' has no values.");
            var values = new double[end - start + 1];
            for (int k = start; k <= end; k++)
            {
                var (line, column, cell) = cells[k];
                values[k - start] = Number(path, line, cell, column, $"the '{column}' cell of series '{id}'", fill);
            }
            result.Add(new PanelSeries(id, category, FillGaps(values, fill, $"{path}, series '{id}'"),
                cells[start].Line));
        }
        return result;
    }
}

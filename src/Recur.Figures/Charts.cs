using System.Globalization;
using ScottPlot;

namespace Recur.Figures;

/// <summary>Which corner of a chart's data area holds its legend (pick the one the lines leave free).</summary>
public enum LegendCorner
{
    /// <summary>Top right (the default).</summary>
    UpperRight,
    /// <summary>Top left.</summary>
    UpperLeft,
    /// <summary>Bottom left.</summary>
    LowerLeft,
    /// <summary>Bottom right.</summary>
    LowerRight,
}

/// <summary>One named line of a chart.</summary>
/// <param name="Label">Legend text.</param>
/// <param name="X">Horizontal coordinates.</param>
/// <param name="Y">Vertical coordinates (same length as <paramref name="X"/>).</param>
public sealed record Series(string Label, double[] X, double[] Y);

/// <summary>The two files a figure is written to.</summary>
/// <param name="Png">The raster image.</param>
/// <param name="Svg">The vector image.</param>
public sealed record FigureFiles(string Png, string Svg);

/// <summary>
/// The figures Recur draws (line charts, heatmaps, image grids), each written as PNG and SVG next to each other.
/// Files are written to a temporary name and renamed, so an interrupted run never leaves half an image.
/// </summary>
public static class Charts
{
    /// <summary>Default width of a figure in pixels.</summary>
    public const int Width = 900;

    /// <summary>Default height of a figure in pixels.</summary>
    public const int Height = 560;

    static readonly Color[] Palette =
    [
        Color.FromHex("#1f77b4"), Color.FromHex("#d62728"), Color.FromHex("#2ca02c"), Color.FromHex("#ff7f0e"),
        Color.FromHex("#9467bd"), Color.FromHex("#8c564b"), Color.FromHex("#e377c2"), Color.FromHex("#7f7f7f"),
    ];

    /// <summary>
    /// A line chart of <paramref name="series"/>, written to <paramref name="basePath"/>.png and .svg. With
    /// <paramref name="logY"/> the vertical axis is log₁₀ (non-positive values are left out of the line);
    /// <paramref name="references"/> draws labelled horizontal lines (a baseline, a target); <paramref name="legend"/>
    /// places the legend.
    /// </summary>
    public static FigureFiles Lines(string basePath, string title, string xLabel, string yLabel,
        IEnumerable<Series> series, bool logY = false, IEnumerable<(double Y, string Label)>? references = null,
        LegendCorner legend = LegendCorner.UpperRight)
    {
        var plot = new Plot();
        int index = 0;
        bool integerX = true;
        foreach (var s in series)
        {
            if (s.X.Length != s.Y.Length) throw new ArgumentException(
                $"Charts.Lines: series '{s.Label}' has {s.X.Length} x and {s.Y.Length} y values.");
            integerX &= s.X.All(double.IsInteger);
            var (xs, ys) = logY ? LogPoints(s.X, s.Y) : (s.X, s.Y);
            var line = plot.Add.ScatterLine(xs, ys, Palette[index++ % Palette.Length]);
            line.LegendText = s.Label;
            line.LineWidth = 2;
        }
        if (references != null)
            foreach (var (y, label) in references)
            {
                var reference = plot.Add.HorizontalLine(logY ? Math.Log10(y) : y, 1.5f, Colors.Gray,
                    LinePattern.Dashed);
                reference.LegendText = label;
            }
        // steps, epochs and lengths are whole numbers: no ticks between them
        if (integerX) plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericAutomatic
        {
            IntegerTicksOnly = true,
        };
        if (logY)
        {
            var ticks = new ScottPlot.TickGenerators.NumericAutomatic { LabelFormatter = v => FormatPower(v) };
            plot.Axes.Left.TickGenerator = ticks;
            yLabel += " (log scale)";
        }
        Decorate(plot, title, xLabel, yLabel);
        plot.ShowLegend(legend switch
        {
            LegendCorner.UpperLeft => Alignment.UpperLeft,
            LegendCorner.LowerLeft => Alignment.LowerLeft,
            LegendCorner.LowerRight => Alignment.LowerRight,
            _ => Alignment.UpperRight,
        });
        return Save(plot, basePath, Width, Height);
    }

    /// <summary>
    /// A heatmap of <paramref name="values"/> [rows, columns] (row 0 at the top), with optional tick labels for rows
    /// and columns (at most 30 are drawn, evenly spaced) and a colour bar.
    /// </summary>
    public static FigureFiles Heatmap(string basePath, string title, double[,] values, string xLabel, string yLabel,
        IReadOnlyList<string>? columnLabels = null, IReadOnlyList<string>? rowLabels = null, bool diverging = false)
    {
        int rows = values.GetLength(0), columns = values.GetLength(1);
        if (rows == 0 || columns == 0) throw new ArgumentException("Charts.Heatmap: no values.");
        if (columnLabels != null
            && columnLabels.Count != columns) throw new ArgumentException(
            $"Charts.Heatmap: {columnLabels.Count} column labels for {columns} columns.");
        if (rowLabels != null
            && rowLabels.Count != rows) throw new ArgumentException(
            $"Charts.Heatmap: {rowLabels.Count} row labels for {rows} rows.");
        var plot = new Plot();
        var map = plot.Add.Heatmap(values);
        map.Colormap = diverging ? new ScottPlot.Colormaps.Balance() : new ScottPlot.Colormaps.Viridis();
        if (diverging)
        {
            double extent = 0;
            foreach (double v in values) if (double.IsFinite(v)) extent = Math.Max(extent, Math.Abs(v));
            map.ManualRange = new ScottPlot.Range(-Math.Max(extent, 1e-12), Math.Max(extent, 1e-12));
        }
        plot.Add.ColorBar(map);
        if (columnLabels != null) plot.Axes.Bottom.TickGenerator = Ticks(columnLabels, i => i);
        if (rowLabels != null) plot.Axes.Left.TickGenerator = Ticks(rowLabels, i => rows - 1 - i);
        Decorate(plot, title, xLabel, yLabel);
        plot.Axes.Margins(0, 0);
        int width = Math.Clamp(120 + columns * 14, Width, 2400), height = Math.Clamp(140 + rows * 14, 360, 1600);
        return Save(plot, basePath, width, height);
    }

    /// <summary>
    /// A grid of grey-scale images (e.g. digits or Hopfield states), each <paramref name="imageHeight"/>×<paramref
    /// name="imageWidth"/>
    /// values in [0, 1] row by row (1 = white), <paramref name="columns"/> per row of the grid, with optional captions.
    /// </summary>
    public static FigureFiles ImageGrid(string basePath, string title, IReadOnlyList<float[]> images, int imageHeight,
        int imageWidth, int columns, IReadOnlyList<string>? captions = null)
    {
        if (images.Count == 0) throw new ArgumentException("Charts.ImageGrid: no images.");
        if (columns < 1) throw new ArgumentException($"Charts.ImageGrid: columns must be positive, got {columns}.");
        foreach (var image in images)
            if (image.Length != imageHeight * imageWidth)
                throw new ArgumentException(
                    $"Charts.ImageGrid: an image has {image.Length} values, not {imageHeight}×{imageWidth}.");
        int gridRows = (images.Count + columns - 1) / columns, gap = 1;
        var canvas = new double[gridRows * (imageHeight + gap) - gap, columns * (imageWidth + gap) - gap];
        for (int r = 0; r < canvas.GetLength(0); r++)
            for (int c = 0; c < canvas.GetLength(1); c++) canvas[r, c] = 0.5; // grey separators
        for (int k = 0; k < images.Count; k++)
        {
            int top = k / columns * (imageHeight + gap), left = k % columns * (imageWidth + gap);
            for (int y = 0; y < imageHeight; y++)
                for (int x = 0; x < imageWidth; x++)
                    canvas[top + y, left + x] = Math.Clamp(images[k][y * imageWidth + x], 0f, 1f);
        }
        var plot = new Plot();
        var map = plot.Add.Heatmap(canvas);
        map.Colormap = new ScottPlot.Colormaps.Grayscale();
        map.ManualRange = new ScottPlot.Range(0, 1);
        if (captions != null)
        {
            if (captions.Count != images.Count) throw new ArgumentException(
                $"Charts.ImageGrid: {captions.Count} captions for {images.Count} images.");
            var ticks = new ScottPlot.TickGenerators.NumericManual();
            for (int c = 0; c < Math.Min(columns,
                images.Count); c++) ticks.AddMajor(c * (imageWidth + gap) + imageWidth / 2.0, captions[c]);
            plot.Axes.Bottom.TickGenerator = ticks;
        }
        else plot.Axes.Bottom.IsVisible = false;
        plot.Axes.Left.IsVisible = false;
        plot.Title(title);
        plot.Axes.Margins(0, 0);
        int scale = Math.Max(2, 720 / Math.Max(canvas.GetLength(1), canvas.GetLength(0)));
        return Save(plot, basePath, Math.Max(canvas.GetLength(1) * scale + 80, 320),
            Math.Max(canvas.GetLength(0) * scale + 110, 200));
    }

    /// <summary>
    /// Where a captioner looked for each word (the grid of Xu et al. 2015): <paramref name="image"/> [height, width]
    /// in [0, 1] (1 = ink) first, then one panel per word of <paramref name="words"/> with its attention map
    /// (<paramref name="attention"/>, [rows, columns] over the image, any resolution; drawn bilinearly enlarged and
    /// scaled to its peak) bright over a faint copy of the image, <paramref name="columns"/> panels per row, each
    /// named underneath.
    /// </summary>
    public static FigureFiles AttentionGrid(string basePath, string title, float[,] image, IReadOnlyList<string> words,
        IReadOnlyList<double[,]> attention, int columns = 4)
    {
        if (words.Count != attention.Count)
            throw new ArgumentException($"Charts.AttentionGrid: {words.Count} words, {attention.Count} maps.");
        if (columns < 1) throw new ArgumentException($"Charts.AttentionGrid: columns must be positive, got {columns}.");
        int h = image.GetLength(0), w = image.GetLength(1), gap = 2, label = Math.Max(10, h / 4);
        int panels = words.Count + 1, gridRows = (panels + columns - 1) / columns;
        int across = Math.Min(columns, panels);
        var canvas = new double[gridRows * (h + label), across * (w + gap) - gap];
        for (int r = 0; r < canvas.GetLength(0); r++)
            for (int c = 0; c < canvas.GetLength(1); c++) canvas[r, c] = 1; // white paper between panels
        var plot = new Plot();
        for (int k = 0; k < panels; k++)
        {
            int top = k / columns * (h + label), left = k % columns * (w + gap);
            var map = k == 0 ? null : attention[k - 1];
            double peak = 0;
            if (map != null) foreach (double v in map) peak = Math.Max(peak, v);
            for (int y = 0; y < h; y++)
                for (int x = 0; x < w; x++)
                {
                    double ink = Math.Clamp(image[y, x], 0f, 1f);
                    canvas[top + y, left + x] = map == null ? ink
                        : 0.25 * ink + 0.75 * Bilinear(map, (y + 0.5) / h, (x + 0.5) / w) / Math.Max(peak, 1e-12);
                }
            var text = plot.Add.Text(k == 0 ? "image" : words[k - 1], left + w / 2.0,
                canvas.GetLength(0) - 1 - (top + h + label / 2.0));
            text.LabelAlignment = Alignment.MiddleCenter;
            text.LabelFontSize = 14;
        }
        var heat = plot.Add.Heatmap(canvas);
        heat.Colormap = new ScottPlot.Colormaps.Grayscale();
        heat.ManualRange = new ScottPlot.Range(0, 1);
        plot.MoveToBack(heat);
        plot.Axes.Frameless();
        plot.Title(title);
        plot.Axes.Margins(0, 0);
        int scale = Math.Max(2, 1000 / canvas.GetLength(1));
        return Save(plot, basePath, canvas.GetLength(1) * scale + 60, canvas.GetLength(0) * scale + 90);
    }

    /// <summary>
    /// Text with each word on a background as strong as its weight (what an attention model read closely): one block
    /// per entry of <paramref name="blocks"/> (a sentence, or a whole text), wrapped at <paramref name="wrap"/>
    /// characters, with the block's label (e.g. its sentence weight) in the margin. Weights are scaled to the largest
    /// of the figure.
    /// </summary>
    public static FigureFiles HighlightedText(string basePath, string title,
        IReadOnlyList<IReadOnlyList<(string Word, double Weight)>> blocks, IReadOnlyList<string>? blockLabels = null,
        int wrap = 90)
    {
        if (blocks.Count == 0 || blocks.All(b => b.Count == 0))
            throw new ArgumentException("Charts.HighlightedText: no words.");
        if (blockLabels != null && blockLabels.Count != blocks.Count)
            throw new ArgumentException(
                $"Charts.HighlightedText: {blockLabels.Count} labels for {blocks.Count} blocks.");
        if (wrap < 10) throw new ArgumentException($"Charts.HighlightedText: wrap must be at least 10, got {wrap}.");
        double peak = blocks.SelectMany(b => b).Max(w => double.IsFinite(w.Weight) ? w.Weight : 0);
        var plot = new Plot();
        const double lineHeight = 1.6, charWidth = 1, margin = 12;
        double y = 0;
        for (int k = 0; k < blocks.Count; k++)
        {
            if (blockLabels != null)
            {
                var label = plot.Add.Text(blockLabels[k], 0, y);
                label.LabelFontSize = 12;
                label.LabelFontColor = Colors.Gray;
                label.LabelAlignment = Alignment.MiddleLeft;
            }
            double x = margin;
            foreach (var (word, weight) in blocks[k])
            {
                double width = Math.Max(word.Length, 1) * charWidth;
                if (x + width > margin + wrap * charWidth && x > margin)
                {
                    x = margin;
                    y -= lineHeight;
                }
                double strength = peak > 0 && double.IsFinite(weight) ? Math.Clamp(weight / peak, 0, 1) : 0;
                var box = plot.Add.Rectangle(x - 0.2, x + width + 0.2, y - lineHeight / 2 + 0.15,
                    y + lineHeight / 2 - 0.15);
                box.FillColor = Color.FromHex("#d62728").WithAlpha(strength * 0.85);
                box.LineWidth = 0;
                var text = plot.Add.Text(word, x + width / 2, y);
                text.LabelAlignment = Alignment.MiddleCenter;
                text.LabelFontSize = 13;
                text.LabelFontName = "DejaVu Sans Mono";
                x += width + charWidth;
            }
            y -= lineHeight * 1.5;
        }
        plot.Axes.Frameless();
        plot.HideGrid();
        plot.Title(title);
        plot.Axes.SetLimits(-1, margin + (wrap + 2) * charWidth, y + lineHeight / 2, lineHeight);
        int rows = (int)Math.Round(-y / lineHeight) + 1;
        return Save(plot, basePath, 1100, Math.Clamp(90 + rows * 26, 200, 4000));
    }

    /// <summary>The value of <paramref name="map"/> at a point given as fractions of its height and width, read
    /// between cell centres.</summary>
    static double Bilinear(double[,] map, double fy, double fx)
    {
        int rows = map.GetLength(0), cols = map.GetLength(1);
        double y = Math.Clamp(fy * rows - 0.5, 0, rows - 1), x = Math.Clamp(fx * cols - 0.5, 0, cols - 1);
        int y0 = (int)y, x0 = (int)x, y1 = Math.Min(y0 + 1, rows - 1), x1 = Math.Min(x0 + 1, cols - 1);
        double dy = y - y0, dx = x - x0;
        return (1 - dy) * ((1 - dx) * map[y0, x0] + dx * map[y0, x1])
            + dy * ((1 - dx) * map[y1, x0] + dx * map[y1, x1]);
    }

    /// <summary>
    /// A spectrogram over time with lines under it on the same time axis — the figure of a speech recogniser: the
    /// log-mel <paramref name="spectrogram"/> [bands, frames] (row 0 the highest band, drawn at the top) in the upper
    /// part, and <paramref name="lines"/> (x in seconds, y in [0, 1], e.g. per-character CTC probabilities) in the
    /// lower
    /// part, with <paramref name="marks"/> written at their points (the character that fires there).
    /// <paramref name="lowerLabel"/> and <paramref name="lowerTicks"/> name the lower part's axis (default: a
    /// probability with ticks at 0, 0.5 and 1).
    /// </summary>
    public static FigureFiles SpectrogramWithLines(string basePath, string title, double[,] spectrogram,
        double secondsPerFrame, IEnumerable<Series> lines, IEnumerable<(double X, double Y, string Text)>? marks = null,
        string lowerLabel = "probability", IReadOnlyList<(double Y, string Label)>? lowerTicks = null)
    {
        int bands = spectrogram.GetLength(0), frames = spectrogram.GetLength(1);
        if (bands == 0 || frames == 0) throw new ArgumentException("Charts.SpectrogramWithLines: no spectrogram.");
        if (!(secondsPerFrame > 0)) throw new ArgumentException(
            $"Charts.SpectrogramWithLines: seconds per frame must be positive, got {secondsPerFrame}.");
        var plot = new Plot();
        var map = plot.Add.Heatmap(spectrogram);
        map.Colormap = new ScottPlot.Colormaps.Viridis();
        const double Bottom = 1.15, Top = 2.65; // the spectrogram's place above the probabilities in [0, 1]
        map.Position = new CoordinateRect(0, frames * secondsPerFrame, Bottom, Top);
        int index = 0;
        foreach (var s in lines)
        {
            if (s.X.Length != s.Y.Length) throw new ArgumentException(
                $"Charts.SpectrogramWithLines: series '{s.Label}' has {s.X.Length} x and {s.Y.Length} y values.");
            var line = plot.Add.ScatterLine(s.X, s.Y, s.Label == "blank" ? Colors.Gray
                : Palette[index++ % Palette.Length]);
            line.LegendText = s.Label;
            line.LineWidth = s.Label == "blank" ? 1 : 2;
            if (s.Label == "blank") line.LinePattern = LinePattern.Dashed;
        }
        foreach (var (x, y, text) in marks ?? [])
        {
            var label = plot.Add.Text(text, x, Math.Min(y + 0.03, 1.1));
            label.LabelFontSize = 16;
            label.LabelBold = true;
            label.LabelAlignment = Alignment.LowerCenter;
        }
        var ticks = new ScottPlot.TickGenerators.NumericManual();
        foreach (var (y, label) in lowerTicks ?? [(0, "0"), (0.5, "0.5"), (1, "1")]) ticks.AddMajor(y, label);
        ticks.AddMajor((Bottom + Top) / 2, "mel bands");
        plot.Axes.Left.TickGenerator = ticks;
        Decorate(plot, title, "time (s)", lowerLabel);
        plot.Axes.SetLimits(0, frames * secondsPerFrame, -0.03, Top);
        plot.ShowLegend(Alignment.UpperRight);
        plot.Legend.Orientation = Orientation.Horizontal;
        plot.Legend.Alignment = Alignment.LowerCenter;
        plot.Legend.IsVisible = false;
        return Save(plot, basePath, Width, Height);
    }

    static ScottPlot.TickGenerators.NumericManual Ticks(IReadOnlyList<string> labels, Func<int, double> position)
    {
        var ticks = new ScottPlot.TickGenerators.NumericManual();
        // one- and two-character labels (the characters of a text) fit under every 14-pixel cell; longer ones are
        // thinned to 30
        int most = labels.All(l => l.Length <= 2) ? 400 : 30;
        int stride = Math.Max(1, (labels.Count + most - 1) / most);
        for (int i = 0; i < labels.Count; i += stride) ticks.AddMajor(position(i), labels[i]);
        return ticks;
    }

    static (double[] X, double[] Y) LogPoints(double[] x, double[] y)
    {
        var keep = Enumerable.Range(0, x.Length).Where(i => y[i] > 0 && double.IsFinite(y[i])).ToArray();
        return (keep.Select(i => x[i]).ToArray(), keep.Select(i => Math.Log10(y[i])).ToArray());
    }

    static string FormatPower(double exponent)
    {
        double rounded = Math.Round(exponent);
        if (Math.Abs(exponent - rounded) > 1e-6) return "";
        return rounded == 0 ? "1" : $"1e{rounded:0}";
    }

    static void Decorate(Plot plot, string title, string xLabel, string yLabel)
    {
        plot.Title(title);
        plot.XLabel(xLabel);
        plot.YLabel(yLabel);
    }

    static FigureFiles Save(Plot plot, string basePath, int width, int height)
    {
        string full = Path.GetFullPath(basePath);
        if (Path.GetExtension(full) is ".png" or ".svg") full = Path.ChangeExtension(full, null);
        string? folder = Path.GetDirectoryName(full);
        if (!string.IsNullOrEmpty(folder)) Directory.CreateDirectory(folder);
        var files = new FigureFiles(full + ".png", full + ".svg");
        string token = Guid.NewGuid().ToString("N")[..8];
        string pngTemp = $"{full}.{token}.tmp.png", svgTemp = $"{full}.{token}.tmp.svg";
        try
        {
            plot.SavePng(pngTemp, width, height);
            plot.SaveSvg(svgTemp, width, height);
            File.Move(pngTemp, files.Png, overwrite: true);
            File.Move(svgTemp, files.Svg, overwrite: true);
        }
        finally
        {
            File.Delete(pngTemp);
            File.Delete(svgTemp);
        }
        return files;
    }
}

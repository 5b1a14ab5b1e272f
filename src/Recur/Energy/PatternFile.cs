namespace Recur.Energy;

/// <summary>
/// Binary patterns in a text file: each pattern is a block of equally long lines, blocks separated by blank lines;
/// <c>#</c>, <c>1</c>, <c>+</c>, <c>X</c> or <c>*</c> is an on unit (+1) and <c>.</c>, <c>0</c>, <c>-</c> or a space an
/// off unit (−1). Lines starting with <c>//</c> are comments. Every pattern must have the same height and width.
/// </summary>
public static class PatternFile
{
    /// <summary>Reads the patterns of <paramref name="path"/>; errors name the file and line.</summary>
    public static (List<sbyte[]> Patterns, int Height, int Width) Read(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: no such pattern file.", path);
        var lines = File.ReadAllLines(path);
        var patterns = new List<sbyte[]>();
        int height = 0, width = 0;
        var block = new List<sbyte>();
        int blockLines = 0, blockStart = 0;
        void Finish(int lineNumber)
        {
            if (blockLines == 0) return;
            if (patterns.Count == 0) height = blockLines;
            else if (blockLines != height)
                throw new InvalidDataException(
                    $"{path}, line {blockStart}: this pattern has {blockLines} rows, the first has {height}.");
            patterns.Add(block.ToArray());
            (block, blockLines) = (new List<sbyte>(), 0);
        }
        for (int i = 0; i < lines.Length; i++)
        {
            string line = lines[i].TrimEnd('\r');
            if (line.StartsWith("//", StringComparison.Ordinal)) continue;
            if (line.Trim().Length == 0) { Finish(i + 1); continue; }
            if (blockLines == 0) blockStart = i + 1;
            if (width == 0) width = line.Length;
            else if (line.Length != width) throw new InvalidDataException(
                $"{path}, line {i + 1}: {line.Length} characters, the first row has {width}.");
            for (int c = 0; c < line.Length; c++)
                block.Add(line[c] switch
                {
                    '#' or '1' or '+' or 'X' or '*' => 1,
                    '.' or '0' or '-' or ' ' => -1,
                    _ => throw new InvalidDataException($"{path}, line {i + 1}, column {c + 1}: '{line[c]}' is not a "
                        + $"unit (on: # 1 + X *, off: . 0 - space)."),
                });
            blockLines++;
        }
        Finish(lines.Length);
        if (patterns.Count == 0) throw new InvalidDataException($"{path}: no patterns.");
        return (patterns, height, width);
    }
}

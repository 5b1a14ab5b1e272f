using System.Globalization;

namespace Recur.Text;

/// <summary>
/// Word vectors in the GloVe / word2vec text format: one word per line followed by its values, separated by spaces;
/// word2vec's optional first line "count dimension" is skipped.
/// </summary>
public static class PretrainedVectors
{
    /// <summary>
    /// Copies the vectors of the vocabulary's words from <paramref name="path"/> into the rows of
    /// <paramref name="embedding"/> ([vocabulary size, dimension]); words absent from the file keep their rows, and the
    /// padding row is left alone. Lines whose width differs from the embedding's, or holding a non-number, are errors
    /// naming the file and line. Returns how many vocabulary words were found.
    /// </summary>
    public static int Load(string path, WordVocabulary vocabulary, Tensor embedding)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: no such vectors file.", path);
        if (embedding.Rank != 2 || embedding.Size(0) != vocabulary.Count)
            throw new ArgumentException($"PretrainedVectors: the embedding is {Shapes.Format(embedding.Shape)}, "
                + $"the vocabulary has {vocabulary.Count} words.");
        int dimension = embedding.Size(1), found = 0, lineNumber = 0;
        var weights = embedding.Span;
        var seen = new HashSet<int>();
        foreach (var line in File.ReadLines(path))
        {
            lineNumber++;
            if (string.IsNullOrWhiteSpace(line)) continue;
            var fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (lineNumber == 1 && fields.Length == 2 && int.TryParse(fields[0], out _) && int.TryParse(fields[1],
                out int declared))
            {
                if (declared != dimension) throw new InvalidDataException(
                    $"{path}, line 1: the vectors have {declared} values, the embedding {dimension}.");
                continue; // word2vec header
            }
            if (fields.Length != dimension + 1)
                throw new InvalidDataException($"{path}, line {lineNumber}: {fields.Length - 1} values after the word,"
                    + $" the embedding has {dimension}.");
            int id = vocabulary.Id(fields[0]);
            if (id == WordVocabulary.Unknown && fields[0] != "<unk>" || id == WordVocabulary.Pad
                || !seen.Add(id)) continue;
            for (int k = 0; k < dimension; k++)
            {
                if (!float.TryParse(fields[k + 1], NumberStyles.Float, CultureInfo.InvariantCulture,
                    out float value) || !float.IsFinite(value))
                    throw new InvalidDataException($"{path}, line {lineNumber}: '{fields[k + 1]}' is not a number.");
                weights[id * dimension + k] = value;
            }
            found++;
        }
        return found;
    }
}

namespace Recur.Nn;

/// <summary>
/// Turns a batch of token-id sequences of different lengths into what the embedding and recurrent layers take: one
/// time-major id array [T·B] (entry t·B + b is token t of sequence b; positions past a sequence's end hold id 0, which
/// the lengths mask), the lengths, and T, the longest length.
/// </summary>
public static class RaggedBatch
{
    /// <summary>
    /// Pads <paramref name="sequences"/> time-major. Every sequence must have at least one token and every id must lie
    /// in [1, <paramref name="vocabularySize"/>): id 0 is the padding, which would otherwise pass silently for a
    /// token; errors name <paramref name="owner"/> (the model), the sequence, the position and the id.
    /// </summary>
    /// <exception cref="ArgumentException">An empty batch, an empty sequence, the padding id 0 inside a sequence or an
    /// id outside the vocabulary.</exception>
    public static (int[] Ids, int[] Lengths, int Steps) TimeMajor(IReadOnlyList<int[]> sequences, int vocabularySize,
        string owner)
    {
        int batch = sequences.Count;
        if (batch == 0) throw new ArgumentException($"{owner}: an empty batch.");
        var lengths = new int[batch];
        for (int b = 0; b < batch; b++)
            if ((lengths[b] = sequences[b].Length) == 0) throw new ArgumentException(
                $"{owner}: sequence {b} of the batch has no tokens.");
        int steps = lengths.Max();
        var ids = new int[steps * batch];
        for (int b = 0; b < batch; b++)
        {
            var sequence = sequences[b];
            for (int t = 0; t < sequence.Length; t++)
            {
                int id = sequence[t];
                if ((uint)id >= (uint)vocabularySize)
                    throw new ArgumentException(
                        $"{owner}: token id {id} in sequence {b} is outside the vocabulary of {vocabularySize}.");
                if (id == 0)
                    throw new ArgumentException($"{owner}: token {t} of sequence {b} is id 0, the padding id; a "
                        + "sequence holds real tokens only (the lengths say where it ends).");
                ids[t * batch + b] = id;
            }
        }
        return (ids, lengths, steps);
    }
}

namespace Recur.Speech;

/// <summary>
/// The output symbols of a CTC speech recogniser: the blank at index 0, then one class per character. Transcripts are
/// lower-cased on encoding; a character outside the alphabet is refused with its position, not dropped.
/// </summary>
public sealed class SpeechAlphabet
{
    readonly Dictionary<char, int> index = [];

    /// <summary>The CTC blank's class index.</summary>
    public const int Blank = 0;

    /// <summary>Letters a–z, space and apostrophe (29 classes with the blank), as in Deep Speech.</summary>
    public static SpeechAlphabet English { get; } = new(" 'abcdefghijklmnopqrstuvwxyz");

    /// <summary>The characters in class order (class i + 1 is <c>Characters[i]</c>).</summary>
    public string Characters { get; }

    /// <summary>Classes of the output layer: the characters and the blank.</summary>
    public int Classes => Characters.Length + 1;

    /// <summary>An alphabet of <paramref name="characters"/> (distinct; the blank is added in front).</summary>
    public SpeechAlphabet(string characters)
    {
        if (characters.Length == 0) throw new ArgumentException("SpeechAlphabet: no characters.");
        for (int i = 0; i < characters.Length; i++)
            if (!index.TryAdd(characters[i], i + 1))
                throw new ArgumentException($"SpeechAlphabet: '{characters[i]}' appears twice in \"{characters}\".");
        Characters = characters;
    }

    /// <summary>Class indices of <paramref name="transcript"/> (lower-cased; at least one character).</summary>
    public int[] Encode(string transcript)
    {
        if (transcript.Length == 0) throw new ArgumentException("SpeechAlphabet: an empty transcript.");
        var labels = new int[transcript.Length];
        for (int i = 0; i < transcript.Length; i++)
            if (!index.TryGetValue(char.ToLowerInvariant(transcript[i]), out labels[i]))
                throw new ArgumentException(
                    $"SpeechAlphabet: '{transcript[i]}' at position {i} of \"{transcript}\" is not in the alphabet.");
        return labels;
    }

    /// <summary>The text of class indices (blanks skipped).</summary>
    public string Decode(IEnumerable<int> labels) =>
        new(labels.Where(l => l != Blank).Select(l => l > 0 && l <= Characters.Length
            ? Characters[l - 1] : throw new ArgumentOutOfRangeException(nameof(labels),
                $"SpeechAlphabet: class {l} is outside 0..{Characters.Length}.")).ToArray());
}

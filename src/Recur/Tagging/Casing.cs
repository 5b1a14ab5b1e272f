namespace Recur.Tagging;

/// <summary>The capitalisation and digit classes of a token (Reimers &amp; Gurevych 2017); 0 is kept for
/// padding.</summary>
public static class Casing
{
    /// <summary>Only digits.</summary>
    public const int Numeric = 1;
    /// <summary>More than half digits ("1.5", "10-12").</summary>
    public const int MainlyNumeric = 2;
    /// <summary>All letters lower case.</summary>
    public const int AllLower = 3;
    /// <summary>All letters upper case ("EU", "U.S.").</summary>
    public const int AllUpper = 4;
    /// <summary>First character upper case ("Germany").</summary>
    public const int InitialUpper = 5;
    /// <summary>Some digit, otherwise none of the above ("B52s").</summary>
    public const int ContainsDigit = 6;
    /// <summary>Anything else (mixed case, punctuation).</summary>
    public const int Other = 7;
    /// <summary>Number of ids, padding included.</summary>
    public const int Count = 8;

    /// <summary>The class of <paramref name="token"/>.</summary>
    public static int Of(string token)
    {
        int digits = 0, letters = 0, upper = 0, lower = 0;
        foreach (char c in token)
        {
            if (char.IsDigit(c)) digits++;
            else if (char.IsLetter(c)) { letters++; if (char.IsUpper(c)) upper++; else if (char.IsLower(c)) lower++; }
        }
        if (token.Length > 0 && digits == token.Length) return Numeric;
        if (digits * 2 > token.Length) return MainlyNumeric;
        if (letters > 0 && lower == letters) return AllLower;
        if (letters > 0 && upper == letters) return AllUpper;
        if (token.Length > 0 && char.IsUpper(token[0])) return InitialUpper;
        return digits > 0 ? ContainsDigit : Other;
    }
}

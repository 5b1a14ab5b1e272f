using System.Globalization;
using System.Text;
using SkiaSharp;

namespace Recur.Figures;

/// <summary>Reads pictures as grey levels.</summary>
public static class Pictures
{
    /// <summary>
    /// The grey levels [height, width] in [0, 1] (0 black, 1 white) of a PNG, JPEG, BMP, GIF or WebP file (decoded
    /// by SkiaSharp, colour weighted as Rec. 601 luma) or a PGM file (P2 or P5, 8 or 16 bits). A file that is none of
    /// these, or broken, gives an <see cref="InvalidDataException"/> naming it.
    /// </summary>
    public static float[,] ReadGrey(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: no such file.", path);
        var bytes = File.ReadAllBytes(path);
        if (bytes.Length > 2 && bytes[0] == 'P' && bytes[1] is (byte)'2' or (byte)'5') return ReadPgm(path, bytes);
        using var data = SKData.CreateCopy(bytes);
        using var codec = SKCodec.Create(data);
        using var bitmap = (codec == null ? null : SKBitmap.Decode(codec))
            ?? throw new InvalidDataException($"{path}: not an image SkiaSharp can decode (PNG, JPEG, BMP, GIF, "
                + "WebP) nor a PGM.");
        var grey = new float[bitmap.Height, bitmap.Width];
        for (int y = 0; y < bitmap.Height; y++)
            for (int x = 0; x < bitmap.Width; x++)
            {
                var c = bitmap.GetPixel(x, y);
                float luma = (0.299f * c.Red + 0.587f * c.Green + 0.114f * c.Blue) / 255f;
                // transparent pixels are paper: blend over white
                float alpha = c.Alpha / 255f;
                grey[y, x] = alpha * luma + (1 - alpha);
            }
        return grey;
    }

    static float[,] ReadPgm(string path, byte[] bytes)
    {
        bool binary = bytes[1] == '5';
        int position = 2;
        string NextToken()
        {
            while (position < bytes.Length)
            {
                if (bytes[position] == '#') while (position < bytes.Length && bytes[position] != '\n') position++;
                else if (char.IsWhiteSpace((char)bytes[position])) position++;
                else break;
            }
            var token = new StringBuilder();
            while (position < bytes.Length && !char.IsWhiteSpace((char)bytes[position]))
                token.Append((char)bytes[position++]);
            return token.ToString();
        }
        int Number(string what, int least = 1)
        {
            string token = NextToken();
            if (!int.TryParse(token, NumberStyles.None, CultureInfo.InvariantCulture, out int value) || value < least)
                throw new InvalidDataException($"{path}: the PGM {what} '{token}' is not a number of at least "
                    + $"{least}.");
            return value;
        }
        int width = Number("width"), height = Number("height"), max = Number("maximum grey value");
        if (max > 65535) throw new InvalidDataException($"{path}: the PGM maximum grey value {max} is above 65535.");
        position++; // the one whitespace byte before binary samples
        var grey = new float[height, width];
        int bytesPerSample = max > 255 ? 2 : 1;
        if (binary && bytes.Length - position < (long)width * height * bytesPerSample)
            throw new InvalidDataException($"{path}: the PGM holds {bytes.Length - position} bytes of pixels, "
                + $"{width} × {height} needs {(long)width * height * bytesPerSample}.");
        for (int y = 0; y < height; y++)
            for (int x = 0; x < width; x++)
            {
                int value;
                if (!binary) value = Number("sample", 0);
                else if (bytesPerSample == 1) value = bytes[position++];
                else { value = bytes[position] << 8 | bytes[position + 1]; position += 2; }
                grey[y, x] = Math.Min(value, max) / (float)max;
            }
        return grey;
    }
}

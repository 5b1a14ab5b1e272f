using System.Buffers.Binary;
using System.IO.Compression;

namespace Recur.Data;

/// <summary>Reads the IDX files MNIST is distributed in (big-endian header; gzipped when the name ends in
/// .gz).</summary>
public static class Idx
{
    /// <summary>Reads an unsigned-byte IDX file: its dimensions and its bytes.</summary>
    public static (int[] Shape, byte[] Data) Read(string path)
    {
        using var file = File.OpenRead(path);
        using Stream stream = path.EndsWith(".gz", StringComparison.OrdinalIgnoreCase) ? new GZipStream(file,
            CompressionMode.Decompress) : file;
        Span<byte> word = stackalloc byte[4];
        try
        {
            stream.ReadExactly(word);
            if (word[0] != 0 || word[1] != 0 || word[2] != 0x08)
                throw new InvalidDataException(
                    $"{path}: not an unsigned-byte IDX file (magic {Convert.ToHexString(word)}).");
            int rank = word[3];
            if (rank is < 1 or > 4) throw new InvalidDataException($"{path}: IDX rank {rank} is not supported.");
            var shape = new int[rank];
            long count = 1;
            for (int i = 0; i < rank; i++)
            {
                stream.ReadExactly(word);
                shape[i] = BinaryPrimitives.ReadInt32BigEndian(word);
                count *= shape[i];
                if (shape[i] < 0
                    || count > 1L << 31) throw new InvalidDataException(
                    $"{path}: implausible IDX dimension {shape[i]}.");
            }
            // allocate no more than the file can hold: a header may announce 2 GB in a file of a few bytes
            if (!stream.CanSeek)
            {
                using var buffer = new MemoryStream();
                var chunk = new byte[81920];
                int read;
                while (buffer.Length < count && (read = stream.Read(chunk, 0, (int)Math.Min(chunk.Length,
                    count - buffer.Length))) > 0)
                    buffer.Write(chunk, 0, read);
                if (buffer.Length < count) throw new EndOfStreamException();
                return (shape, buffer.ToArray());
            }
            if (stream.Length - stream.Position < count) throw new EndOfStreamException();
            var data = new byte[count];
            stream.ReadExactly(data);
            return (shape, data);
        }
        catch (EndOfStreamException)
        {
            throw new InvalidDataException($"{path}: the file ends before the data its header announces (truncated).");
        }
    }
}

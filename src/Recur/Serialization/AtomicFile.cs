using System.Text;

namespace Recur.Serialization;

/// <summary>
/// Writes files so that a crash or an exception never leaves a partial one: the bytes go to a temporary file in the
/// same folder, are flushed to disk, and then replace the target in one rename.
/// </summary>
public static class AtomicFile
{
    /// <summary>Writes the file through <paramref name="write"/>, replacing <paramref name="path"/> only when it
    /// returns.</summary>
    public static void Write(string path, Action<Stream> write)
    {
        string full = Path.GetFullPath(path);
        string temporary = Path.Combine(Path.GetDirectoryName(full)!,
            $".{Path.GetFileName(full)}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp");
        try
        {
            using (var stream = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write, FileShare.None))
            {
                write(stream);
                stream.Flush(flushToDisk: true);
            }
            File.Move(temporary, full, overwrite: true);
        }
        catch
        {
            File.Delete(temporary);
            throw;
        }
    }

    /// <summary>Writes <paramref name="text"/> as UTF-8 (no byte-order mark).</summary>
    public static void WriteAllText(string path, string text) => Write(path,
        stream => stream.Write(Encoding.UTF8.GetBytes(text)));
}

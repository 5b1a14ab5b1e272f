using System.Buffers.Binary;
using System.Text;
using System.Text.Json;

namespace Recur.Serialization;

/// <summary>
/// Reads and writes the safetensors format (Hugging Face): an 8-byte little-endian header length, a UTF-8 JSON header
/// mapping each tensor name to its dtype, shape and [begin, end) byte offsets in the data section that follows, and an
/// optional string map under <c>__metadata__</c>. Recur writes F32, and I8 for the int8 weights of a quantised model;
/// it reads F32, F64, F16 and BF16 (converted to float32), and I8 where the caller asks for the dtypes (the integers
/// as floats). Every size the header claims is checked against the file before anything is allocated, and errors name
/// the file and the tensor.
/// </summary>
public static class SafeTensors
{
    const long MaxHeaderBytes = 100L << 20;

    /// <summary>Loads every tensor of <paramref name="path"/>, by name.</summary>
    public static Dictionary<string, Tensor> Load(string path) => Load(path, out _);

    /// <summary>Loads every tensor of <paramref name="path"/>, and the header's <c>__metadata__</c> map. An I8 tensor
    /// (a quantised model's weight) is refused, naming the loader that restores it.</summary>
    public static Dictionary<string, Tensor> Load(string path, out Dictionary<string, string> metadata) =>
        Read(ReadAll(path), path, out metadata);

    /// <summary>
    /// Loads every tensor of <paramref name="path"/> with the header's <c>__metadata__</c> map and each tensor's
    /// dtype as the file stores it (<c>"F32"</c>, <c>"I8"</c>, …); an I8 tensor's values are its integers, exactly, as
    /// floats.
    /// </summary>
    public static Dictionary<string, Tensor> Load(string path, out Dictionary<string, string> metadata,
        out Dictionary<string, string> dtypes)
    {
        dtypes = [];
        return Read(ReadAll(path), path, out metadata, dtypes);
    }

    static byte[] ReadAll(string path)
    {
        try { return File.ReadAllBytes(path); }
        catch (IOException e) { throw new InvalidDataException($"{path}: cannot read ({e.Message}).", e); }
    }

    /// <summary>Parses a safetensors image; <paramref name="source"/> names it in errors. I8 tensors are refused as
    /// by <see cref="Load(string, out Dictionary{string, string})"/>.</summary>
    public static Dictionary<string, Tensor> Read(ReadOnlySpan<byte> bytes, string source, out Dictionary<string,
        string> metadata) => Read(bytes, source, out metadata, null);

    static Dictionary<string, Tensor> Read(ReadOnlySpan<byte> bytes, string source,
        out Dictionary<string, string> metadata, Dictionary<string, string>? dtypes)
    {
        if (bytes.Length < 8) throw Bad(source,
            $"{bytes.Length} bytes is too short for a safetensors file (8-byte header length missing).");
        ulong headerLength = BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        if (headerLength > (ulong)Math.Min(MaxHeaderBytes, bytes.Length - 8))
            throw Bad(source, $"header claims {headerLength} bytes but the file holds {bytes.Length - 8} after the "
                + $"length field (truncated or not safetensors).");
        var headerBytes = bytes.Slice(8, (int)headerLength);
        var data = bytes[(8 + (int)headerLength)..];
        metadata = [];
        var tensors = new Dictionary<string, Tensor>();
        JsonDocument document;
        try { document = JsonDocument.Parse(headerBytes.ToArray()); }
        catch (JsonException e) { throw Bad(source, $"header is not valid JSON ({e.Message})."); }
        using (document)
        {
            try
            {
                if (document.RootElement.ValueKind != JsonValueKind.Object) throw Bad(source,
                    "header is not a JSON object.");
                foreach (var entry in document.RootElement.EnumerateObject())
                {
                    if (entry.Name == "__metadata__")
                    {
                        if (entry.Value.ValueKind != JsonValueKind.Object) throw Bad(source,
                            "__metadata__ is not an object.");
                        foreach (var m in entry.Value.EnumerateObject())
                            metadata[m.Name] = m.Value.ValueKind == JsonValueKind.String ? m.Value.GetString()!
                                : throw Bad(source, $"metadata '{m.Name}' is not a string.");
                        continue;
                    }
                    tensors[entry.Name] = ReadTensor(entry.Name, entry.Value, data, source, dtypes);
                }
            }
            catch (Exception e) when (e is InvalidOperationException or FormatException or OverflowException
                or ArgumentException)
            {
                throw Bad(source, $"malformed header ({e.Message}).");
            }
        }
        return tensors;
    }

    static Tensor ReadTensor(string name, JsonElement info, ReadOnlySpan<byte> data, string source,
        Dictionary<string, string>? dtypes)
    {
        if (info.ValueKind != JsonValueKind.Object
            || !info.TryGetProperty("dtype", out var dtypeElement) || dtypeElement.ValueKind != JsonValueKind.String
            || !info.TryGetProperty("shape", out var shapeElement) || shapeElement.ValueKind != JsonValueKind.Array
            || !info.TryGetProperty("data_offsets",
                out var offsetsElement) || offsetsElement.ValueKind != JsonValueKind.Array
                || offsetsElement.GetArrayLength() != 2)
            throw Bad(source, $"tensor '{name}' needs dtype, shape and data_offsets [begin, end].");
        string dtype = dtypeElement.GetString()!;
        int elementSize = dtype switch
        {
            "F32" => 4,
            "F64" => 8,
            "F16" or "BF16" => 2,
            "I8" when dtypes != null => 1,
            "I8" => throw Bad(source, $"tensor '{name}' is int8, a quantised model's weight: load the file with "
                + "Module.Load or Checkpoint.Open, which restore int8 layers."),
            _ => throw Bad(source,
            $"tensor '{name}' has dtype {dtype}; Recur reads F32, F64, F16, BF16 and I8.")
        };
        if (dtypes != null) dtypes[name] = dtype;
        var shape = new int[shapeElement.GetArrayLength()];
        long count = 1;
        int axis = 0;
        foreach (var d in shapeElement.EnumerateArray())
        {
            if (!d.TryGetInt64(out long dim) || dim < 0 || dim > int.MaxValue) throw Bad(source,
                $"tensor '{name}' has an invalid dimension in its shape.");
            shape[axis++] = (int)dim;
            count *= dim;
            if (count > int.MaxValue) throw Bad(source, $"tensor '{name}' has more than 2^31 elements.");
        }
        if (!offsetsElement[0].TryGetInt64(out long begin) || !offsetsElement[1].TryGetInt64(out long end) || begin < 0
            || end < begin || end > data.Length)
            throw Bad(source, $"tensor '{name}' has data_offsets outside the {data.Length}-byte data section.");
        if (end - begin != count * elementSize)
            throw Bad(source, $"tensor '{name}' of shape {Shapes.Format(shape)} and dtype {dtype} "
                + $"needs {count * elementSize} bytes but its offsets span {end - begin}.");
        var raw = data.Slice((int)begin, (int)(end - begin));
        var tensor = Tensor.Zeros(shape);
        var values = tensor.Span;
        for (int i = 0; i < values.Length; i++)
        {
            values[i] = dtype switch
            {
                "F32" => BinaryPrimitives.ReadSingleLittleEndian(raw[(i * 4)..]),
                "F64" => (float)BinaryPrimitives.ReadDoubleLittleEndian(raw[(i * 8)..]),
                "F16" => (float)BinaryPrimitives.ReadHalfLittleEndian(raw[(i * 2)..]),
                "I8" => (sbyte)raw[i],
                _ => BitConverter.Int32BitsToSingle(BinaryPrimitives.ReadUInt16LittleEndian(raw[(i * 2)..]) << 16),
            };
        }
        tensor.Name = name;
        return tensor;
    }

    /// <summary>
    /// Writes <paramref name="tensors"/> as F32 to <paramref name="path"/> atomically (<see cref="AtomicFile"/>), so a
    /// crash never leaves a partial file; those named in <paramref name="int8"/> are written as I8, and must hold
    /// integers in [−128, 127].
    /// </summary>
    public static void Save(string path, IReadOnlyDictionary<string, Tensor> tensors, IReadOnlyDictionary<string,
        string>? metadata = null, IReadOnlySet<string>? int8 = null)
    {
        bool IsInt8(string name) => int8?.Contains(name) == true;
        foreach (string name in int8 ?? (IEnumerable<string>)[])
        {
            if (!tensors.TryGetValue(name, out var tensor))
                throw new ArgumentException($"SafeTensors.Save: '{name}' is to be written as I8 but is not given.");
            foreach (float v in tensor.Span)
                if (v != MathF.Round(v) || v < -128 || v > 127)
                    throw new ArgumentException($"SafeTensors.Save: '{name}' holds {v}, not an int8 value.");
        }
        var header = new Dictionary<string, object>();
        if (metadata is { Count: > 0 }) header["__metadata__"] = metadata;
        long offset = 0;
        // F32 tensors first, so each starts 4-byte aligned for readers that map the file; I8 ones after them
        var ordered = tensors.OrderBy(t => IsInt8(t.Key)).ThenBy(t => t.Key, StringComparer.Ordinal).ToArray();
        foreach (var (name, tensor) in ordered)
        {
            if (name == "__metadata__") throw new ArgumentException(
                "SafeTensors.Save: '__metadata__' is reserved and cannot name a tensor.");
            long size = (IsInt8(name) ? 1L : 4L) * tensor.Length;
            header[name] = new
            {
                dtype = IsInt8(name) ? "I8" : "F32", shape = tensor.ShapeArray(), data_offsets = new[] { offset,
                offset + size }
            };
            offset += size;
        }
        var json = Encoding.UTF8.GetBytes(JsonSerializer.Serialize(header));
        int padded = (json.Length + 7) / 8 * 8; // keep the data section 8-byte aligned, padding with spaces
        AtomicFile.Write(path, stream =>
        {
            Span<byte> length = stackalloc byte[8];
            BinaryPrimitives.WriteUInt64LittleEndian(length, (ulong)padded);
            stream.Write(length);
            stream.Write(json);
            for (int i = json.Length; i < padded; i++) stream.WriteByte((byte)' ');
            var buffer = new byte[4096 * 4];
            foreach (var (name, tensor) in ordered)
            {
                var values = tensor.Span;
                bool bytes = IsInt8(name);
                for (int start = 0; start < values.Length; start += 4096)
                {
                    int n = Math.Min(4096, values.Length - start);
                    if (bytes)
                        for (int i = 0; i < n; i++) buffer[i] = (byte)(sbyte)values[start + i];
                    else
                        for (int i = 0; i < n; i++) BinaryPrimitives.WriteSingleLittleEndian(buffer.AsSpan(i * 4),
                            values[start + i]);
                    stream.Write(buffer, 0, bytes ? n : n * 4);
                }
            }
        });
    }

    static InvalidDataException Bad(string source, string message) => new($"{source}: {message}");
}

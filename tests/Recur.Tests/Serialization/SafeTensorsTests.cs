using System.Buffers.Binary;
using System.Text;
using Recur.Serialization;

namespace Recur.Tests.Serialization;

public sealed class SafeTensorsTests : IDisposable
{
    readonly string folder = Directory.CreateTempSubdirectory("recur-safetensors-").FullName;

    public void Dispose() => Directory.Delete(folder, recursive: true);

    static byte[] Image(string headerJson, byte[] data, ulong? claimedLength = null)
    {
        var header = Encoding.UTF8.GetBytes(headerJson);
        var bytes = new byte[8 + header.Length + data.Length];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, claimedLength ?? (ulong)header.Length);
        header.CopyTo(bytes, 8);
        data.CopyTo(bytes, 8 + header.Length);
        return bytes;
    }

    [Fact]
    public void RoundTripsRandomTensorsAndMetadata()
    {
        var random = new RandomGenerator(5);
        for (int trial = 0; trial < 20; trial++)
        {
            var tensors = new Dictionary<string, Tensor>();
            int count = 1 + random.NextInt(4);
            for (int i = 0; i < count; i++)
            {
                var shape = Enumerable.Range(0, random.NextInt(4)).Select(_ => random.NextInt(5)).ToArray();
                tensors[$"layer{i}.weight_ih_l{trial}"] = Tensor.RandomNormal(random, shape);
            }
            string path = Path.Combine(folder, $"t{trial}.safetensors");
            SafeTensors.Save(path, tensors, new Dictionary<string, string> { ["format"] = "pt" });
            var loaded = SafeTensors.Load(path, out var metadata);
            Assert.Equal("pt", metadata["format"]);
            Assert.Equal(tensors.Keys.Order(), loaded.Keys.Order());
            foreach (var (name, tensor) in tensors)
            {
                Assert.Equal(tensor.ShapeArray(), loaded[name].ShapeArray());
                Assert.Equal(tensor.ToArray(), loaded[name].ToArray());
            }
            Assert.Equal(0,
                (new FileInfo(path).Length - 8
                - (long)BinaryPrimitives.ReadUInt64LittleEndian(File.ReadAllBytes(path))) % 4);
        }
        Assert.Empty(Directory.GetFiles(folder, "*.tmp"));
    }

    [Fact]
    public void Int8TensorsRoundTripAfterTheFloatOnesAndAreRefusedWhereFloatsAreExpected()
    {
        string path = Path.Combine(folder, "int8.safetensors");
        var integers = Tensor.FromArray([-128, -127, 0, 5, 127, 3], 2, 3);
        var floats = Tensor.FromArray([0.5f, -1.25f, 3f], 3);
        var tensors = new Dictionary<string, Tensor> { ["a.weight"] = integers, ["b.bias"] = floats };
        SafeTensors.Save(path, tensors, null, new HashSet<string> { "a.weight" });
        var loaded = SafeTensors.Load(path, out _, out var dtypes);
        Assert.Equal("I8", dtypes["a.weight"]);
        Assert.Equal("F32", dtypes["b.bias"]);
        Assert.Equal(integers.ToArray(), loaded["a.weight"].ToArray());
        Assert.Equal([2, 3], loaded["a.weight"].ShapeArray());
        Assert.Equal(floats.ToArray(), loaded["b.bias"].ToArray());
        // one byte per int8 value, stored after the F32 tensors so those stay 4-byte aligned
        var bytes = File.ReadAllBytes(path);
        long header = (long)BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        Assert.Equal(8 + header + 3 * 4 + 6, bytes.Length);
        Assert.Equal(unchecked((byte)-128), bytes[8 + header + 12]);

        var refused = Assert.Throws<InvalidDataException>(() => SafeTensors.Load(path));
        Assert.Contains(path, refused.Message);
        Assert.Contains("'a.weight' is int8", refused.Message);
        var notInt8 = Assert.Throws<ArgumentException>(() => SafeTensors.Save(path, tensors, null,
            new HashSet<string> { "b.bias" }));
        Assert.Contains("'b.bias' holds 0.5", notInt8.Message);
        Assert.Throws<ArgumentException>(() => SafeTensors.Save(path, tensors, null,
            new HashSet<string> { "c" }));
        Assert.Equal(integers.ToArray(), SafeTensors.Load(path, out _, out _)["a.weight"].ToArray()); // kept
    }

    [Fact]
    public void ReadsHalfBFloatAndDouble()
    {
        var data = new byte[2 + 2 + 8];
        BinaryPrimitives.WriteHalfLittleEndian(data, (Half)1.5f);
        BinaryPrimitives.WriteUInt16LittleEndian(data.AsSpan(2),
            (ushort)(BitConverter.SingleToInt32Bits(-2.25f) >> 16));
        BinaryPrimitives.WriteDoubleLittleEndian(data.AsSpan(4), 0.125);
        var header = """{"h":{"dtype":"F16","shape":[1],"data_offsets":[0,2]},"b":"""
            + """{"dtype":"BF16","shape":[1],"data_offsets":[2,4]},"d":"""
            + """{"dtype":"F64","shape":[],"data_offsets":[4,12]}}""";
        var tensors = SafeTensors.Read(Image(header, data), "mixed", out _);
        Assert.Equal(1.5f, tensors["h"].Item());
        Assert.Equal(-2.25f, tensors["b"].Item());
        Assert.Equal(0.125f, tensors["d"].Item());
        Assert.Equal(0, tensors["d"].Rank);
    }

    public static TheoryData<string, byte[], string> Malformed() => new()
    {
        { "short", new byte[5], "too short" },
        { "absurd header", Image("{}", [], claimedLength: ulong.MaxValue), "header claims" },
        { "truncated header", Image("{}", [], claimedLength: 4000), "truncated" },
        { "not json", Image("{nope", []), "not valid JSON" },
        { "offsets past end", Image("""{"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}""", new byte[8]),
            "outside the 8-byte data section" },
        { "size mismatch", Image("""{"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}""", new byte[8]),
            "needs 12 bytes" },
        { "absurd shape", Image("""{"w":{"dtype":"F32","shape":[100000,100000],"data_offsets":[0,8]}}""", new byte[8]),
            "more than 2^31" },
        { "bad dtype", Image("""{"w":{"dtype":"I64","shape":[1],"data_offsets":[0,8]}}""", new byte[8]),
            "dtype I64" },
        { "missing fields", Image("""{"w":{"dtype":"F32"}}""", []), "needs dtype, shape and data_offsets" },
    };

    [Theory]
    [MemberData(nameof(Malformed))]
    public void MalformedFilesAreRefusedWithTheFileNameAndReason(string name, byte[] image, string expected)
    {
        string path = Path.Combine(folder, name.Replace(' ', '_') + ".safetensors");
        File.WriteAllBytes(path, image);
        var ex = Assert.Throws<InvalidDataException>(() => SafeTensors.Load(path));
        Assert.Contains(path, ex.Message);
        Assert.Contains(expected, ex.Message);
    }

    [Fact]
    public void AFailedSaveLeavesTheExistingFileUntouched()
    {
        string path = Path.Combine(folder, "keep.safetensors");
        SafeTensors.Save(path, new Dictionary<string, Tensor> { ["a"] = Tensor.Ones(3) });
        var before = File.ReadAllBytes(path);
        Assert.Throws<ArgumentException>(() => SafeTensors.Save(path, new Dictionary<string,
            Tensor>
        { ["__metadata__"] = Tensor.Ones(1) }));
        Assert.Equal(before, File.ReadAllBytes(path));
        Assert.Empty(Directory.GetFiles(folder, "*.tmp"));
    }
}

using System.Text;
using CsCheck;
using Recur.Cli.Data;
using Recur.Data;
using Recur.Energy;
using Recur.Serialization;
using Recur.Tagging;
using Recur.Text;
using Recur.Training;
using Recur.Translation;

namespace Recur.Tests.Data;

/// <summary>
/// Fault injection into every reader: valid files with bytes flipped, cut short, grown or with numbers made huge, and
/// plain random bytes. Whatever the input, a reader either returns or refuses it with an
/// <see cref="InvalidDataException"/> (the one type the CLI turns into a clear message) — no other exception escapes
/// and no reader allocates much more than the file's size justifies (a header that announces gigabytes is refused).
/// </summary>
[Trait("Category", "slow")]
public sealed class ReaderFuzzTests : IDisposable
{
    readonly string root = Directory.CreateTempSubdirectory("recur-fuzz-").FullName;

    public void Dispose() => Directory.Delete(root, recursive: true);

    /// <summary>A seed, and whether to mutate the valid file (else random bytes).</summary>
    static readonly Gen<(uint Seed, bool Mutate)> Inputs = Gen.Select(Gen.UInt, Gen.Int[0, 9], (s, k) => (s, k > 0));

    static byte[] Mutate(byte[] valid, uint seed, bool mutate)
    {
        var random = new Random((int)seed);
        if (!mutate)
        {
            var noise = new byte[random.Next(0, 600)];
            random.NextBytes(noise);
            return noise;
        }
        var bytes = new List<byte>(valid);
        int edits = 1 + random.Next(4);
        for (int e = 0; e < edits && bytes.Count > 0; e++)
        {
            int at = random.Next(bytes.Count);
            switch (random.Next(5))
            {
                case 0: bytes[at] = (byte)random.Next(256); break;                        // flip a byte
                case 1: bytes.RemoveRange(at, bytes.Count - at); break;                   // truncate
                case 2:
                    bytes.InsertRange(at, Enumerable.Range(0, random.Next(1, 9)).Select(_
                    => (byte)random.Next(256))); break;
                case 3: bytes.InsertRange(at, "99999999999"u8.ToArray()); break;          // a huge number
                default:                                                                    // repeat a stretch
                    int length = Math.Min(bytes.Count - at, random.Next(1, 40));
                    bytes.InsertRange(at, bytes.GetRange(at, length));
                    break;
            }
        }
        return [.. bytes];
    }

    /// <summary>Runs <paramref name="read"/> on mutations of <paramref name="valid"/> written to <paramref
    /// name="name"/>.</summary>
    void Fuzz(string name, byte[] valid, Action<string> read, int iterations = 300)
    {
        read(Write(Path.Combine(root, "valid-" + Guid.NewGuid().ToString("N")), name, valid)); // the valid file is read
        Inputs.Sample(input =>
        {
            byte[] bytes = Mutate(valid, input.Seed, input.Mutate);
            string folder = Path.Combine(root, Guid.NewGuid().ToString("N"));
            string path = Write(folder, name, bytes);
            long before = GC.GetAllocatedBytesForCurrentThread();
            try { read(path); }
            catch (InvalidDataException) { }
            catch (Exception e)
            {
                throw new Xunit.Sdk.XunitException(
                    $"{name}: {e.GetType().Name} escaped ({e.Message}) for seed {input.Seed}");
            }
            finally { Directory.Delete(folder, recursive: true); }
            long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
            Assert.True(allocated < (2 << 20) + 200L * bytes.Length,
                $"{name}: {allocated:N0} bytes allocated for a {bytes.Length}-byte file (seed {input.Seed})");
        }, iter: iterations * Scale, threads: 1);
    }

    /// <summary>RECUR_FUZZ_SCALE=N runs N times as many cases (for a deeper search than CI's).</summary>
    static readonly int Scale = int.TryParse(Environment.GetEnvironmentVariable("RECUR_FUZZ_SCALE"), out int n) && n > 0
        ? n : 1;

    static string Write(string folder, string name, byte[] bytes)
    {
        Directory.CreateDirectory(folder);
        string path = Path.Combine(folder, name);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    byte[] Saved(Action<string> save, string name)
    {
        string folder = Path.Combine(root, "source-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(folder);
        save(folder);
        return File.ReadAllBytes(Path.Combine(folder, name));
    }

    [Fact]
    public void SafeTensors_()
    {
        var tensors = new Dictionary<string, Tensor>
        {
            ["weight_ih_l0"] = Tensor.FromArray([1f, 2, 3, 4, 5, 6], 2, 3), ["bias"] = Tensor.FromArray([0.5f, -1], 2),
        };
        Fuzz("model.safetensors", Saved(f => SafeTensors.Save(Path.Combine(f, "m"), tensors), "m"), p
            => SafeTensors.Load(p));
    }

    [Fact]
    public void Tokenizers_()
    {
        Fuzz(Tokenizers.File, Saved(f => Tokenizers.Train("char", "hello, world").Save(f), Tokenizers.File),
            p => Tokenizers.Load(Path.GetDirectoryName(p)!));
        Fuzz(Tokenizers.File, Saved(f => Tokenizers.Train("word", "the cat sat on the mat").Save(f), Tokenizers.File),
            p => Tokenizers.Load(Path.GetDirectoryName(p)!));
    }

    [Fact]
    public void BytePairMerges()
    {
        string source = Path.Combine(root, "bpe");
        Directory.CreateDirectory(source);
        var bpe = BpeTrainer.Train(string.Concat(Enumerable.Repeat("lower newest widest low ", 20)), 280);
        bpe.Save(source);
        byte[] vocab = File.ReadAllBytes(Path.Combine(source, ByteLevelBpeTokenizer.VocabFile));
        byte[] merges = File.ReadAllBytes(Path.Combine(source, ByteLevelBpeTokenizer.MergesFile));
        Fuzz(ByteLevelBpeTokenizer.MergesFile, merges, p =>
        {
            File.WriteAllBytes(Path.Combine(Path.GetDirectoryName(p)!, ByteLevelBpeTokenizer.VocabFile), vocab);
            ByteLevelBpeTokenizer.Load(Path.Combine(Path.GetDirectoryName(p)!, ByteLevelBpeTokenizer.VocabFile), p);
        });
        Fuzz(ByteLevelBpeTokenizer.VocabFile, vocab, p =>
        {
            string m = Path.Combine(Path.GetDirectoryName(p)!, ByteLevelBpeTokenizer.MergesFile);
            File.WriteAllBytes(m, merges);
            ByteLevelBpeTokenizer.Load(p, m);
        });
    }

    [Fact]
    public void WordVocabularies()
    {
        var vocabulary = WordVocabulary.Build([["the", "cat"], ["a", "dog", "the"]]);
        Fuzz("vocab.json", Saved(f => vocabulary.Save(Path.Combine(f, "vocab.json")), "vocab.json"), p
            => WordVocabulary.Load(p));
    }

    [Fact]
    public void CsvAndTsvTables()
    {
        Fuzz("data.csv", Encoding.UTF8.GetBytes("text,label\n\"a, quoted\",1\nplain,0\n\"two\nlines\",1\n"), p
            => TableFile.Read(p));
        Fuzz("data.tsv", Encoding.UTF8.GetBytes("sentence\tlabel\nhello there\t1\n\"tab\there\"\t0\n"), p
            => TableFile.Read(p));
    }

    [Fact]
    public void ConllFiles() => Fuzz("train.conll",
        Encoding.UTF8.GetBytes("-DOCSTART- -X- -X- O\n\nEU NNP B-NP B-ORG\nrejects VBZ B-VP O\nGerman JJ B-NP "
            + "B-MISC\n\nPeter NNP B-NP B-PER\n"),
        p => ConllReader.Read(p));

    [Fact]
    public void SentencePairFiles() => Fuzz("pairs.tsv",
        Encoding.UTF8.GetBytes("Go.\tVa !\tCC-BY 2.0\nHi.\tSalut !\tCC-BY 2.0\nI'm ok.\tÇa va.\tCC-BY 2.0\n"),
        p => SentencePairs.Read(p, new PairOptions()));

    [Fact]
    public void IdxFiles()
    {
        byte[] valid = [0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 2, 1, 2, 3, 4, 5, 6, 7, 8];
        Fuzz("images-idx3-ubyte", valid, p => Idx.Read(p));
    }

    [Fact]
    public void WavFiles()
    {
        string path = Path.Combine(root, "tone.wav");
        Wav.Write(path, new WavAudio(8000, 2, Enumerable.Range(0, 64).Select(i => MathF.Sin(i * 0.3f)).ToArray()));
        Fuzz("tone.wav", File.ReadAllBytes(path), p => Wav.Read(p));
    }

    [Fact]
    public void IdxHeaderAnnouncingGigabytesIsRefusedWithoutAllocatingThem()
    {
        string path = Write(root, "huge-idx1-ubyte", [0, 0, 8, 1, 0x7F, 0xFF, 0xFF, 0xF0, 1, 2, 3]);
        long before = GC.GetAllocatedBytesForCurrentThread();
        Assert.Contains("truncated", Assert.Throws<InvalidDataException>(() => Idx.Read(path)).Message);
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 1 << 20);
    }

    [Fact]
    public void MetricsLogs() => Fuzz(RunFolder.MetricsFile,
        Encoding.UTF8.GetBytes("{\"type\":\"train\",\"epoch\":1,\"step\":5,\"loss\":0.5}\n"
            + "{\"type\":\"eval\",\"epoch\":1,\"step\":5,\"loss\":0.4}\n"),
        p => MetricsLog.Read(p));

    [Fact]
    public void HopfieldPatternFiles() => Fuzz("patterns.txt", Encoding.UTF8.GetBytes("// two\n#.#\n.#.\n\n##.\n..#\n"),
        p => PatternFile.Read(p));

    [Fact]
    public void CheckpointManifestsAndConfigs()
    {
        string source = Path.Combine(root, "ckpt");
        var model = new Recur.Nn.Linear(2, 2, new RandomGenerator(1));
        Checkpoint.Save(source, model, new System.Text.Json.Nodes.JsonObject
        {
            ["architecture"] = "linear",
            ["in"] = 2
        });
        var files = Directory.GetFiles(source).ToDictionary(f => Path.GetFileName(f), File.ReadAllBytes);
        foreach (string target in new[] { Checkpoint.ManifestFile, Checkpoint.ConfigFile, Checkpoint.ModelFile })
            Fuzz(target, files[target], p =>
            {
                string folder = Path.GetDirectoryName(p)!;
                foreach (var (name, bytes) in files) if (name != target) File.WriteAllBytes(Path.Combine(folder, name),
                    bytes!);
                Checkpoint.LoadModel(folder, new Recur.Nn.Linear(2, 2, new RandomGenerator(2)));
                Checkpoint.ReadConfig(folder);
            }, iterations: 150);
    }
}

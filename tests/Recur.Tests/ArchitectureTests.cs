using System.Text.RegularExpressions;

namespace Recur.Tests;

/// <summary>
/// The layer map of <c>docs/architecture.md</c>, checked on the source: a folder of the library may name only folders
/// of lower layers (Kernels and Serialization at the bottom, tasks at the top, tasks never each other).
/// </summary>
public sealed partial class ArchitectureTests
{
    /// <summary>Each folder of src/Recur and its layer; "(root)" is Tensor and its companions beside
    /// Autograd.</summary>
    static readonly Dictionary<string, int> Layers = new()
    {
        ["Kernels"] = 0, ["Serialization"] = 0,
        ["(root)"] = 1, ["Autograd"] = 1,
        ["Nn"] = 2,
        ["Diagnostics"] = 3, ["Optim"] = 3,
        ["Training"] = 4, ["Data"] = 4, ["Text"] = 4, ["Decoding"] = 4,
        ["Tasks"] = 5, ["Language"] = 5, ["Tagging"] = 5, ["Translation"] = 5, ["Classification"] = 5,
        ["Forecasting"] = 5, ["Energy"] = 5, ["Speech"] = 5, ["WaveNet"] = 5, ["Memory"] = 5, ["Captioning"] = 5,
        ["Export"] = 6,
    };

    /// <summary>Tensor and Autograd are one layer: the tensor records its ops, the ops make tensors.</summary>
    static bool SameLayerAllowed(string from, string to) => from is "(root)" or "Autograd"
        && to is "(root)" or "Autograd";

    static string Repository() => SharedData.Repository();

    [GeneratedRegex(@"\bRecur\.([A-Z][A-Za-z]*)")]
    private static partial Regex Qualified();

    [Fact]
    public void LibraryFoldersPointOnlyDown()
    {
        string library = Path.Combine(Repository(), "src", "Recur");
        var folders = Directory.GetDirectories(library).Select(Path.GetFileName).Where(n
            => n is not ("bin" or "obj")).ToList();
        Assert.All(folders, f => Assert.True(Layers.ContainsKey(f!), $"src/Recur/{f}/ has no layer in the map"));
        var violations = new List<string>();
        foreach (string file in Directory.EnumerateFiles(library, "*.cs", SearchOption.AllDirectories))
        {
            string relative = Path.GetRelativePath(library, file);
            if (relative.StartsWith("obj", StringComparison.Ordinal) || relative.StartsWith("bin",
                StringComparison.Ordinal)) continue;
            string from = relative.Contains(Path.DirectorySeparatorChar)
                ? relative.Split(Path.DirectorySeparatorChar)[0] : "(root)";
            string text = File.ReadAllText(file);
            var named = Qualified().Matches(text).Select(m => m.Groups[1].Value).ToHashSet();
            // names qualified from inside namespace Recur, such as Diagnostics.Inspection
            foreach (string folder in folders!)
                if (Regex.IsMatch(text, $@"(?<![\w.]){folder}\.[A-Z]")) named.Add(folder!);
            foreach (string to in named.Where(n => Layers.ContainsKey(n) && n != from))
                if (Layers[to] >= Layers[from] && !SameLayerAllowed(from, to))
                    violations.Add($"{relative} ({from}, layer {Layers[from]}) names {to} (layer {Layers[to]})");
        }
        Assert.True(violations.Count == 0, string.Join("\n", violations));
    }

    [Fact]
    public void NoVerbCallsAnotherVerb()
    {
        string cli = Path.Combine(Repository(), "src", "Recur.Cli");
        var verbs = Directory.GetFiles(cli, "*Command.cs").Select(f => Path.GetFileNameWithoutExtension(f)!).Where(v
            => v != "RecurCommand").ToList();
        var calls = new List<string>();
        foreach (string verb in verbs)
        {
            string text = File.ReadAllText(Path.Combine(cli, verb + ".cs"));
            foreach (string other in verbs.Where(o => o != verb))
                if (Regex.IsMatch(text, $@"\b{other}\.")) calls.Add($"{verb} → {other}");
        }
        Assert.True(calls.Count == 0, "verbs share code through the library or Cli/Training, not each other: "
            + string.Join(", ", calls));
    }

    /// <summary>
    /// Lines of C# are at most 120 characters; the only exceptions are lines holding a string literal too long to break
    /// without changing it (a message, a template).
    /// </summary>
    [Fact]
    public void NoLineIsLongerThan120Characters()
    {
        var longLines = new List<string>();
        foreach (string top in new[] { "src", "tests", "examples" })
            foreach (string file in Directory.EnumerateFiles(Path.Combine(Repository(), top), "*.cs",
                SearchOption.AllDirectories))
            {
                string relative = Path.GetRelativePath(Repository(), file);
                var parts = relative.Split(Path.DirectorySeparatorChar);
                if (parts.Contains("bin") || parts.Contains("obj")) continue;
                var lines = File.ReadAllLines(file);
                for (int i = 0; i < lines.Length; i++)
                    if (lines[i].Length > 120)
                        longLines.Add($"{relative}:{i + 1} ({lines[i].Length} characters)");
            }
        Assert.True(longLines.Count == 0, "lines over 120 characters:\n" + string.Join("\n", longLines));
    }

    /// <summary>
    /// A test folder is named after the library folder it tests (or the project: Cli, Explore, Figures), so a reader
    /// finds a type's tests where its source is; Core holds the root namespace's, Fixtures the shared fixtures.
    /// </summary>
    [Fact]
    public void TestFoldersMirrorTheLibrary()
    {
        var library = Directory.EnumerateDirectories(Path.Combine(Repository(), "src", "Recur"))
            .Select(Path.GetFileName).ToHashSet();
        string[] others = ["Cli", "Explore", "Figures", "Core", "Fixtures", "bin", "obj"];
        var strays = Directory.EnumerateDirectories(Path.Combine(Repository(), "tests", "Recur.Tests"))
            .Select(Path.GetFileName).Where(name => !library.Contains(name) && !others.Contains(name)).ToList();
        Assert.True(strays.Count == 0, "test folders with no library folder: " + string.Join(", ", strays));
    }
}

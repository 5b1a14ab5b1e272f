using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Nodes;
using Recur.Nn;
using Recur.Optim;
using Recur.Serialization;

namespace Recur.Training;

/// <summary>
/// A checkpoint directory: <c>model.safetensors</c> (PyTorch state-dict names), <c>config.json</c> (enough to rebuild
/// the model), optionally <c>optimizer.safetensors</c> and <c>trainer.json</c> (counters, schedule, random-generator
/// states), and <c>manifest.json</c> with the size and SHA-256 of every file. A checkpoint is written into a fresh
/// sibling folder and swapped in with renames, so the previous one survives any crash; a truncated or modified file is
/// refused on loading.
/// </summary>
public static class Checkpoint
{
    /// <summary>The weights file.</summary>
    public const string ModelFile = "model.safetensors";
    /// <summary>The model configuration file.</summary>
    public const string ConfigFile = "config.json";
    /// <summary>The optimizer state file.</summary>
    public const string OptimizerFile = "optimizer.safetensors";
    /// <summary>The trainer state file.</summary>
    public const string TrainerFile = "trainer.json";
    /// <summary>State a task carries between batches (<see cref="IStatefulTrainingTask"/>), when it has any.</summary>
    public const string TaskStateFile = "task_state.safetensors";
    /// <summary>
    /// With weight averaging, the weights training continues from (<c>model.safetensors</c> then holds the averaged
    /// ones).
    /// </summary>
    public const string TrainingWeightsFile = "training_weights.safetensors";
    /// <summary>The integrity manifest.</summary>
    public const string ManifestFile = "manifest.json";

    static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    /// <summary>
    /// Writes a checkpoint of <paramref name="model"/> to <paramref name="directory"/>, replacing an earlier one only
    /// once the new one is complete. Refuses (with <see cref="NonFiniteException"/>) to write weights that are NaN or
    /// ∞.
    /// </summary>
    public static void Save(string directory, Module model, JsonObject config, Optimizer? optimizer = null,
        JsonObject? trainerState = null, IReadOnlyDictionary<string, Tensor>? taskState = null,
        IReadOnlyDictionary<string, Tensor>? trainingWeights = null)
    {
        foreach (var (name, value) in model.NamedParameters().Concat(trainingWeights?.Select(p => ("training " + p.Key,
            p.Value)) ?? []))
            foreach (float v in value.Span)
                if (!float.IsFinite(v))
                    throw new NonFiniteException($"refusing to write checkpoint {directory}: parameter '{name}' "
                        + $"holds {v}; the previous checkpoint is kept.");
        string target = Path.GetFullPath(directory).TrimEnd(Path.DirectorySeparatorChar);
        string parent = Path.GetDirectoryName(target)!;
        Directory.CreateDirectory(parent);
        string name0 = Path.GetFileName(target);
        foreach (var stale in Directory.GetDirectories(parent, name0 + ".tmp-*")) Directory.Delete(stale,
            recursive: true);
        string staging = $"{target}.tmp-{Environment.ProcessId}-{Guid.NewGuid():N}";
        Directory.CreateDirectory(staging);
        try
        {
            model.Save(Path.Combine(staging, ModelFile));
            AtomicFile.WriteAllText(Path.Combine(staging, ConfigFile), config.ToJsonString(Indented));
            optimizer?.SaveState(Path.Combine(staging, OptimizerFile));
            if (trainerState != null) AtomicFile.WriteAllText(Path.Combine(staging, TrainerFile),
                trainerState.ToJsonString(Indented));
            if (taskState is { Count: > 0 }) SafeTensors.Save(Path.Combine(staging, TaskStateFile), taskState);
            if (trainingWeights != null) SafeTensors.Save(Path.Combine(staging, TrainingWeightsFile), trainingWeights);
            var files = new JsonObject();
            foreach (var file in Directory.GetFiles(staging).Select(Path.GetFileName).Order(StringComparer.Ordinal))
                files[file!] = new JsonObject
                {
                    ["size"] = new FileInfo(Path.Combine(staging, file!)).Length,
                    ["sha256"] = Hash(Path.Combine(staging, file!))
                };
            AtomicFile.WriteAllText(Path.Combine(staging, ManifestFile),
                new JsonObject
                {
                    ["format"] = "recur-checkpoint", ["version"] = 1,
                    ["files"] = files
                }.ToJsonString(Indented));
            if (Directory.Exists(target))
            {
                string old = $"{target}.old-{Guid.NewGuid():N}";
                Directory.Move(target, old);
                Directory.Move(staging, target);
                Directory.Delete(old, recursive: true);
            }
            else Directory.Move(staging, target);
            foreach (var old in Directory.GetDirectories(parent, name0 + ".old-*")) Directory.Delete(old,
                recursive: true);
        }
        catch
        {
            if (Directory.Exists(staging)) Directory.Delete(staging, recursive: true);
            throw;
        }
    }

    /// <summary>
    /// The folder that holds the checkpoint named <paramref name="directory"/>: the folder itself, or, after a crash
    /// between the two renames of <see cref="Save"/>, the complete previous checkpoint left beside it.
    /// </summary>
    public static string Resolve(string directory)
    {
        string target = Path.GetFullPath(directory).TrimEnd(Path.DirectorySeparatorChar);
        if (Directory.Exists(target)) return target;
        string parent = Path.GetDirectoryName(target)!;
        var survivor = Directory.Exists(parent) ? Directory.GetDirectories(parent,
            Path.GetFileName(target) + ".old-*").FirstOrDefault() : null;
        return survivor ?? throw new DirectoryNotFoundException($"checkpoint {directory} does not exist.");
    }

    /// <summary>
    /// Checks every file against the manifest (present, same size, same SHA-256) and returns the resolved folder;
    /// a missing manifest is an error unless <paramref name="requireManifest"/> is false (a model folder written by
    /// another tool).
    /// </summary>
    public static string Verify(string directory, bool requireManifest = true)
    {
        string folder = Resolve(directory);
        string manifestPath = Path.Combine(folder, ManifestFile);
        if (!File.Exists(manifestPath))
        {
            if (requireManifest) throw new InvalidDataException(
                $"checkpoint {directory}: {ManifestFile} is missing, so its files cannot be trusted.");
            return folder;
        }
        JsonObject files;
        try
        {
            files = JsonNode.Parse(File.ReadAllText(manifestPath))?["files"] as JsonObject
                ?? throw new InvalidDataException("no 'files' object");
        }
        catch (Exception e) when (e is JsonException or InvalidDataException or ArgumentException
            or InvalidOperationException)
        {
            throw new InvalidDataException($"checkpoint {directory}: {ManifestFile} is malformed ({e.Message}).", e);
        }
        try { VerifyFiles(directory, folder, files); }
        catch (Exception e) when (e is InvalidOperationException or FormatException or ArgumentException
            or OverflowException)
        {
            throw new InvalidDataException($"checkpoint {directory}: {ManifestFile} is malformed ({e.Message}).", e);
        }
        return folder;
    }

    static void VerifyFiles(string directory, string folder, JsonObject files)
    {
        foreach (var (file, entry) in files)
        {
            string path = Path.Combine(folder, file);
            if (file.Contains('/') || file.Contains('\\') || !File.Exists(path))
                throw new InvalidDataException(
                    $"checkpoint {directory}: {file} is listed in the manifest but missing.");
            long expected = entry?["size"]?.GetValue<long>() ?? -1, actual = new FileInfo(path).Length;
            if (actual != expected)
                throw new InvalidDataException($"checkpoint {directory}: {file} is {actual} bytes but the manifest "
                    + $"says {expected} (truncated or replaced).");
            if (Hash(path) != entry?["sha256"]?.GetValue<string>())
                throw new InvalidDataException($"checkpoint {directory}: {file} does not match its SHA-256 in the "
                    + $"manifest (modified after it was written).");
        }
        foreach (var required in new[] { ModelFile, ConfigFile })
            if (!files.ContainsKey(required)) throw new InvalidDataException(
                $"checkpoint {directory}: the manifest does not list {required}.");
    }

    /// <summary>Reads <c>config.json</c> of a checkpoint or model folder.</summary>
    public static JsonObject ReadConfig(string directory) =>
        ConfigJson.ReadObject(Path.Combine(Resolve(directory), ConfigFile));

    /// <summary>Verifies the folder and loads its weights into <paramref name="model"/> (strict names and
    /// shapes).</summary>
    public static void LoadModel(string directory, Module model, bool requireManifest = true) =>
        LoadWeights(Verify(directory, requireManifest), model);

    /// <summary>
    /// The checkpoint a user means by <paramref name="path"/>: the path itself when it is a checkpoint folder, else,
    /// for a run folder, its <c>best/</c> checkpoint or, when there is none, its <c>last/</c> — each found even when a
    /// crash left it beside its name (<see cref="Resolve"/>).
    /// </summary>
    /// <exception cref="DirectoryNotFoundException">Neither a checkpoint nor a run folder with one.</exception>
    public static string Locate(string path)
    {
        if (File.Exists(Path.Combine(path, ConfigFile)) || File.Exists(Path.Combine(path,
            ManifestFile))) return Resolve(path);
        if (!Directory.Exists(path)) throw new DirectoryNotFoundException($"{path}: no such model folder.");
        foreach (string name in new[] { "best", "last" })
        {
            try { return Resolve(Path.Combine(path, name)); }
            catch (DirectoryNotFoundException) { }
        }
        throw new DirectoryNotFoundException(File.Exists(Path.Combine(path, RunFolder.IncompleteMarker))
            ? $"{path} holds an incomplete run: it stopped before its first checkpoint, so there is no model to load."
            : $"{path} holds no checkpoint (no config.json, best/ or last/).");
    }

    /// <summary>
    /// Opens the checkpoint <paramref name="path"/> means (<see cref="Locate"/>): first checks every file against its
    /// manifest — so an edited <c>config.json</c> is refused before it can size any allocation — then builds the model
    /// from the configuration with <paramref name="build"/> and loads its weights (strict names and shapes).
    /// </summary>
    public static T Open<T>(string path, Func<JsonObject, T> build) where T : Module
    {
        string folder = Verify(Locate(path));
        T model;
        try
        {
            model = build(ReadConfig(folder));
        }
        catch (InvalidDataException e) when (!e.Message.StartsWith(folder, StringComparison.Ordinal))
        {
            throw new InvalidDataException($"{Path.Combine(folder, ConfigFile)}: {e.Message}", e);
        }
        LoadWeights(folder, model);
        return model;
    }

    /// <summary>Loads the weights (<paramref name="file"/>, by default the model file) of a folder that
    /// <see cref="Verify"/> has already checked.</summary>
    internal static void LoadWeights(string folder, Module model, string file = ModelFile)
    {
        try
        {
            model.Load(Path.Combine(folder, file));
        }
        catch (ArgumentException e)
        {
            throw new InvalidDataException(e.Message, e); // the message names the file
        }
    }

    static string Hash(string path)
    {
        using var stream = File.OpenRead(path);
        return Convert.ToHexStringLower(SHA256.HashData(stream));
    }
}

/// <summary>A loss, gradient or weight that is NaN or infinite where training needs finite numbers.</summary>
public sealed class NonFiniteException(string message) : ArithmeticException(message);

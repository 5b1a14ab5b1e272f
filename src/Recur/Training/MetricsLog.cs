using System.Text.Json;

namespace Recur.Training;

/// <summary>One line of a run's <c>metrics.jsonl</c>: a training record (<c>train</c>) or a validation
/// (<c>eval</c>).</summary>
/// <param name="Type"><c>train</c> or <c>eval</c>.</param>
/// <param name="Epoch">1-based epoch.</param>
/// <param name="Step">Optimizer steps taken when it was written.</param>
/// <param name="Values">Every other numeric field: loss, lr, grad_norm, accuracy, … (null fields are left out).</param>
public sealed record MetricsEntry(string Type, int Epoch, long Step, IReadOnlyDictionary<string, double> Values);

/// <summary>Reads the <c>metrics.jsonl</c> a <see cref="Trainer{TBatch}"/> writes.</summary>
public static class MetricsLog
{
    /// <summary>
    /// Reads every record of <paramref name="path"/>. A line that is not a JSON object with <c>type</c>,
    /// <c>epoch</c> and <c>step</c> is an error naming the file and line; a last line cut short by an interrupted write
    /// is skipped.
    /// </summary>
    public static IReadOnlyList<MetricsEntry> Read(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: no such metrics file.", path);
        var lines = File.ReadAllLines(path);
        var entries = new List<MetricsEntry>();
        for (int i = 0; i < lines.Length; i++)
        {
            if (string.IsNullOrWhiteSpace(lines[i])) continue;
            try
            {
                using var document = JsonDocument.Parse(lines[i]);
                var root = document.RootElement;
                if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("type",
                    out var type) || !root.TryGetProperty("epoch", out var epoch) || !root.TryGetProperty("step",
                    out var step))
                    throw new InvalidDataException(
                        $"{path}, line {i + 1}: expected an object with type, epoch and step.");
                var values = new Dictionary<string, double>();
                foreach (var property in root.EnumerateObject())
                    if (property.Name is not ("type" or "epoch" or "step")
                        && property.Value.ValueKind == JsonValueKind.Number)
                        values[property.Name] = property.Value.GetDouble();
                entries.Add(new(type.GetString() ?? "", epoch.GetInt32(), step.GetInt64(), values));
            }
            catch (JsonException e)
            {
                if (i == lines.Length - 1 && i > 0) break; // a record cut short by an interrupted write
                throw new InvalidDataException($"{path}, line {i + 1}: not valid JSON ({e.Message}).", e);
            }
            catch (Exception e) when (e is InvalidOperationException or FormatException)
            {
                throw new InvalidDataException($"{path}, line {i + 1}: a field has the wrong type ({e.Message}).", e);
            }
        }
        return entries;
    }

    /// <summary>
    /// Drops every record written after optimizer step <paramref name="step"/> (and a last line cut short), replacing
    /// the file atomically: a run resumed from a checkpoint at that step logs the replayed steps once, not twice.
    /// </summary>
    public static void TruncateAfter(string path, long step)
    {
        if (!File.Exists(path)) return;
        var kept = new System.Text.StringBuilder();
        bool dropped = false;
        foreach (string line in File.ReadAllLines(path))
        {
            if (string.IsNullOrWhiteSpace(line)) continue;
            long? at = null;
            try
            {
                using var document = JsonDocument.Parse(line);
                if (document.RootElement.ValueKind == JsonValueKind.Object
                    && document.RootElement.TryGetProperty("step", out var value)
                        && value.TryGetInt64(out long s)) at = s;
            }
            catch (JsonException) { }
            if (at is long s2 && s2 <= step) kept.Append(line).Append('\n');
            else dropped = true;
        }
        if (dropped) Serialization.AtomicFile.WriteAllText(path, kept.ToString());
    }
}

using System.Text.Json.Nodes;

namespace Recur.Training;

/// <summary>Helpers for the <c>config.json</c> a task writes.</summary>
public static class TaskConfig
{
    /// <summary>
    /// <paramref name="config"/> with every entry of <paramref name="extra"/> (settings the model does not own, such as
    /// labels or the task's name) copied in, replacing entries of the same name.
    /// </summary>
    public static JsonObject With(this JsonObject config, JsonObject? extra)
    {
        foreach (var (k, v) in extra ?? []) config[k] = v?.DeepClone();
        return config;
    }
}

namespace Recur.Kernels;

/// <summary>
/// Sets an <see cref="AsyncLocal{T}"/> setting for the calling flow (the thread and the work it starts) until the
/// returned scope is disposed, which puts back the value it had before: the one way the kernels' test and tuning
/// overrides are scoped.
/// </summary>
internal static class FlowOverride
{
    public static IDisposable Set<T>(AsyncLocal<T> setting, T value) where T : struct
    {
        var previous = setting.Value;
        setting.Value = value;
        return new Restore<T>(setting, previous);
    }

    sealed class Restore<T>(AsyncLocal<T> setting, T previous) : IDisposable where T : struct
    {
        public void Dispose() => setting.Value = previous;
    }
}

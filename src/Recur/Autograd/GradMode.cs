namespace Recur.Autograd;

/// <summary>Whether operations on this thread record backward steps.</summary>
public static class GradMode
{
    [ThreadStatic] static int disabledDepth;

    /// <summary>True unless inside a <see cref="NoGrad"/> scope.</summary>
    public static bool IsEnabled => disabledDepth == 0;

    /// <summary>
    /// A scope (use with <c>using</c>) in which nothing is recorded: for inference and for parameter updates.
    /// Scopes nest.
    /// </summary>
    public static Scope NoGrad()
    {
        Enter();
        return new Scope();
    }

    internal static void Enter() => disabledDepth++;

    internal static void Leave() => disabledDepth--;

    /// <summary>Ends a <see cref="NoGrad"/> scope when disposed.</summary>
    public readonly struct Scope : IDisposable
    {
        /// <summary>Leaves the scope.</summary>
        public void Dispose() => Leave();
    }
}

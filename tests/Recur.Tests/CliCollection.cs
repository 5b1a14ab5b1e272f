namespace Recur.Tests;

/// <summary>
/// Test classes that run <c>recur</c> verbs in process share the console (some capture it), so they run one after
/// another; everything else runs in parallel with them. Kernel thread counts are scoped per flow
/// (<c>Parallelism.Limit</c>), so a test that sets one knows what it ran.
/// </summary>
[CollectionDefinition("cli")]
public sealed class CliCollection;

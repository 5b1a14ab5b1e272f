namespace Recur.Tests;

/// <summary>Locates <c>../shared/data</c> (beside the repository) for tests that read the real datasets.</summary>
static class SharedData
{
    public static string Folder(string relative) =>
        Path.GetFullPath(Path.Combine(RepositoryOrBase(), "..", "shared", "data", relative));

    /// <summary>The repository root (the folder holding Recur.sln above the test binaries).</summary>
    public static string Repository()
    {
        string root = RepositoryOrBase();
        return File.Exists(Path.Combine(root, "Recur.sln")) ? root
            : throw new DirectoryNotFoundException("the repository root (Recur.sln) is not above the test binaries");
    }

    static string RepositoryOrBase()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir != null && !File.Exists(Path.Combine(dir.FullName, "Recur.sln"))) dir = dir.Parent;
        return dir?.FullName ?? AppContext.BaseDirectory;
    }
}

/// <summary>A fact that is skipped, with the reason shown, when a folder of <c>../shared/data</c> is absent.</summary>
public sealed class SharedDataFactAttribute : FactAttribute
{
    public SharedDataFactAttribute(string relative)
    {
        string folder = SharedData.Folder(relative);
        if (!Directory.Exists(folder)) Skip = $"needs the shared dataset folder {folder}, which is absent";
    }
}

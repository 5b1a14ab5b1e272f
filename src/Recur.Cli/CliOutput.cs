using Recur.Cli.Training;
using Recur.Figures;

namespace Recur.Cli;

/// <summary>What every verb prints the same way.</summary>
static class CliOutput
{
    /// <summary>The figure files written; on stderr when stdout carries JSON.</summary>
    public static void PrintFiles(FigureFiles files, bool json)
    {
        var writer = json ? Console.Error : Console.Out;
        writer.WriteLine($"figure: {files.Png}");
        writer.WriteLine($"figure: {files.Svg}");
    }

    /// <summary>A <c>--model</c> folder that does not exist is a usage mistake (exit code 2), said before any
    /// loading.</summary>
    public static string ModelFolder(string folder) =>
        Directory.Exists(folder) ? folder : throw new UsageException($"{folder}: no such model folder.");
}

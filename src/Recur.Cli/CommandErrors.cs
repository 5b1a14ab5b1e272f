using Recur.Cli.Training;
using Recur.Training;

namespace Recur.Cli;

/// <summary>Turns expected failures into a one-line message on stderr and a non-zero exit code.</summary>
static class CommandErrors
{
    public static int Guard(Func<int> action)
    {
        try
        {
            return action();
        }
        catch (Exception e) when (e is UsageException or RunFolderInUseException)
        {
            Console.Error.WriteLine($"recur: {e.Message}");
            return 2;
        }
        catch (Exception e) when (e is InvalidDataException or IOException or UnauthorizedAccessException
            or NonFiniteException or ArgumentException or NotSupportedException)
        {
            Console.Error.WriteLine($"recur: {e.Message}");
            return 1;
        }
    }
}

using System.CommandLine;
using Recur.Nn.Recurrent;

namespace Recur.Cli.Training;

/// <summary>
/// <c>--cell</c> for every verb, over the one vocabulary of <see cref="RecurrentCells"/>; a verb that can run only
/// some cells says which, and a cell it cannot use is refused with the reason.
/// </summary>
static class CellOption
{
    public static Option<CellKind> Create(CellKind defaultCell = CellKind.Lstm, IReadOnlyList<CellKind>? only = null,
        string? why = null)
    {
        var accepted = only ?? RecurrentCells.All;
        var acceptedNames = accepted.Select(RecurrentCells.Name).ToList();
        string names = string.Join(", ", acceptedNames);
        string all = string.Join(", ", RecurrentCells.Names);
        return new Option<CellKind>("--cell")
        {
            Description = $"Recurrent cell: {names}" + (only is null ? "." : $" ({why}; Recur's cells: {all})."),
            DefaultValueFactory = _ => defaultCell,
            HelpName = string.Join("|", acceptedNames),
            CustomParser = result =>
            {
                string cell = result.Tokens.Count > 0 ? result.Tokens[^1].Value : "";
                if (RecurrentCells.TryParse(cell, out var kind) && accepted.Contains(kind)) return kind;
                result.AddError(cell is "ntm" or "ntm-ff"
                    ? $"--cell {cell}: the Neural Turing Machine is a machine with a memory, not a recurrent cell; it "
                        + "has its own verb, `recur ntm train --task copy|recall --cell ntm|lstm` (Graves et al.'s "
                        + "tasks)."
                    : RecurrentCells.TryParse(cell, out _)
                        ? $"--cell {cell}: this verb runs {names} only ({why})."
                        : $"--cell {cell}: unknown; Recur's cells are {all}.");
                return defaultCell;
            },
        };
    }

    /// <summary>A comma-separated list of cells, as <c>--cells</c> takes; an unknown cell is a usage error.</summary>
    public static CellKind[] ParseList(string list)
    {
        var cells = list.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (cells.Length == 0) throw new UsageException("--cells is empty.");
        return [.. cells.Select(cell => RecurrentCells.TryParse(cell, out var kind) ? kind
            : throw new UsageException($"--cells: '{cell}' is not one of {string.Join(", ", RecurrentCells.Names)}."))];
    }
}

using System.CommandLine;
using Recur.Nn.Recurrent;

namespace Recur.Cli.Training;

/// <summary>
/// <c>--cell</c> for every verb, over the one vocabulary of <see cref="RecurrentCells"/>; a verb that can run only
/// some cells says which, and a cell it cannot use is refused with the reason.
/// </summary>
static class CellOption
{
    public static Option<string> Create(string defaultCell = "lstm", IReadOnlyList<string>? only = null,
        string? why = null)
    {
        var accepted = only ?? RecurrentCells.Names;
        var option = new Option<string>("--cell")
        {
            Description = $"Recurrent cell: {string.Join(", ", accepted)}"
                + (only is null ? "." : $" ({why}; Recur's cells: {string.Join(", ", RecurrentCells.Names)})."),
            DefaultValueFactory = _ => defaultCell,
            HelpName = string.Join("|", accepted),
        };
        option.Validators.Add(result =>
        {
            string cell = result.GetValueOrDefault<string>() ?? "";
            if (accepted.Contains(cell)) return;
            result.AddError(cell is "ntm" or "ntm-ff"
                ? $"--cell {cell}: the Neural Turing Machine is a machine with a memory, not a recurrent cell; it has "
                    + "its own verb, `recur ntm train --task copy|recall --cell ntm|lstm` (Graves et al.'s tasks)."
                : RecurrentCells.Names.Contains(cell)
                    ? $"--cell {cell}: this verb runs {string.Join(", ", accepted)} only ({why})."
                    : $"--cell {cell}: unknown; Recur's cells are {string.Join(", ", RecurrentCells.Names)}.");
        });
        return option;
    }

    /// <summary>A comma-separated list of cells, as <c>--cells</c> takes; an unknown cell is a usage error.</summary>
    public static string[] ParseList(string list)
    {
        var cells = list.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (cells.Length == 0) throw new UsageException("--cells is empty.");
        foreach (string cell in cells)
            if (!RecurrentCells.Names.Contains(cell))
                throw new UsageException($"--cells: '{cell}' is not one of {string.Join(", ", RecurrentCells.Names)}.");
        return cells;
    }
}

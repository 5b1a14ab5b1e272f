using System.Text.Json;
using System.Text.Json.Serialization;
using Recur.Serialization;

namespace Recur.Nn.Recurrent;

/// <summary>
/// A cell of Recur's one vocabulary (<see cref="RecurrentCells"/>): what every model configuration stores and every
/// <c>--cell</c> option names. In JSON and on the command line each is written by its name — <c>rnn</c>,
/// <c>peephole-lstm</c>, <c>ln-gru</c>, …: the member's name in kebab case (<see cref="RecurrentCells.Name"/>).
/// </summary>
[JsonConverter(typeof(KebabCaseEnumConverter<CellKind>))]
public enum CellKind
{
    /// <summary><c>rnn</c>: Elman's network, h_t = tanh(W_ih x_t + W_hh h_{t−1} + b).</summary>
    Rnn,
    /// <summary><c>relu-rnn</c>: the Elman network with ReLU.</summary>
    ReluRnn,
    /// <summary><c>irnn</c>: ReLU with the identity recurrent initialisation of Le et al. (2015).</summary>
    Irnn,
    /// <summary><c>leaky</c>: leaky-integrator tanh units, h_t = (1 − α) h_{t−1} + α tanh(…), α learnt per
    /// unit.</summary>
    Leaky,
    /// <summary><c>lstm</c>: long short-term memory with forget gate, PyTorch's gate order i, f, g, o.</summary>
    Lstm,
    /// <summary><c>peephole-lstm</c>: the LSTM with diagonal peepholes from the cell (Gers &amp; Schmidhuber
    /// 2000).</summary>
    PeepholeLstm,
    /// <summary><c>ln-lstm</c>: the LSTM with layer normalisation of its gate inputs and cell (Ba et al.
    /// 2016).</summary>
    LnLstm,
    /// <summary><c>bn-lstm</c>: the LSTM with batch normalisation per time step (Cooijmans et al. 2016).</summary>
    BnLstm,
    /// <summary><c>gru</c>: the gated recurrent unit in PyTorch's form (reset gate after the recurrent
    /// product).</summary>
    Gru,
    /// <summary><c>cho-gru</c>: the GRU as Cho et al. (2014) wrote it (reset gate before the product).</summary>
    ChoGru,
    /// <summary><c>ln-gru</c>: the GRU with layer normalisation.</summary>
    LnGru,
    /// <summary><c>jordan</c>: Jordan's network, which feeds back its output y_t instead of h_t.</summary>
    Jordan,
}

/// <summary>
/// The one cell vocabulary of Recur: the names every model configuration (and every <c>--cell</c> option) accepts, and
/// what each means for a <see cref="RecurrentLayer"/>. All of them run on the fused kernels.
/// </summary>
public static class RecurrentCells
{
    /// <summary>Every cell, in the order help texts list them.</summary>
    public static IReadOnlyList<CellKind> All { get; } = Enum.GetValues<CellKind>();

    /// <summary>Every cell's name, in the order of <see cref="All"/>.</summary>
    public static IReadOnlyList<string> Names { get; } = [.. All.Select(Name)];

    /// <summary>Where the leak α of a <c>leaky</c> cell starts (each unit then learns its own).</summary>
    public const float DefaultLeak = 0.5f;

    /// <summary>
    /// The cells that can also run a sequence in pieces with the state carried between them — one step at a time when
    /// generating, windows of truncated BPTT: every cell but <c>bn-lstm</c>, whose statistics belong to each time step
    /// of a whole sequence (a piece would be normalised by the statistics of its own first steps).
    /// </summary>
    public static IReadOnlyList<CellKind> Stepwise { get; } = [.. All.Where(cell => cell != CellKind.BnLstm)];

    /// <summary>
    /// The σ of the noise a <c>bn-lstm</c> adds to its initial state in training unless the config names one (<see
    /// cref="RecurrentConfig.StateNoise"/>): Cooijmans et al.'s 0.1 for sequential MNIST.
    /// </summary>
    public const float DefaultStateNoise = 0.1f;

    /// <summary>One line for help texts: the names, separated by <c>|</c>.</summary>
    public static string Choices => string.Join("|", Names);

    /// <summary>The name of <paramref name="cell"/> — as <c>--cell</c> and <c>config.json</c> write it.</summary>
    public static string Name(this CellKind cell) => Enum.IsDefined(cell)
        ? JsonNamingPolicy.KebabCaseLower.ConvertName(cell.ToString())
        : throw new ArgumentOutOfRangeException(nameof(cell), cell, "not a cell of Recur.");

    /// <summary>The cell called <paramref name="name"/>.</summary>
    /// <exception cref="ArgumentException">Not one of <see cref="Names"/>; the message lists them.</exception>
    public static CellKind Parse(string name) => TryParse(name, out var cell) ? cell
        : throw new ArgumentException($"unknown cell '{name}'; Recur's cells are {string.Join(", ", Names)}.");

    /// <summary>Whether <paramref name="name"/> is one of <see cref="Names"/>, and which cell it is.</summary>
    public static bool TryParse(string? name, out CellKind cell)
    {
        for (int k = 0; k < Names.Count; k++)
        {
            if (Names[k] != name) continue;
            cell = All[k];
            return true;
        }
        cell = default;
        return false;
    }

    /// <summary>Whether <paramref name="cell"/> keeps a cell state c besides h (the LSTMs).</summary>
    public static bool HasCellState(CellKind cell) => Mode(cell) == RecurrentMode.Lstm;

    /// <summary>The fused kernel that runs <paramref name="cell"/>.</summary>
    public static RecurrentMode Mode(CellKind cell) => cell switch
    {
        CellKind.Rnn or CellKind.Leaky or CellKind.Jordan => RecurrentMode.RnnTanh,
        CellKind.ReluRnn or CellKind.Irnn => RecurrentMode.RnnRelu,
        CellKind.Lstm or CellKind.PeepholeLstm or CellKind.LnLstm or CellKind.BnLstm => RecurrentMode.Lstm,
        CellKind.Gru or CellKind.ChoGru or CellKind.LnGru => RecurrentMode.Gru,
        _ => throw new ArgumentOutOfRangeException(nameof(cell), cell, "not a cell of Recur."),
    };

    /// <summary>
    /// A layer stack of <paramref name="cell"/>: <paramref name="config"/> with the cell's mode and what the name
    /// adds — peepholes for <c>peephole-lstm</c>, Cho et al.'s reset gate before the product for <c>cho-gru</c>, layer
    /// normalisation (Ba et al. 2016) for <c>ln-lstm</c> and <c>ln-gru</c>, batch normalisation with statistics per
    /// time step (Cooijmans et al. 2016; the config's <see cref="RecurrentConfig.BatchNormSteps"/> of them, and noise
    /// of <see cref="DefaultStateNoise"/> on the initial state in training unless the config sets one) for
    /// <c>bn-lstm</c>, the identity initialisation of Le et al. (2015) for <c>irnn</c>, a learnt leak per unit for
    /// <c>leaky</c> (starting at the config's <see cref="RecurrentConfig.Leak"/>, or <see cref="DefaultLeak"/>), and
    /// for <c>jordan</c> an output
    /// y_t = W_hr h_t + b_hr fed back instead of h_t (the config's <see cref="RecurrentConfig.ProjSize"/> wide, or H).
    /// </summary>
    public static RecurrentConfig Configure(CellKind cell, RecurrentConfig config) => config with
    {
        Mode = Mode(cell),
        Peephole = cell == CellKind.PeepholeLstm,
        LayerNorm = cell is CellKind.LnLstm or CellKind.LnGru,
        BatchNorm = cell == CellKind.BnLstm,
        StateNoise = cell == CellKind.BnLstm && config.StateNoise == 0f ? DefaultStateNoise : config.StateNoise,
        ResetAfter = cell != CellKind.ChoGru,
        ProjSize = cell == CellKind.Jordan ? (config.ProjSize > 0 ? config.ProjSize : config.HiddenSize)
            : config.ProjSize,
        Init = cell == CellKind.Irnn ? RecurrentInit.Identity : config.Init,
        Leak = cell == CellKind.Leaky ? (config.Leak > 0f ? config.Leak : DefaultLeak) : 0f,
        LearnLeak = cell == CellKind.Leaky,
    };
}

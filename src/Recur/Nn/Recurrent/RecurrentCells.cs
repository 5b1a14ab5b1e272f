namespace Recur.Nn.Recurrent;

/// <summary>
/// The one cell vocabulary of Recur: the names every model configuration (and every <c>--cell</c> option) accepts, and
/// what each means for a <see cref="RecurrentLayer"/>. All of them run on the fused kernels.
/// </summary>
public static class RecurrentCells
{
    /// <summary>Every cell name, in the order help texts list them.</summary>
    public static IReadOnlyList<string> Names { get; } = ["rnn", "relu-rnn", "irnn", "leaky", "lstm", "peephole-lstm",
        "ln-lstm", "bn-lstm", "gru", "cho-gru", "ln-gru", "jordan"];

    /// <summary>Where the leak α of a <c>leaky</c> cell starts (each unit then learns its own).</summary>
    public const float DefaultLeak = 0.5f;

    /// <summary>
    /// The cells that can also run a sequence in pieces with the state carried between them — one step at a time when
    /// generating, windows of truncated BPTT: every cell but <c>bn-lstm</c>, whose statistics belong to each time step
    /// of a whole sequence (a piece would be normalised by the statistics of its own first steps).
    /// </summary>
    public static IReadOnlyList<string> Stepwise { get; } = [.. Names.Where(name => name != "bn-lstm")];

    /// <summary>
    /// The σ of the noise a <c>bn-lstm</c> adds to its initial state in training unless the config names one (<see
    /// cref="RecurrentConfig.StateNoise"/>): Cooijmans et al.'s 0.1 for sequential MNIST.
    /// </summary>
    public const float DefaultStateNoise = 0.1f;

    /// <summary>One line for help texts: the names, separated by <c>|</c>.</summary>
    public static string Choices => string.Join("|", Names);

    /// <summary>Whether <paramref name="cell"/> keeps a cell state c besides h (the LSTMs).</summary>
    public static bool HasCellState(string cell) => Mode(cell) == RecurrentMode.Lstm;

    /// <summary>The fused kernel that runs <paramref name="cell"/>.</summary>
    /// <exception cref="ArgumentException">Not one of <see cref="Names"/>.</exception>
    public static RecurrentMode Mode(string cell) => cell switch
    {
        "rnn" or "leaky" or "jordan" => RecurrentMode.RnnTanh,
        "relu-rnn" or "irnn" => RecurrentMode.RnnRelu,
        "lstm" or "peephole-lstm" or "ln-lstm" or "bn-lstm" => RecurrentMode.Lstm,
        "gru" or "cho-gru" or "ln-gru" => RecurrentMode.Gru,
        _ => throw new ArgumentException($"unknown cell '{cell}'; expected one of {string.Join(", ", Names)}."),
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
    public static RecurrentConfig Configure(string cell, RecurrentConfig config) => config with
    {
        Mode = Mode(cell),
        Peephole = cell == "peephole-lstm",
        LayerNorm = cell is "ln-lstm" or "ln-gru",
        BatchNorm = cell == "bn-lstm",
        StateNoise = cell == "bn-lstm" && config.StateNoise == 0f ? DefaultStateNoise : config.StateNoise,
        ResetAfter = cell != "cho-gru",
        ProjSize = cell == "jordan" ? (config.ProjSize > 0 ? config.ProjSize : config.HiddenSize) : config.ProjSize,
        Init = cell == "irnn" ? RecurrentInit.Identity : config.Init,
        Leak = cell == "leaky" ? (config.Leak > 0f ? config.Leak : DefaultLeak) : 0f,
        LearnLeak = cell == "leaky",
    };
}

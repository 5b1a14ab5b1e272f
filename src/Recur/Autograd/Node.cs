namespace Recur.Autograd;

/// <summary>One recorded operation: its inputs and the closure that pushes the output's gradient back into
/// them.</summary>
internal sealed class Node(Tensor[] inputs, Action<Tensor> backward)
{
    public Tensor[] Inputs { get; } = inputs;
    public Action<Tensor> Backward { get; } = backward;

    /// <summary>Set once a backward pass has gone through this operation without keeping the graph.</summary>
    public bool Released { get; set; }
}

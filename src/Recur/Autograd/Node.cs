namespace Recur.Autograd;

/// <summary>One recorded operation: its inputs and the closure that pushes the output's gradient back into them.</summary>
internal sealed class Node(Tensor[] inputs, Action<Tensor> backward)
{
    public Tensor[] Inputs { get; } = inputs;
    public Action<Tensor> Backward { get; } = backward;
}

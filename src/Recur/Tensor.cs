using System.Numerics.Tensors;
using Recur.Autograd;

namespace Recur;

/// <summary>
/// A dense, row-major float32 tensor that can take part in reverse-mode automatic differentiation.
/// Tensors are always contiguous; a view (<see cref="Reshape"/>, a leading-axis <see cref="Slice"/>) shares storage
/// with its source. Operations that need gradients record a backward closure when any input has
/// <see cref="RequiresGrad"/> set and no <see cref="GradMode.NoGrad"/> scope is active.
/// </summary>
public sealed partial class Tensor
{
    internal readonly float[] Storage;
    internal readonly int Offset;
    readonly int[] shape;
    bool requiresGrad;

    /// <summary>The backward step that produced this tensor; null for leaves and for tensors made without
    /// gradients.</summary>
    internal Node? Node { get; private set; }

    internal Tensor(int[] shape, float[] storage, int offset = 0)
    {
        this.shape = shape;
        Length = Shapes.Count(shape);
        if (offset < 0 || offset + Length > storage.Length)
            throw new ArgumentException($"Tensor: shape {Shapes.Format(shape)} needs {Length} values from "
                + $"offset {offset}, but storage holds {storage.Length}.");
        Storage = storage;
        Offset = offset;
    }

    /// <summary>The tensor's dimensions.</summary>
    public ReadOnlySpan<int> Shape => shape;

    /// <summary>The number of dimensions.</summary>
    public int Rank => shape.Length;

    /// <summary>The number of elements.</summary>
    public int Length { get; }

    /// <summary>Dimension <paramref name="axis"/> (negative counts from the end).</summary>
    public int Size(int axis) => shape[Shapes.Axis(axis, Rank, "Size")];

    /// <summary>The elements, row-major. Writing through it changes the tensor (and any view of it).</summary>
    public Span<float> Span => Storage.AsSpan(Offset, Length);

    /// <summary>The accumulated gradient (same shape), filled by <see cref="Backward"/> for tensors that require
    /// it.</summary>
    public Tensor? Grad { get; set; }

    /// <summary>An optional name, used in error messages and state dicts.</summary>
    public string? Name { get; set; }

    /// <summary>Whether gradients flow to (leaf) or through (computed) this tensor. Only leaves may be
    /// changed.</summary>
    public bool RequiresGrad
    {
        get => requiresGrad;
        set
        {
            if (Node != null && !value)
                throw new InvalidOperationException(
                    "RequiresGrad: a computed tensor cannot stop requiring gradients; use Detach().");
            requiresGrad = value;
        }
    }

    /// <summary>True for tensors not produced by a recorded operation (parameters and inputs).</summary>
    public bool IsLeaf => Node == null;

    /// <summary>The shape as a fresh array.</summary>
    public int[] ShapeArray() => (int[])shape.Clone();

    // ---------------------------------------------------------------- creation

    /// <summary>A tensor of zeros.</summary>
    public static Tensor Zeros(params int[] shape) => new(Shapes.Validate(shape, "Zeros"),
        StorageAllocator.Allocate(Shapes.Count(shape)));

    /// <summary>
    /// A tensor whose storage may still hold the values of a dead tensor (no zeroing pass): for operations that write
    /// every element of their result before it is read.
    /// </summary>
    internal static Tensor Uninitialized(int[] shape) => new(Shapes.Validate(shape, "Uninitialized"),
        StorageAllocator.Allocate(Shapes.Count(shape), clear: false));

    /// <summary>A tensor filled with <paramref name="value"/>.</summary>
    public static Tensor Full(float value, params int[] shape)
    {
        var t = Uninitialized(shape);
        t.Span.Fill(value);
        return t;
    }

    /// <summary>A tensor of ones.</summary>
    public static Tensor Ones(params int[] shape) => Full(1f, shape);

    /// <summary>A rank-0 tensor holding <paramref name="value"/>.</summary>
    public static Tensor Scalar(float value) => new([], [value]);

    /// <summary>A tensor holding a copy of <paramref name="values"/> with the given shape.</summary>
    public static Tensor FromArray(ReadOnlySpan<float> values, params int[] shape)
    {
        Shapes.Validate(shape, "FromArray");
        if (values.Length != Shapes.Count(shape))
            throw new ArgumentException($"FromArray: {values.Length} values do not fill "
                + $"shape {Shapes.Format(shape)} ({Shapes.Count(shape)} elements).");
        return new((int[])shape.Clone(), values.ToArray());
    }

    /// <summary>A tensor of independent normal samples N(<paramref name="mean"/>, <paramref name="std"/>²).</summary>
    public static Tensor RandomNormal(RandomGenerator random, int[] shape, float mean = 0f, float std = 1f)
    {
        var t = Zeros(shape);
        var span = t.Span;
        for (int i = 0; i < span.Length; i++) span[i] = mean + std * random.NextNormal();
        return t;
    }

    /// <summary>A tensor of independent uniform samples in [<paramref name="low"/>, <paramref name="high"/>).</summary>
    public static Tensor RandomUniform(RandomGenerator random, int[] shape, float low = 0f, float high = 1f)
    {
        var t = Zeros(shape);
        var span = t.Span;
        for (int i = 0; i < span.Length; i++) span[i] = low + (high - low) * random.NextFloat();
        return t;
    }

    /// <summary>A copy with its own storage, outside the graph (no gradient history).</summary>
    public Tensor Clone()
    {
        var copy = Uninitialized(shape);
        Span.CopyTo(copy.Span);
        copy.Name = Name;
        return copy;
    }

    /// <summary>The same values, detached from the graph: gradients do not flow through the result. Shares
    /// storage.</summary>
    public Tensor Detach() => new(shape, Storage, Offset);

    /// <summary>The single value of a one-element tensor.</summary>
    public float Item() => Length == 1
        ? Storage[Offset]
        : throw new InvalidOperationException(
            $"Item: tensor of shape {Shapes.Format(shape)} has {Length} elements, not 1.");

    /// <summary>The elements as a new array.</summary>
    public float[] ToArray() => Span.ToArray();

    /// <summary>Sets every element to zero, in place.</summary>
    public void Zero() => Span.Clear();

    /// <inheritdoc/>
    public override string ToString()
    {
        var values = Span;
        int shown = Math.Min(values.Length, 8);
        var text = string.Join(", ", values[..shown].ToArray().Select(v => v.ToString("G5",
            System.Globalization.CultureInfo.InvariantCulture)));
        return $"Tensor{Shapes.Format(shape)}{(Name is null ? "" : " " + Name)} "
            + $"[{text}{(values.Length > shown ? ", ..." : "")}]";
    }

    // ---------------------------------------------------------------- autodiff plumbing

    /// <summary>
    /// The result of an operation: records <paramref name="backward"/> (which receives this result's gradient) when
    /// gradients are enabled and some input requires them.
    /// </summary>
    internal static Tensor Result(Tensor output, Tensor[] inputs, Action<Tensor> backward)
    {
        if (!GradMode.IsEnabled) return output;
        foreach (var input in inputs)
        {
            if (input.requiresGrad)
            {
                output.requiresGrad = true;
                output.Node = new Node(inputs, backward);
                return output;
            }
        }
        return output;
    }

    internal static Tensor Result(Tensor output, Tensor input, Action<Tensor> backward) => Result(output, [input],
        backward);

    /// <summary>This tensor's gradient buffer, created (zeroed) on first use; backward closures add into it.</summary>
    internal Span<float> GradSpan()
    {
        Grad ??= Zeros(shape);
        return Grad.Span;
    }

    /// <summary>
    /// The gradient buffer for a backward that writes every element of it: a new, uninitialised one when this is
    /// the first contribution (<paramref name="accumulate"/> false: overwrite it), else the existing one
    /// (<paramref name="accumulate"/> true: add to it) — a first gradient is written, not added to zeros.
    /// </summary>
    internal Tensor GradToWrite(out bool accumulate)
    {
        accumulate = Grad is not null;
        return Grad ??= Uninitialized(shape);
    }

    /// <summary>
    /// Adds <paramref name="gradient"/> (this tensor's shape) to <see cref="Grad"/>; a first contribution that the
    /// caller may give away (<paramref name="mayAdopt"/>: a fresh tensor, or an operation's output gradient that no
    /// one reads or writes after this) becomes the gradient itself instead of being copied. Returns whether it did.
    /// </summary>
    internal bool AccumulateGrad(Tensor gradient, bool mayAdopt)
    {
        if (!requiresGrad) return false;
        if (mayAdopt && Grad is null && gradient.shape.AsSpan().SequenceEqual(shape))
        {
            Grad = gradient;
            return true;
        }
        AccumulateGrad(gradient.Span);
        return false;
    }

    /// <summary>Adds <paramref name="gradient"/> into this tensor's gradient, if it takes one.</summary>
    internal void AccumulateGrad(ReadOnlySpan<float> gradient)
    {
        if (!requiresGrad) return;
        if (Grad is null)
        {
            // the first contribution is copied rather than added to zeros
            var fresh = Uninitialized(shape);
            gradient.CopyTo(fresh.Span);
            Grad = fresh;
            return;
        }
        var g = Grad.Span;
        TensorPrimitives.Add(g, gradient, g);
    }

    /// <summary>
    /// Back-propagates from this tensor: every tensor it depends on that requires gradients gets d(this)/d(it) added
    /// to its <see cref="Grad"/>. With no argument this must hold one element (a loss) and is seeded with 1;
    /// otherwise <paramref name="gradient"/> (same shape) is the seed. Gradients of intermediate results are released
    /// afterwards; those of leaves accumulate until zeroed. As in PyTorch, a graph is back-propagated once: a second
    /// pass through any of its operations would add the same gradients to the leaves again, so it throws unless the
    /// first (and every later one) passed <paramref name="retainGraph"/>. A fused recurrent layer frees its saved
    /// activations in its backward whatever the flag, so a graph through one is refused a second pass either way.
    /// </summary>
    public void Backward(Tensor? gradient = null, bool retainGraph = false)
    {
        if (!requiresGrad)
            throw new InvalidOperationException("Backward: this tensor does not require gradients (no input had "
                + "RequiresGrad set, or it was computed under NoGrad).");
        if (gradient is null && Length != 1)
            throw new InvalidOperationException($"Backward: a tensor of shape {Shapes.Format(shape)} needs an "
                + $"explicit gradient; only one-element tensors are seeded with 1.");
        if (gradient is not null && !gradient.Shape.SequenceEqual(Shape))
            throw new ArgumentException($"Backward: gradient shape {Shapes.Format(gradient.shape)} does not match "
                + $"tensor shape {Shapes.Format(shape)}.");

        var order = TopologicalOrder();
        if (order.Any(t => t.Node!.Released))
            throw new InvalidOperationException("Backward: this graph has been back-propagated already, and a second "
                + "pass would add its gradients to the leaves again; run the forward pass anew, or pass retainGraph: "
                + "true to every Backward through it.");
        if (gradient is null) GradSpan()[0] += 1f;
        else AccumulateGrad(gradient.Span);

        using (GradMode.NoGrad())
        {
            for (int i = order.Count - 1; i >= 0; i--)
            {
                var tensor = order[i];
                if (tensor.Grad is null) continue;
                tensor.Node!.Backward(tensor.Grad);
                tensor.Grad = null; // intermediate gradients are not kept
                if (!retainGraph) tensor.Node.Released = true;
            }
        }
    }

    /// <summary>Computed tensors this one depends on (itself included), each after all of its inputs.</summary>
    List<Tensor> TopologicalOrder()
    {
        var order = new List<Tensor>();
        var visited = new HashSet<Tensor>(ReferenceEqualityComparer.Instance);
        var stack = new Stack<(Tensor Tensor, int NextInput)>();
        if (Node != null) { stack.Push((this, 0)); visited.Add(this); }
        while (stack.Count > 0)
        {
            var (tensor, next) = stack.Pop();
            var inputs = tensor.Node!.Inputs;
            if (next < inputs.Length)
            {
                stack.Push((tensor, next + 1));
                var input = inputs[next];
                if (input.Node != null && input.requiresGrad && visited.Add(input)) stack.Push((input, 0));
            }
            else
            {
                order.Add(tensor);
            }
        }
        return order;
    }
}

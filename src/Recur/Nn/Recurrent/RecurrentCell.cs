using Recur.Kernels;

namespace Recur.Nn.Recurrent;

/// <summary>
/// One step of a recurrent cell, as <c>torch.nn.RNNCell</c>, <c>LSTMCell</c> and <c>GRUCell</c> (parameters
/// <c>weight_ih</c> [G·H, in], <c>weight_hh</c> [G·H, H], <c>bias_ih</c>, <c>bias_hh</c>), for decoders and generation
/// where each step's input depends on the previous output. It runs the same fused kernels as
/// <see cref="RecurrentLayer"/> over a sequence of length one, and records one tape node per step.
/// </summary>
public sealed class RecurrentCell : Module, IInt8Module
{
    readonly Tensor weightIh, weightHh;
    readonly Tensor? biasIh, biasHh;
    QuantizedWeights? quantized;

    /// <summary>The cell type.</summary>
    public RecurrentMode Mode { get; }

    /// <summary>Input features.</summary>
    public int InputSize { get; }

    /// <summary>Hidden units.</summary>
    public int HiddenSize { get; }

    /// <summary>Builds the cell with PyTorch's default initialisation, uniform(±1/√H).</summary>
    public RecurrentCell(RecurrentMode mode, int inputSize, int hiddenSize, RandomGenerator random, bool bias = true)
    {
        new RecurrentConfig(mode, inputSize, hiddenSize, Bias: bias).Validate();
        (Mode, InputSize, HiddenSize) = (mode, inputSize, hiddenSize);
        int gates = RecurrentConfig.GatesOf(mode);
        float bound = 1f / MathF.Sqrt(hiddenSize);
        weightIh = RegisterParameter("weight_ih", Tensor.RandomUniform(random, [gates * hiddenSize, inputSize], -bound,
            bound));
        weightHh = RegisterParameter("weight_hh", Tensor.RandomUniform(random, [gates * hiddenSize, hiddenSize],
            -bound, bound));
        if (bias)
        {
            biasIh = RegisterParameter("bias_ih", Tensor.RandomUniform(random, [gates * hiddenSize], -bound, bound));
            biasHh = RegisterParameter("bias_hh", Tensor.RandomUniform(random, [gates * hiddenSize], -bound, bound));
        }
    }

    /// <summary>
    /// One step: <paramref name="input"/> [B, in], states [B, H] (zeros when null; <paramref name="cell"/> for LSTM
    /// only). Returns the new hidden state and, for LSTM, the new cell state.
    /// </summary>
    public (Tensor Hidden, Tensor? Cell) Forward(Tensor input, Tensor? hidden = null, Tensor? cell = null)
    {
        if (input.Rank != 2 || input.Size(1) != InputSize)
            throw new ArgumentException($"{Mode} cell: input {Shapes.Format(input.Shape)} is not [B, {InputSize}].");
        int batch = input.Size(0);
        foreach (var (name, state) in new[] { ("hidden", hidden), ("cell", cell) })
            if (state != null && !state.Shape.SequenceEqual([batch, HiddenSize]))
                throw new ArgumentException(
                    $"{Mode} cell: {name} state {Shapes.Format(state.Shape)} is not [{batch}, {HiddenSize}].");
        if (cell != null
            && Mode != RecurrentMode.Lstm) throw new ArgumentException($"{Mode} cell: only LSTM takes a cell state.");
        var h0 = hidden ?? Tensor.Zeros(batch, HiddenSize);
        var c0 = Mode == RecurrentMode.Lstm ? cell ?? Tensor.Zeros(batch, HiddenSize) : null;
        var x = input.Reshape(1, batch, InputSize);
        var packed = RecurrentKernel.Run(Mode, "cell", x, h0, c0, weightIh, weightHh, biasIh, biasHh, null, false,
            quantized: quantized);
        var (_, h, c) = RecurrentKernel.Unpack(packed, 1, batch, HiddenSize, HiddenSize);
        return (h, Mode == RecurrentMode.Lstm ? c : null);
    }

    /// <summary>Whether <see cref="QuantizeDynamic"/> made this cell's inference int8.</summary>
    public bool IsQuantized => quantized != null;

    /// <summary>
    /// Dynamic int8 quantisation for inference, as <see cref="RecurrentLayer.QuantizeDynamic"/>: W_ih and W_hh per
    /// output row in int8, inputs and states quantised as they arrive; the parameters are frozen and a forward that
    /// would record for a backward is refused; loading a state dict quantises again.
    /// </summary>
    public void QuantizeDynamic() => ((IInt8Module)this).LoadInt8(Quantization.Quantize);

    /// <inheritdoc/>
    protected override void OnStateLoaded()
    {
        if (quantized != null) QuantizeDynamic();
    }

    IEnumerable<(Tensor Weight, QuantizedMatrix Int8)> IInt8Module.Int8Weights() => quantized is null ? []
        : [(weightIh, quantized.Ih), (weightHh, quantized.Hh)];

    IEnumerable<Tensor> IInt8Module.QuantizableWeights => [weightIh, weightHh];

    void IInt8Module.LoadInt8(Func<Tensor, QuantizedMatrix> int8Of)
    {
        quantized = new(int8Of(weightIh), int8Of(weightHh));
        foreach (var parameter in Parameters()) parameter.RequiresGrad = false;
    }
}

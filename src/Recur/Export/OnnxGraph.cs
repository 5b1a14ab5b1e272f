using Google.Protobuf;
using Recur.Export.Protos;
using Recur.Serialization;
using DataType = Recur.Export.Protos.TensorProto.Types.DataType;

namespace Recur.Export;

/// <summary>
/// Builds one ONNX graph node by node: named inputs and outputs with symbolic or fixed dimensions, weights as
/// initializers, and operators of the default domain at <see cref="Opset"/>. Every value name it makes is unique.
/// </summary>
internal sealed class OnnxGraph
{
    /// <summary>The opset of the default domain the graphs use (ONNX 1.12; ONNX Runtime runs it everywhere).</summary>
    public const int Opset = 17;

    /// <summary>IR version 8, the one of opset 17.</summary>
    const long IrVersion = 8;

    readonly GraphProto graph;
    readonly HashSet<string> names;
    readonly Dictionary<string, string> int64Constants = [];

    /// <summary>An empty graph.</summary>
    public OnnxGraph(string name) : this(name, []) { }

    OnnxGraph(string name, HashSet<string> names)
    {
        graph = new GraphProto { Name = name };
        this.names = names;
    }

    /// <summary>
    /// A graph for an operator's attribute (a <c>Scan</c> body): its value names never clash with this graph's,
    /// and it may read this graph's values.
    /// </summary>
    public OnnxGraph Subgraph(string subgraphName) => new(subgraphName, names);

    /// <summary>This graph as the graph-valued attribute <paramref name="attributeName"/> of an operator.</summary>
    public AttributeProto AsAttribute(string attributeName) =>
        new() { Name = attributeName, Type = AttributeProto.Types.AttributeType.Graph, G = graph };

    /// <summary>A fresh value name starting with <paramref name="hint"/>.</summary>
    public string Fresh(string hint)
    {
        string candidate = hint;
        for (int i = 1; !names.Add(candidate); i++) candidate = $"{hint}_{i}";
        return candidate;
    }

    /// <summary>A float input; each dimension is a fixed size (int) or a symbolic name (string).</summary>
    public string FloatInput(string inputName, params object[] dims) => Input(inputName, DataType.Float, dims);

    /// <summary>An input of <paramref name="type"/>, as <see cref="FloatInput"/>.</summary>
    public string Input(string inputName, DataType type, params object[] dims)
    {
        if (!names.Add(inputName)) throw new InvalidOperationException($"ONNX graph: '{inputName}' is taken.");
        graph.Input.Add(ValueInfo(inputName, type, dims));
        return inputName;
    }

    /// <summary>A float input with a fresh name starting with <paramref name="hint"/> (a subgraph's inputs).</summary>
    public string FreshFloatInput(string hint, params object[] dims)
    {
        string inputName = Fresh(hint);
        graph.Input.Add(ValueInfo(inputName, DataType.Float, dims));
        return inputName;
    }

    /// <summary>Declares <paramref name="value"/> an output of the graph under <paramref name="outputName"/>.</summary>
    public void Output(string value, string outputName, DataType type, params object[] dims)
    {
        if (value != outputName)
        {
            if (!names.Add(outputName)) throw new InvalidOperationException($"ONNX graph: '{outputName}' is taken.");
            Node("Identity", [value], outputName);
        }
        graph.Output.Add(ValueInfo(outputName, type, dims));
    }

    static ValueInfoProto ValueInfo(string valueName, DataType type, object[] dims)
    {
        var shape = new TensorShapeProto();
        foreach (var dim in dims)
            shape.Dim.Add(dim switch
            {
                int size => new TensorShapeProto.Types.Dimension { DimValue = size },
                string symbol => new TensorShapeProto.Types.Dimension { DimParam = symbol },
                _ => throw new ArgumentException($"ONNX graph: dimension {dim} is neither a size nor a name."),
            });
        var tensor = new TypeProto.Types.Tensor { ElemType = (int)type, Shape = shape };
        return new ValueInfoProto { Name = valueName, Type = new TypeProto { TensorType = tensor } };
    }

    /// <summary>A float initializer of the given shape (the values are copied).</summary>
    public string Weight(string hint, ReadOnlySpan<float> values, params int[] shape)
    {
        if (values.Length != shape.Aggregate(1L, (a, b) => a * b))
            throw new ArgumentException($"ONNX graph: {values.Length} values for an initializer of shape "
                + $"[{string.Join(", ", shape)}].");
        var tensor = new TensorProto { Name = Fresh(hint), DataType = (int)DataType.Float };
        tensor.Dims.AddRange(shape.Select(d => (long)d));
        var bytes = new byte[values.Length * sizeof(float)];
        System.Runtime.InteropServices.MemoryMarshal.AsBytes(values).CopyTo(bytes);
        if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("ONNX raw data is little-endian.");
        tensor.RawData = ByteString.CopyFrom(bytes);
        graph.Initializer.Add(tensor);
        return tensor.Name;
    }

    /// <summary>An int32 scalar initializer.</summary>
    public string Int32s(int value)
    {
        var tensor = new TensorProto { Name = Fresh("const_int32"), DataType = (int)DataType.Int32 };
        tensor.Int32Data.Add(value);
        graph.Initializer.Add(tensor);
        return tensor.Name;
    }

    /// <summary>An int64 initializer (a shape, axes, indices), one per distinct value list.</summary>
    public string Int64s(params long[] values) => Int64s(values, [values.Length]);

    /// <summary>An int64 initializer of the given shape (a scalar when <paramref name="shape"/> is empty).</summary>
    public string Int64s(long[] values, int[] shape)
    {
        string key = $"{string.Join(",", shape)}:{string.Join(",", values)}";
        if (int64Constants.TryGetValue(key, out var existing)) return existing;
        var tensor = new TensorProto { Name = Fresh("const"), DataType = (int)DataType.Int64 };
        tensor.Dims.AddRange(shape.Select(d => (long)d));
        tensor.Int64Data.AddRange(values);
        graph.Initializer.Add(tensor);
        return int64Constants[key] = tensor.Name;
    }

    /// <summary>Adds an operator with one output and returns its fresh name.</summary>
    public string Op(string opType, string[] inputs, params AttributeProto[] attributes) =>
        Ops(opType, inputs, 1, attributes)[0];

    /// <summary>Adds an operator with <paramref name="outputs"/> outputs and returns their fresh names.</summary>
    public string[] Ops(string opType, string[] inputs, int outputs, params AttributeProto[] attributes)
    {
        var outputNames = Enumerable.Range(0, outputs).Select(i => Fresh($"{opType}_{i}".ToLowerInvariant()))
            .ToArray();
        Node(opType, inputs, outputNames, attributes);
        return outputNames;
    }

    /// <summary>Reorders the axes of <paramref name="x"/>: output axis i is input axis <paramref name="perm"/>[i].
    /// </summary>
    public string Transpose(string x, params long[] perm) => Op("Transpose", [x], Attribute("perm", perm));

    void Node(string opType, string[] inputs, string output) => Node(opType, inputs, [output], []);

    void Node(string opType, string[] inputs, string[] outputs, AttributeProto[] attributes)
    {
        var node = new NodeProto { OpType = opType, Name = Fresh("node_" + opType) };
        node.Input.AddRange(inputs);
        node.Output.AddRange(outputs);
        node.Attribute.AddRange(attributes);
        graph.Node.Add(node);
    }

    /// <summary>An integer attribute.</summary>
    public static AttributeProto Attribute(string attributeName, long value) =>
        new() { Name = attributeName, Type = AttributeProto.Types.AttributeType.Int, I = value };

    /// <summary>A float attribute.</summary>
    public static AttributeProto Attribute(string attributeName, float value) =>
        new() { Name = attributeName, Type = AttributeProto.Types.AttributeType.Float, F = value };

    /// <summary>A string attribute.</summary>
    public static AttributeProto Attribute(string attributeName, string value) => new()
    {
        Name = attributeName, Type = AttributeProto.Types.AttributeType.String, S = ByteString.CopyFromUtf8(value),
    };

    /// <summary>A list-of-integers attribute.</summary>
    public static AttributeProto Attribute(string attributeName, long[] values)
    {
        var attribute = new AttributeProto { Name = attributeName, Type = AttributeProto.Types.AttributeType.Ints };
        attribute.Ints.AddRange(values);
        return attribute;
    }

    /// <summary>A list-of-strings attribute.</summary>
    public static AttributeProto Attribute(string attributeName, string[] values)
    {
        var attribute = new AttributeProto { Name = attributeName, Type = AttributeProto.Types.AttributeType.Strings };
        attribute.Strings.AddRange(values.Select(ByteString.CopyFromUtf8));
        return attribute;
    }

    /// <summary>The model holding this graph, with <paramref name="metadata"/> as its metadata properties.</summary>
    public ModelProto Model(string docString, IReadOnlyDictionary<string, string>? metadata = null)
    {
        var model = new ModelProto
        {
            IrVersion = IrVersion, ProducerName = "Recur",
            ProducerVersion = typeof(OnnxGraph).Assembly.GetName().Version?.ToString() ?? "", DocString = docString,
            Graph = graph,
        };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = Opset });
        foreach (var (key, value) in metadata ?? new Dictionary<string, string>())
            model.MetadataProps.Add(new StringStringEntryProto { Key = key, Value = value });
        return model;
    }

    /// <summary>Writes the model to <paramref name="path"/> in one step (never a partial file).</summary>
    public void Save(string path, string docString, IReadOnlyDictionary<string, string>? metadata = null)
    {
        var model = Model(docString, metadata);
        AtomicFile.Write(path, stream => model.WriteTo(stream));
    }
}

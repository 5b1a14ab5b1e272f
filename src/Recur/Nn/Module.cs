namespace Recur.Nn;

/// <summary>
/// A model component: owns parameters (named as in PyTorch's <c>state_dict()</c>) and child modules. A module is plain
/// C#: its constructor builds its parameters and its <c>Forward</c> composes operations.
/// </summary>
public abstract class Module
{
    readonly List<(string Name, Tensor Value)> parameters = [];
    readonly List<(string Name, Tensor Value)> buffers = [];
    readonly List<(string Name, Module Value)> children = [];
    readonly List<(string Name, RandomGenerator Value)> generators = [];

    /// <summary>Training mode (dropout active) or evaluation mode; set for the whole tree with
    /// <see cref="Train"/>.</summary>
    public bool Training { get; private set; } = true;

    /// <summary>Sets training (true) or evaluation (false) mode here and in every child.</summary>
    public void Train(bool training = true)
    {
        Training = training;
        foreach (var (_, child) in children) child.Train(training);
    }

    /// <summary>Evaluation mode: <c>Train(false)</c>.</summary>
    public void Eval() => Train(false);

    /// <summary>
    /// Evaluation mode — and, unless <paramref name="gradients"/>, no recorded gradients — until the returned scope is
    /// disposed; then the previous mode comes back (<c>using var _ = model.Evaluating();</c>), whatever happens inside.
    /// </summary>
    public EvaluationScope Evaluating(bool gradients = false) => new(this, gradients);

    /// <summary>The scope of <see cref="Evaluating"/>.</summary>
    public readonly struct EvaluationScope : IDisposable
    {
        readonly Module model;
        readonly bool training, noGrad;

        internal EvaluationScope(Module model, bool gradients)
        {
            (this.model, training, noGrad) = (model, model.Training, !gradients);
            model.Eval();
            if (noGrad) Autograd.GradMode.Enter();
        }

        /// <summary>Restores the mode (and gradient recording) of before.</summary>
        public void Dispose()
        {
            if (noGrad) Autograd.GradMode.Leave();
            model.Train(training);
        }
    }

    /// <summary>Registers a trainable parameter under <paramref name="name"/>.</summary>
    protected Tensor RegisterParameter(string name, Tensor value)
    {
        CheckNew(name);
        value.RequiresGrad = true;
        value.Name = name;
        parameters.Add((name, value));
        return value;
    }

    /// <summary>
    /// Registers a buffer: state that is saved and loaded with the parameters but not trained (batch norm's running
    /// statistics, as PyTorch's <c>register_buffer</c>).
    /// </summary>
    protected Tensor RegisterBuffer(string name, Tensor value)
    {
        CheckNew(name);
        value.Name = name;
        buffers.Add((name, value));
        return value;
    }

    /// <summary>Parameters and buffers share one namespace, as in a state dict.</summary>
    void CheckNew(string name)
    {
        if (parameters.Any(p => p.Name == name) || buffers.Any(b => b.Name == name))
            throw new ArgumentException($"'{name}' is registered twice.");
    }

    /// <summary>All buffers with their dotted names, in registration order.</summary>
    public IEnumerable<(string Name, Tensor Value)> NamedBuffers()
    {
        foreach (var b in buffers) yield return b;
        foreach (var (prefix, child) in children)
            foreach (var (name, value) in child.NamedBuffers()) yield return ($"{prefix}.{name}", value);
    }

    /// <summary>Registers a child module; its parameters are named "<paramref name="name"/>.…".</summary>
    protected T RegisterModule<T>(string name, T module) where T : Module
    {
        children.Add((name, module));
        return module;
    }

    /// <summary>
    /// Registers a random generator the module draws from while training (dropout masks), so that checkpoints can save
    /// and restore its state and a resumed run repeats an uninterrupted one exactly.
    /// </summary>
    protected RandomGenerator RegisterRandom(string name, RandomGenerator generator)
    {
        if (generators.Any(g
            => g.Name == name)) throw new ArgumentException($"random generator '{name}' is registered twice.");
        generators.Add((name, generator));
        return generator;
    }

    /// <summary>Every registered random generator with its dotted name.</summary>
    public IEnumerable<(string Name, RandomGenerator Value)> NamedRandomGenerators()
    {
        foreach (var g in generators) yield return g;
        foreach (var (prefix, child) in children)
            foreach (var (name, value) in child.NamedRandomGenerators()) yield return ($"{prefix}.{name}", value);
    }

    /// <summary>All parameters with their dotted names, in registration order.</summary>
    public IEnumerable<(string Name, Tensor Value)> NamedParameters()
    {
        foreach (var p in parameters) yield return p;
        foreach (var (prefix, child) in children)
            foreach (var (name, value) in child.NamedParameters()) yield return ($"{prefix}.{name}", value);
    }

    /// <summary>
    /// This module (named "") and every module below it with their dotted names, parents before children, as
    /// PyTorch's <c>named_modules()</c>.
    /// </summary>
    public IEnumerable<(string Name, Module Value)> NamedModules()
    {
        yield return ("", this);
        foreach (var (prefix, child) in children)
            foreach (var (name, value) in child.NamedModules())
                yield return (name.Length == 0 ? prefix : $"{prefix}.{name}", value);
    }

    /// <summary>
    /// Called on every module of the tree after <see cref="LoadStateDict"/> has written new values, so a module that
    /// keeps a derived form of its weights (an int8 copy) can rebuild it.
    /// </summary>
    protected virtual void OnStateLoaded()
    {
    }

    /// <summary>All parameters, in registration order.</summary>
    public IReadOnlyList<Tensor> Parameters() => NamedParameters().Select(p => p.Value).ToArray();

    /// <summary>Parameter and buffer values by name (the tensors themselves, not copies), as PyTorch's
    /// <c>state_dict()</c>.</summary>
    public IReadOnlyDictionary<string, Tensor> StateDict() => NamedParameters().Concat(NamedBuffers())
        .ToDictionary(p => p.Name, p => p.Value);

    /// <summary>
    /// Copies values into this module's parameters and buffers by name, as PyTorch's <c>load_state_dict</c>. With
    /// <paramref name="prefix"/> only the entries under it are read, without it (<c>"encoder."</c> loads a
    /// submodule's weights out of a whole model's state). With <paramref name="strict"/> (the default) every
    /// parameter must be present and no unknown name may be given; otherwise the names that match are loaded and the
    /// rest reported. A shape mismatch is always an error. Errors list the names and shapes involved, and nothing is
    /// copied unless everything checks.
    /// </summary>
    /// <returns>The module's names that were not given and the given names the module lacks.</returns>
    /// <example><c>model.LoadStateDict(SafeTensors.Load("model.safetensors"))</c> reads weights saved by PyTorch or
    /// by <see cref="Save"/>.</example>
    public StateDictLoad LoadStateDict(IReadOnlyDictionary<string, Tensor> state, bool strict = true,
        string? prefix = null)
    {
        ArgumentNullException.ThrowIfNull(state);
        var given = prefix is null ? state : state.Where(p => p.Key.StartsWith(prefix, StringComparison.Ordinal))
            .ToDictionary(p => p.Key[prefix.Length..], p => p.Value);
        var own = StateDict();
        var missing = own.Keys.Where(k => !given.ContainsKey(k)).ToArray();
        var unexpected = given.Keys.Where(k => !own.ContainsKey(k)).Select(k => prefix + k).ToArray();
        if (strict && (missing.Length > 0 || unexpected.Length > 0))
            throw new ArgumentException($"LoadStateDict: missing [{string.Join(", ", missing)}], unexpected "
                + $"[{string.Join(", ", unexpected)}].");
        var loaded = own.Where(p => given.ContainsKey(p.Key)).ToArray();
        foreach (var (name, target) in loaded)
        {
            var source = given[name];
            if (!source.Shape.SequenceEqual(target.Shape))
                throw new ArgumentException($"LoadStateDict: '{prefix}{name}' has shape "
                    + $"{Shapes.Format(source.Shape)} but the module expects {Shapes.Format(target.Shape)}.");
        }
        foreach (var (name, target) in loaded) given[name].Span.CopyTo(target.Span);
        foreach (var (_, module) in NamedModules()) module.OnStateLoaded();
        return new StateDictLoad(missing, unexpected);
    }

    /// <summary>
    /// Writes the state dict (parameters and buffers) to <paramref name="path"/> as safetensors, in one step (a
    /// crash never leaves a partial file); PyTorch's <c>safetensors.torch.load_file</c> reads it too. The weights
    /// only: a training run's checkpoints also keep the configuration, the optimizer and a manifest. Layers quantised
    /// to int8 (<see cref="Quantization.QuantizeDynamic"/>) are saved as they run: each such weight as I8 with its
    /// row scales beside it (<c>NAME_scale</c>), a quarter of the bytes, restored exactly by <see cref="Load"/>.
    /// </summary>
    public void Save(string path)
    {
        var (state, int8) = Quantization.SavedState(this);
        Serialization.SafeTensors.Save(path, state, int8.Count > 0 ? QuantizedMetadata : null, int8);
    }

    /// <summary>The metadata of a file that holds int8 weights.</summary>
    internal static readonly IReadOnlyDictionary<string, string> QuantizedMetadata =
        new Dictionary<string, string> { ["recur.quantization"] = "dynamic-int8" };

    /// <summary>
    /// Reads weights written by <see cref="Save"/> (or any safetensors file in this module's names) into this module,
    /// as <see cref="LoadStateDict"/> with <paramref name="strict"/>; int8 weights make their layers run in int8 as
    /// when they were saved. Errors name the file.
    /// </summary>
    public StateDictLoad Load(string path, bool strict = true)
    {
        var state = Serialization.SafeTensors.Load(path, out _, out var dtypes);
        try { return Quantization.LoadSavedState(this, state, dtypes, strict); }
        catch (ArgumentException e) { throw new ArgumentException($"{path}: {e.Message}", e); }
    }
}

/// <summary>What <see cref="Module.LoadStateDict"/> could not match, as PyTorch's <c>_IncompatibleKeys</c>.</summary>
/// <param name="Missing">The module's parameter and buffer names that were not given (left as they were).</param>
/// <param name="Unexpected">The given names the module has no parameter or buffer for (ignored).</param>
public sealed record StateDictLoad(IReadOnlyList<string> Missing, IReadOnlyList<string> Unexpected);

using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using Recur.Decoding;
using Recur.Nn;
using Recur.Serialization;
using Recur.Text;
using Recur.Training;

namespace Recur.Captioning;

/// <summary>Which description of a <see cref="DigitScene"/> a captioner learns.</summary>
[JsonConverter(typeof(LowerCaseEnumConverter<CaptionStyle>))]
public enum CaptionStyle
{
    /// <summary>The digits' names from left to right: "seven two nine".</summary>
    Digits,
    /// <summary>With sizes and relations: "a seven left of a large two".</summary>
    Relational,
}

/// <summary>How the scenes of a captioning run are made (see <see cref="DigitScenes"/>).</summary>
/// <param name="Style">The description learned.</param>
/// <param name="MaxDigits">Digits per scene, 1 to this; the canvas is 32 pixels wide per possible digit, and 8
/// more.</param>
/// <param name="Noise">Standard deviation of the Gaussian pixel noise.</param>
/// <param name="Rotation">Training scenes only: each digit rotated by a random angle up to this many degrees either
/// way (augmentation; validation and test scenes are drawn upright).</param>
/// <param name="Shear">Training scenes only: each digit sheared horizontally by a random factor up to this either
/// way.</param>
public sealed record SceneSettings(
    [property: JsonPropertyName("caption_style")] CaptionStyle Style = CaptionStyle.Digits, int MaxDigits = 5,
    float Noise = 0,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)] float Rotation = 0,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)] float Shear = 0)
{
    /// <summary>The canvas width.</summary>
    [JsonIgnore]
    public int Width => DigitScenes.Width(MaxDigits);

    /// <summary>Every word a description of this style can hold, as a word tokenizer (fixed order, so that the ids
    /// of a style never change).</summary>
    public WordLevelTokenizer Vocabulary() => WordLevelTokenizer.Build(string.Join(' ', Style == CaptionStyle.Digits
        ? DigitScenes.Names : DigitScenes.Names.Concat(["a", "an", "left", "of", "small", "large"])));

    /// <summary>The description of <paramref name="scene"/> in this style.</summary>
    public string Describe(DigitScene scene) => Style == CaptionStyle.Digits ? scene.Caption : scene.RelationalCaption;

    /// <summary>The configuration as saved in <c>config.json</c>.</summary>
    public JsonObject ToJson() =>
        JsonSerializer.SerializeToNode(this, CaptioningJson.Default.SceneSettings)!.AsObject();

    /// <summary>Reads a configuration written by <see cref="ToJson"/>.</summary>
    /// <exception cref="InvalidDataException">Another model's, or a field missing or invalid (named).</exception>
    public static SceneSettings FromJson(JsonObject json) =>
        ConfigJson.Read(json, CaptioningJson.Default.SceneSettings, null);
}

/// <summary>A generated description of one image.</summary>
/// <param name="Text">The words joined by spaces.</param>
/// <param name="Words">The words.</param>
/// <param name="LogProbability">The model's log-probability of the words and the end.</param>
/// <param name="Attention">Per word (and the end), the attention over the feature map's cells, row-major (empty
/// without attention).</param>
public sealed record Caption(string Text, string[] Words, double LogProbability, double[][] Attention);

/// <summary>How well a captioner describes a set of scenes.</summary>
/// <param name="Scenes">Scenes described.</param>
/// <param name="ExactMatch">Fraction of descriptions equal to the reference.</param>
/// <param name="Bleu">Corpus BLEU against the references (one each).</param>
/// <param name="AttentionInBox">Of the digit names said for the right digit, the fraction whose attention peak lies
/// inside that digit's box (null without attention).</param>
public sealed record CaptionReport(int Scenes, double ExactMatch, BleuScore Bleu, double? AttentionInBox);

/// <summary>
/// Trains a <see cref="Captioner"/> on <see cref="DigitScenes"/> with the shared trainer: the training scenes (from
/// the training digits) are made batch by batch from their index, so no image set is held in memory; validation
/// reports loss, exact match (greedy) and BLEU on a fixed set of scenes of the training digits in new arrangements
/// (the test digits stay unseen until the final test).
/// </summary>
public sealed class CaptionTask : ITrainingTask<int[]>
{
    readonly Captioner model;
    readonly DigitScenes source;
    readonly WordLevelTokenizer words;
    readonly int trainScenes, batchSize;
    readonly ulong seed;
    readonly List<DigitScene> valid;

    /// <summary>How the scenes are made.</summary>
    public SceneSettings Scenes { get; }

    /// <summary>A task of <paramref name="trainScenes"/> training scenes (fixed by <paramref name="seed"/>) and
    /// <paramref name="validScenes"/> validation scenes.</summary>
    public CaptionTask(Captioner model, DigitScenes source, SceneSettings scenes, int trainScenes, ulong seed,
        int batchSize = 64, int validScenes = 500)
    {
        if (trainScenes < 1 || batchSize < 1 || validScenes < 1)
            throw new ArgumentException("CaptionTask: the numbers of scenes and the batch size must be positive.");
        words = scenes.Vocabulary();
        if (model.Config.VocabularySize != words.VocabularySize || model.Config.Height != DigitScenes.Height
            || model.Config.Width != scenes.Width)
            throw new ArgumentException($"CaptionTask: the model reads {model.Config.Height} × {model.Config.Width} "
                + $"images into {model.Config.VocabularySize} words; {scenes.Style} scenes of up to "
                + $"{scenes.MaxDigits} digits are {DigitScenes.Height} × {scenes.Width} with "
                + $"{words.VocabularySize}.");
        (this.model, this.source, Scenes, this.trainScenes, this.seed, this.batchSize) = (model, source, scenes,
            trainScenes, seed, batchSize);
        valid = Enumerable.Range(0, validScenes).Select(i => source.Scene(i, seed + 1, false, scenes.MaxDigits,
            scenes.Noise)).ToList();
    }

    /// <inheritdoc/>
    public Module Model => model;

    /// <inheritdoc/>
    public JsonObject Config => model.Config.ToJson().With(Scenes.ToJson()).With(new JsonObject
    {
        ["train_scenes"] = trainScenes, ["scene_seed"] = seed,
    });

    /// <inheritdoc/>
    public int BatchesPerEpoch => (trainScenes + batchSize - 1) / batchSize;

    /// <inheritdoc/>
    public IEnumerable<int[]> Batches(int epoch, RandomGenerator shuffle)
    {
        var order = Enumerable.Range(0, trainScenes).ToArray();
        shuffle.Shuffle(order.AsSpan());
        for (int start = 0; start < order.Length; start += batchSize)
            yield return order[start..Math.Min(order.Length, start + batchSize)];
    }

    /// <inheritdoc/>
    public int Count(int[] batch) => batch.Length;

    /// <inheritdoc/>
    public Tensor Loss(int[] batch, TrainingContext context)
    {
        var scenes = batch.Select(i => source.Scene(i, seed, false, Scenes.MaxDigits, Scenes.Noise, Scenes.Rotation,
            Scenes.Shear)).ToList();
        return model.Loss(Images(scenes), scenes.Select(Reference).ToList(), context.TeacherForcingRatio,
            context.Random);
    }

    int[] Reference(DigitScene scene) => words.Encode(Scenes.Describe(scene));

    /// <summary>The pixels of <paramref name="scenes"/> as a batch [N, 1, height, width].</summary>
    public static Tensor Images(IReadOnlyList<DigitScene> scenes)
    {
        int h = scenes[0].Pixels.GetLength(0), w = scenes[0].Pixels.GetLength(1);
        var pixels = new float[scenes.Count * h * w];
        for (int n = 0; n < scenes.Count; n++)
        {
            if (scenes[n].Pixels.GetLength(0) != h || scenes[n].Pixels.GetLength(1) != w)
                throw new ArgumentException($"CaptionTask: scene {n} is {scenes[n].Pixels.GetLength(0)} × "
                    + $"{scenes[n].Pixels.GetLength(1)}, scene 0 {h} × {w}.");
            Buffer.BlockCopy(scenes[n].Pixels, 0, pixels, n * h * w * sizeof(float), h * w * sizeof(float));
        }
        return Tensor.FromArray(pixels, scenes.Count, 1, h, w);
    }

    /// <inheritdoc/>
    public IReadOnlyDictionary<string, double>? Evaluate()
    {
        double loss = 0;
        for (int start = 0; start < valid.Count; start += batchSize)
        {
            var scenes = valid.Skip(start).Take(batchSize).ToList();
            loss += model.Loss(Images(scenes), scenes.Select(Reference).ToList()).Item() * scenes.Count;
        }
        var report = TrainedCaptioner.Score([model], words, Scenes, valid);
        return new Dictionary<string, double>
        {
            ["loss"] = loss / valid.Count, ["accuracy"] = report.ExactMatch, ["bleu"] = report.Bleu.Score,
        };
    }
}

/// <summary>A trained <see cref="Captioner"/> with the words and scene settings it was trained on: describes images
/// and scores itself on scenes.</summary>
public sealed class TrainedCaptioner
{
    /// <summary>The model (an ensemble's first).</summary>
    public Captioner Model => Models[0];

    /// <summary>Every model: one, or an ensemble's, whose word probabilities are averaged.</summary>
    public IReadOnlyList<Captioner> Models { get; }

    /// <summary>The model on whose feature map the attention weights of its descriptions lie: the first attention
    /// decoder (an ensemble averages the weights of those sharing its map), else the first model.</summary>
    public Captioner AttentionModel => AttentionOf(Models);

    static Captioner AttentionOf(IReadOnlyList<Captioner> models) =>
        models.FirstOrDefault(m => m.Config.Decoder == CaptionDecoder.Attention) ?? models[0];

    /// <summary>The scenes it was trained on.</summary>
    public SceneSettings Scenes { get; }

    /// <summary>Its words.</summary>
    public WordLevelTokenizer Words { get; }

    /// <summary>A captioner of <paramref name="scenes"/>' style.</summary>
    public TrainedCaptioner(Captioner model, SceneSettings scenes) : this([model], scenes)
    {
    }

    /// <summary>An ensemble of captioners of <paramref name="scenes"/>' style (see
    /// <see cref="Captioner.Describe(IReadOnlyList{Captioner}, Tensor, int, int, double)"/>).</summary>
    public TrainedCaptioner(IReadOnlyList<Captioner> models, SceneSettings scenes)
    {
        ArgumentNullException.ThrowIfNull(models);
        if (models.Count == 0) throw new ArgumentException("TrainedCaptioner: no models.");
        (Models, Scenes, Words) = (models.ToArray(), scenes, scenes.Vocabulary());
        foreach (var model in models)
            if (Words.VocabularySize != model.Config.VocabularySize)
                throw new ArgumentException($"TrainedCaptioner: a model has {model.Config.VocabularySize} words, "
                    + $"{scenes.Style} captions {Words.VocabularySize}.");
    }

    /// <summary>
    /// The ensemble of trained captioners opened separately (runs of other seeds or settings): they must describe
    /// scenes of one style, size and number of digits.
    /// </summary>
    public static TrainedCaptioner Ensemble(IReadOnlyList<TrainedCaptioner> members)
    {
        ArgumentNullException.ThrowIfNull(members);
        if (members.Count == 0) throw new ArgumentException("TrainedCaptioner: an ensemble needs a member.");
        var scenes = members[0].Scenes;
        foreach (var member in members)
            if (member.Scenes.Style != scenes.Style || member.Scenes.MaxDigits != scenes.MaxDigits)
                throw new ArgumentException($"TrainedCaptioner: an ensemble's members describe scenes alike; one "
                    + $"was trained on {member.Scenes.Style} captions of up to {member.Scenes.MaxDigits} digits, "
                    + $"another on {scenes.Style} captions of up to {scenes.MaxDigits}.");
        return new TrainedCaptioner(members.SelectMany(m => m.Models).ToArray(), scenes);
    }

    /// <summary>Opens a model saved by training (a checkpoint, or a run folder's best one).</summary>
    public static TrainedCaptioner Open(string folder)
    {
        SceneSettings? scenes = null;
        var model = Checkpoint.Open(folder, config =>
        {
            scenes = SceneSettings.FromJson(config);
            return new Captioner(CaptionerConfig.FromJson(config), new RandomGenerator(0));
        });
        return new TrainedCaptioner(model, scenes!);
    }

    /// <summary>Descriptions of images [N, 1, height, width], in batches of <paramref name="batchSize"/>: greedy, or
    /// beam search of width <paramref name="beam"/> &gt; 1.</summary>
    public List<Caption> Describe(Tensor images, int beam = 1, int batchSize = 100) =>
        Describe(Models, Words, images, beam, batchSize, Scenes.MaxDigits);

    static List<Caption> Describe(IReadOnlyList<Captioner> models, WordLevelTokenizer words, Tensor images, int beam,
        int batchSize, int maxDigits)
    {
        // the longest relational description: "a large seven left of " per digit
        int maxLength = 5 * maxDigits + 2;
        var result = new List<Caption>(images.Size(0));
        for (int start = 0; start < images.Size(0); start += batchSize)
        {
            int n = Math.Min(batchSize, images.Size(0) - start);
            foreach (var d in Captioner.Describe(models, images.Slice(0, start, n), beam, maxLength))
            {
                var text = d.Tokens.Select(t => words.TokenText(t)).ToArray();
                result.Add(new Caption(string.Join(' ', text), text, d.LogProbability, d.Attention));
            }
        }
        return result;
    }

    /// <summary>Exact match, BLEU and (with attention) attention-in-box of the model on <paramref name="scenes"/>.
    /// </summary>
    public CaptionReport Score(IReadOnlyList<DigitScene> scenes, int beam = 1) =>
        Score(Models, Words, Scenes, scenes, beam);

    internal static CaptionReport Score(IReadOnlyList<Captioner> models, WordLevelTokenizer words,
        SceneSettings settings, IReadOnlyList<DigitScene> scenes, int beam = 1, List<Caption>? captions = null)
    {
        captions ??= Describe(models, words, CaptionTask.Images(scenes), beam, 100, settings.MaxDigits);
        var model = AttentionOf(models);
        var references = scenes.Select(settings.Describe).ToList();
        int exact = captions.Where((c, i) => c.Text == references[i]).Count();
        int named = 0, inBox = 0;
        var (rows, columns) = model.Config.FeatureMap;
        for (int i = 0; i < scenes.Count; i++)
        {
            if (captions[i].Attention.Length == 0) continue;
            int k = 0; // the digit the next digit name should describe
            for (int t = 0; t < captions[i].Words.Length && k < scenes[i].Digits.Count; t++)
            {
                int label = DigitScenes.Names.ToList().IndexOf(captions[i].Words[t]);
                if (label < 0) continue;
                var digit = scenes[i].Digits[k++];
                if (label != digit.Label) continue;
                named++;
                var attention = captions[i].Attention[t];
                int peak = Array.IndexOf(attention, attention.Max());
                double y = (peak / columns + 0.5) * model.Config.Height / rows;
                double x = (peak % columns + 0.5) * model.Config.Width / columns;
                if (x >= digit.X && x < digit.X + digit.Size && y >= digit.Y && y < digit.Y + digit.Size) inBox++;
            }
        }
        return new CaptionReport(scenes.Count, exact / (double)scenes.Count,
            Bleu.Corpus(captions.Select(c => c.Text).ToList(), references),
            model.Config.Decoder == CaptionDecoder.Attention ? inBox / (double)Math.Max(1, named) : null);
    }
}

using Recur.Captioning;
using Recur.Cli.Training;
using Recur.Figures;

namespace Recur.Cli;

/// <summary>Pictures in and figures out for <c>recur caption</c>: a user's image as the model's canvas, and an image
/// with the attention of each word.</summary>
static class CaptionFigure
{
    /// <summary>The picture in <paramref name="file"/> as a canvas of the model's size.</summary>
    public static float[,] ReadCanvas(string file, CaptionerConfig config)
    {
        float[,] grey;
        try { grey = Pictures.ReadGrey(file); }
        catch (Exception e) when (e is IOException or InvalidDataException or UnauthorizedAccessException)
        {
            throw new UsageException(e.Message);
        }
        return DigitScenes.Canvas(grey, config.Height, config.Width);
    }

    /// <summary>The image and, per word (and the end), where the model looked; without attention, the image with
    /// its description.</summary>
    public static FigureFiles Draw(string basePath, string name, float[,] image, Caption caption,
        CaptionerConfig config)
    {
        var (rows, columns) = config.FeatureMap;
        var words = caption.Words.Append("<end>").Take(caption.Attention.Length).ToList();
        var maps = caption.Attention.Select(a =>
        {
            var map = new double[rows, columns];
            for (int i = 0; i < a.Length; i++) map[i / columns, i % columns] = a[i];
            return map;
        }).ToList();
        return Charts.AttentionGrid(basePath, $"{name}: \"{caption.Text}\"", image, words, maps);
    }

    /// <summary>Figures of the first test <paramref name="scenes"/>, numbered after <paramref name="basePath"/>.
    /// </summary>
    public static IEnumerable<string> DrawScenes(string basePath, TrainedCaptioner captioner,
        IReadOnlyList<DigitScene> scenes, int beam)
    {
        var captions = captioner.Describe(CaptionTask.Images(scenes), beam);
        for (int i = 0; i < scenes.Count; i++)
            yield return Draw($"{basePath}-{i + 1}", $"test scene {i + 1} (\"{captioner.Scenes.Describe(scenes[i])}\")",
                scenes[i].Pixels, captions[i], captioner.AttentionModel.Config).Png;
    }
}

using OpenQA.Selenium;
using OpenQA.Selenium.Chrome;
using OpenQA.Selenium.Interactions;
using Recur.Cli.Training;
using Recur.Explore;

namespace Recur.Tests.Explore;

/// <summary>A fact that makes the screenshots of docs/explore.md from trained run folders: it runs only when
/// RECUR_EXPLORE_RUNS names the folder that holds them (lm, sst2, ner, fra, airline) and Chromium is installed.
/// </summary>
public sealed class ScreenshotFactAttribute : FactAttribute
{
    public ScreenshotFactAttribute()
    {
        if (Environment.GetEnvironmentVariable("RECUR_EXPLORE_RUNS") is not { Length: > 0 })
            Skip = "makes docs/explore.md's screenshots; set RECUR_EXPLORE_RUNS to a folder of trained runs";
        else if (Browser.Missing() is { } missing) Skip = $"needs {missing}";
    }
}

/// <summary>
/// The screenshots of docs/explore.md, each view used on a trained model:
/// <c>RECUR_EXPLORE_RUNS=/path/to/runs RECUR_SCREENSHOTS=docs/figures dotnet test --filter ExploreScreenshots</c>.
/// </summary>
public sealed class ExploreScreenshots
{
    static string Runs => Environment.GetEnvironmentVariable("RECUR_EXPLORE_RUNS")!;

    static async Task With(string run, Action<ChromeDriver> use, int height = 1000)
    {
        string folder = Path.Combine(Runs, run);
        if (!Directory.Exists(folder)) return;
        await using var host = await ExploreHost.Start(TrainedModels.Subject(folder),
            new ExploreOptions { RunFolder = folder });
        using var driver = Browser.Start(1300, height);
        Browser.Open(driver, host.Address);
        use(driver);
    }

    [ScreenshotFact]
    public async Task EveryView()
    {
        await With("lm", driver =>
        {
            Browser.Type(driver, "prompt", "ROMEO:\nWhat say you, ");
            Browser.Type(driver, "length", "60");
            Browser.Type(driver, "unit-count", "40");
            driver.FindElement(By.Id("generate")).Click();
            Browser.Done(driver, d => d.FindElement(By.Id("heatmap")).GetAttribute("data-rows") is { Length: > 0 });
            var heatmap = driver.FindElement(By.Id("heatmap"));
            new Actions(driver).MoveToElement(heatmap, -heatmap.Size.Width / 2 + 55,
                -heatmap.Size.Height / 2 + 70 + 14 * 5 + 5).Click().Perform();
            var tokens = driver.FindElements(By.CssSelector("#tokens .tok"));
            new Actions(driver).ClickAndHold(tokens[0]).MoveToElement(tokens[5]).Release().Perform();
            Browser.Done(driver, d => d.FindElement(By.Id("unit-search")).Text.Length > 0);
            Browser.Screenshot(driver, "explore-language-model");
            driver.FindElement(By.Id("training-tab")).Click();
            Browser.Done(driver, d => d.FindElement(By.Id("curves")).GetAttribute("data-metrics") is { Length: > 0 });
            Browser.Screenshot(driver, "explore-training-curves");
        }, 1250);
        await With("sst2", driver =>
        {
            Browser.Type(driver, "text", "a gorgeous , witty , seductive movie , though the plot drags a little in "
                + "the middle .");
            driver.FindElement(By.Id("classify")).Click();
            Browser.Done(driver,
                d => d.FindElement(By.Id("explanation")).GetAttribute("data-words") is { Length: > 0 });
            Browser.Screenshot(driver, "explore-classifier");
        }, 560);
        await With("ner", driver =>
        {
            Browser.Type(driver, "tag-text", "Angela Merkel met Emmanuel Macron in Paris on Tuesday to discuss the "
                + "European Union budget .");
            driver.FindElement(By.Id("tag")).Click();
            Browser.Done(driver, d => d.FindElements(By.CssSelector("#marginals tr")).Count > 0);
            Browser.Screenshot(driver, "explore-tagger");
        }, 900);
        await With("fra", driver =>
        {
            Browser.Type(driver, "source", "i am not sure that he is right .");
            driver.FindElement(By.Id("translate")).Click();
            Browser.Done(driver, d => d.FindElement(By.Id("attention")).GetAttribute("data-rows") is { Length: > 0 });
            var canvas = driver.FindElement(By.Id("attention"));
            new Actions(driver).MoveToElement(canvas, -canvas.Size.Width / 2 + 48 + 22 * 2 + 11,
                -canvas.Size.Height / 2 + 70 + 22 * 2 + 11).Perform();
            Browser.Screenshot(driver, "explore-translator");
        }, 640);
        await With("airline", driver =>
        {
            string csv = File.ReadAllText(SharedData.Folder("timeseries/airline-passengers.csv"));
            var values = csv.Split('\n', StringSplitOptions.RemoveEmptyEntries).Skip(1)
                .Select(l => l.Split(',')[1].Trim()).ToArray();
            Browser.Type(driver, "history", string.Join(' ', values));
            Browser.Type(driver, "steps", "24");
            driver.FindElement(By.Id("forecast")).Click();
            Browser.Done(driver, d => d.FindElements(By.CssSelector("#forecast-table tr")).Count == 24);
            Browser.Screenshot(driver, "explore-forecaster");
        }, 820);
    }
}

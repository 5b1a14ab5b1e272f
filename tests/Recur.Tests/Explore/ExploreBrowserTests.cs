using OpenQA.Selenium;
using OpenQA.Selenium.Chrome;
using OpenQA.Selenium.Interactions;
using OpenQA.Selenium.Support.UI;
using Recur.Explore;
using Recur.Tagging;
using Recur.Translation;

namespace Recur.Tests.Explore;

/// <summary>A fact that needs the system's Chromium and its driver (Debian's <c>chromium</c> and
/// <c>chromium-driver</c>); skipped, with the reason shown, where they are not installed.</summary>
public sealed class BrowserFactAttribute : FactAttribute
{
    public BrowserFactAttribute()
    {
        if (Browser.Missing() is { } missing) Skip = $"needs {missing} (apt-get install chromium chromium-driver)";
    }
}

/// <summary>The system's headless Chromium driven through its chromedriver; nothing is downloaded.</summary>
static class Browser
{
    static readonly string[] Folders = ["/usr/bin", "/usr/local/bin", "/usr/lib/chromium"];

    static string? Find(string name) => Folders.Select(f => Path.Combine(f, name)).FirstOrDefault(File.Exists);

    public static string? Missing() => Find("chromium") is null ? "chromium"
        : Find("chromedriver") is null ? "chromedriver" : null;

    public static ChromeDriver Start(int width = 1300, int height = 1000)
    {
        var service = ChromeDriverService.CreateDefaultService(Path.GetDirectoryName(Find("chromedriver"))!,
            "chromedriver");
        service.HideCommandPromptWindow = true;
        service.SuppressInitialDiagnosticInformation = true;
        var options = new ChromeOptions { BinaryLocation = Find("chromium")! };
        options.AddArguments("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
            $"--window-size={width},{height}", "--lang=en-US");
        var driver = new ChromeDriver(service, options, TimeSpan.FromSeconds(60));
        driver.Manage().Timeouts().PageLoad = TimeSpan.FromSeconds(30);
        return driver;
    }

    public static void Open(IWebDriver driver, Uri address)
    {
        driver.Navigate().GoToUrl(address);
        Until(driver, d => d.FindElement(By.TagName("body")).GetAttribute("data-ready") == "true"
            || d.FindElement(By.Id("error")).Displayed);
        Assert.False(driver.FindElement(By.Id("error")).Displayed, driver.FindElement(By.Id("error")).Text);
    }

    public static T Until<T>(IWebDriver driver, Func<IWebDriver, T> condition, double seconds = 30) =>
        new WebDriverWait(driver, TimeSpan.FromSeconds(seconds)).Until(condition);

    public static void Type(IWebDriver driver, string id, string text)
    {
        var box = driver.FindElement(By.Id(id));
        box.Clear();
        box.SendKeys(text);
    }

    /// <summary>Waits until the page says the work is done, failing with the page's error if it shows one.</summary>
    public static void Done(IWebDriver driver, Func<IWebDriver, bool> finished)
    {
        Until(driver, d => finished(d) || d.FindElement(By.Id("error")).Displayed);
        Assert.False(driver.FindElement(By.Id("error")).Displayed, driver.FindElement(By.Id("error")).Text);
    }

    /// <summary>With RECUR_SCREENSHOTS set, saves the page there as NAME.png (docs' screenshots).</summary>
    public static void Screenshot(ChromeDriver driver, string name)
    {
        if (Environment.GetEnvironmentVariable("RECUR_SCREENSHOTS") is not { Length: > 0 } folder) return;
        Directory.CreateDirectory(folder);
        driver.GetScreenshot().SaveAsFile(Path.Combine(folder, name + ".png"));
    }
}

/// <summary>
/// The explorer's page in a real headless Chromium: each view is loaded, used as a person would (typing, clicking,
/// dragging), and checked for what must appear.
/// </summary>
public sealed class ExploreBrowserTests
{
    [BrowserFact]
    public async Task LanguageModelViewStreamsTextAndDrawsTheUnits()
    {
        var (model, tokenizer) = ExploreModels.Language();
        await using var host = await ExploreHost.Start(new LanguageModelSubject(model, tokenizer, "tiny"));
        using var driver = Browser.Start();
        Browser.Open(driver, host.Address);
        Assert.Equal("tiny", driver.FindElement(By.Id("model-name")).Text);
        Assert.True(driver.FindElement(By.Id("view-language-model")).Displayed);
        Assert.False(driver.FindElement(By.Id("view-classifier")).Displayed);

        Browser.Type(driver, "prompt", "to be");
        Browser.Type(driver, "length", "40");
        driver.FindElement(By.Id("generate")).Click();
        Browser.Done(driver, d => d.FindElement(By.Id("heatmap")).GetAttribute("data-rows") is { Length: > 0 });
        string shown = driver.FindElement(By.Id("generated")).Text;
        Assert.StartsWith("to be", shown, StringComparison.Ordinal);
        Assert.True(shown.Length > "to be".Length, $"no generated text: '{shown}'");
        var heatmap = driver.FindElement(By.Id("heatmap"));
        Assert.Equal(12, int.Parse(heatmap.GetAttribute("data-rows")!)); // all 12 units (fewer than 48)
        int columns = int.Parse(heatmap.GetAttribute("data-columns")!);
        Assert.Equal(driver.FindElements(By.CssSelector("#tokens .tok")).Count, columns);

        // a unit's row colours the text by that unit
        new Actions(driver).MoveToElement(heatmap, -heatmap.Size.Width / 2 + 60, -heatmap.Size.Height / 2 + 75)
            .Click().Perform();
        Browser.Done(driver, d => d.FindElement(By.Id("selected-unit")).Text.StartsWith("unit ",
            StringComparison.Ordinal));
        Assert.Contains(driver.FindElements(By.CssSelector("#tokens .tok")),
            t => t.GetCssValue("background-color") is not ("rgba(0, 0, 0, 0)" or "transparent"));

        // dragging over tokens asks which units are on over them
        Browser.Type(driver, "threshold", "-1");
        var tokens = driver.FindElements(By.CssSelector("#tokens .tok"));
        new Actions(driver).ClickAndHold(tokens[2]).MoveToElement(tokens[4]).Release().Perform();
        Browser.Done(driver, d => d.FindElement(By.Id("unit-search")).Text.Length > 0);
        Assert.StartsWith("Units on over tokens 2–4", driver.FindElement(By.Id("unit-search")).Text,
            StringComparison.Ordinal);
        Assert.NotEmpty(driver.FindElements(By.CssSelector("#tokens .tok.match")));

        // a gate instead of the hidden state
        driver.FindElement(By.XPath("//select[@id='map-source']/option[text()='l0: forget gate']")).Click();
        Assert.Equal(12, int.Parse(driver.FindElement(By.Id("heatmap")).GetAttribute("data-rows")!));
    }

    [BrowserFact]
    public async Task ClassifierViewShowsProbabilitiesAndWordWeights()
    {
        IReadOnlyList<TextBlock> Explain(string text, int c) =>
            [new TextBlock("0.70", text.Split(' ').Select((w, i) => new WordWeight(w, i + 1.0)).ToArray())];
        await using var host = await ExploreHost.Start(new ClassifierSubject(["negative", "positive"],
            texts => texts.Select(t => t.Contains("good", StringComparison.Ordinal) ? new[] { 0.1, 0.9 }
                : [0.8, 0.2]).ToArray(), Explain));
        using var driver = Browser.Start();
        Browser.Open(driver, host.Address);
        Browser.Type(driver, "text", "a good film");
        driver.FindElement(By.Id("classify")).Click();
        Browser.Done(driver, d => d.FindElement(By.Id("explanation")).GetAttribute("data-words") is { Length: > 0 });
        Assert.Equal("positive", driver.FindElement(By.Id("probabilities")).GetAttribute("data-label"));
        Assert.Contains("90.0%", driver.FindElement(By.Id("probabilities")).Text, StringComparison.Ordinal);
        var words = driver.FindElements(By.CssSelector("#explanation .word"));
        Assert.Equal(["a", "good", "film"], words.Select(w => w.Text));
        Assert.Equal("3.0000", words[2].GetAttribute("title"));
        Assert.Contains("Why positive", driver.FindElement(By.Id("explanation-title")).Text, StringComparison.Ordinal);
    }

    [BrowserFact]
    public async Task TaggerTranslatorAndForecasterViewsDrawTheirAnswers()
    {
        using var driver = Browser.Start();
        var (tagger, vocabulary) = ExploreModels.Tagger(crf: true);
        await using (var host = await ExploreHost.Start(TaggerSubject.FromModel(tagger, vocabulary)))
        {
            Browser.Open(driver, host.Address);
            Browser.Type(driver, "tag-text", "John lives in New York");
            driver.FindElement(By.Id("tag")).Click();
            Browser.Done(driver, d => d.FindElements(By.CssSelector("#marginals tr")).Count > 0);
            Assert.Equal(5, driver.FindElements(By.CssSelector("#entities .tok")).Count);
            Assert.Equal(6, driver.FindElements(By.CssSelector("#marginals tr")).Count); // a header and 5 tokens
        }
        // a tagger without marginals (an HMM) shows its entities and no table
        await using (var host = await ExploreHost.Start(new TaggerSubject(sentences => sentences.Select(s => s.Select(
            w => char.IsUpper(w[0]) ? "B-PER" : "O").ToArray()).ToList(), ["O", "B-PER"])))
        {
            Browser.Open(driver, host.Address);
            Browser.Type(driver, "tag-text", "ask Ada and Alan");
            driver.FindElement(By.Id("tag")).Click();
            Browser.Done(driver,
                d => d.FindElement(By.Id("entities")).GetAttribute("data-entities") is { Length: > 0 });
            Assert.Equal("2", driver.FindElement(By.Id("entities")).GetAttribute("data-entities"));
            Assert.Single(driver.FindElements(By.CssSelector("#marginals tr"))); // the header alone
        }
        var pairs = new[] { new SentencePair("a b c", "c b a"), new SentencePair("b c", "c b") };
        var words = TranslationVocabulary.Build(pairs);
        var seq2seq = new Seq2Seq(new Seq2SeqConfig(words.Source.VocabularySize, words.Target.VocabularySize, 6, 5,
            Dropout: 0f), new RandomGenerator(3));
        await using (var host = await ExploreHost.Start(new TranslatorSubject(seq2seq, words)))
        {
            Browser.Open(driver, host.Address);
            Browser.Type(driver, "source", "a b c");
            driver.FindElement(By.Id("translate")).Click();
            Browser.Done(driver, d => d.FindElement(By.Id("attention")).GetAttribute("data-rows") is { Length: > 0 });
            Assert.Equal(3, int.Parse(driver.FindElement(By.Id("attention")).GetAttribute("data-columns")!));
            var canvas = driver.FindElement(By.Id("attention"));
            new Actions(driver).MoveToElement(canvas, -canvas.Size.Width / 2 + 48 + 11,
                -canvas.Size.Height / 2 + 70 + 11).Perform();
            Browser.Done(driver, d => d.FindElement(By.Id("attention-info")).Text.Contains('←'));
        }
        await using (var host = await ExploreHost.Start(new ForecasterSubject(
            (history, steps) => Enumerable.Repeat(history[^1], steps).ToArray(), 1)))
        {
            Browser.Open(driver, host.Address);
            Browser.Type(driver, "history", string.Join(' ', Enumerable.Range(0, 40).Select(t => t % 7)));
            Browser.Type(driver, "steps", "5");
            driver.FindElement(By.Id("forecast")).Click();
            Browser.Done(driver, d => d.FindElements(By.CssSelector("#forecast-table tr")).Count == 5);
            Assert.Equal(2, driver.FindElements(By.CssSelector("#forecast-chart polyline.series")).Count);
            Assert.Single(driver.FindElements(By.CssSelector("#forecast-chart polygon.band")));
        }
    }

    [BrowserFact]
    public async Task TrainingCurvesAreDrawnFromTheRunsMetrics()
    {
        string run = Path.Combine(Path.GetTempPath(), "recur-explore-curves-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(run);
        try
        {
            File.WriteAllLines(Path.Combine(run, "metrics.jsonl"), Enumerable.Range(1, 6).SelectMany(s => new[]
            {
                $"{{\"type\":\"train\",\"epoch\":{s},\"step\":{10 * s},\"loss\":{3.0 / s}}}",
                $"{{\"type\":\"eval\",\"epoch\":{s},\"step\":{10 * s},\"loss\":{3.2 / s},\"accuracy\":{0.1 * s},"
                    + $"\"elapsed_seconds\":{s}}}",
            }));
            await using var host = await ExploreHost.Start(new ClassifierSubject(["a", "b"],
                texts => texts.Select(_ => new[] { 0.5, 0.5 }).ToArray()), new ExploreOptions { RunFolder = run });
            using var driver = Browser.Start();
            Browser.Open(driver, host.Address);
            driver.FindElement(By.Id("training-tab")).Click();
            Browser.Done(driver, d => d.FindElement(By.Id("curves")).GetAttribute("data-metrics") is { Length: > 0 });
            Assert.Equal(["loss", "accuracy"], driver.FindElements(By.CssSelector("#curves svg.curve"))
                .Select(s => s.GetAttribute("data-metric")));
            Assert.Equal(2, driver.FindElements(By.CssSelector("#curves svg[data-metric=loss] polyline")).Count);
            Assert.False(driver.FindElement(By.Id("view-classifier")).Displayed);
        }
        finally { Directory.Delete(run, true); }
    }
}

// guide:begin
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Recur;
using Recur.Explore;
using Recur.Language;
using Recur.Optim;
using Recur.Text;
using Recur.Training;

namespace LanguageModels;

public static class Example
{
    /// <summary>Returns the validation bits per character and the beam-search continuation.</summary>
    public static async Task<(double Bits, string Beam)> Run(TextWriter output)
    {
        // a small corpus: counting rhymes, one per line
        string[] animals = ["cat", "dog", "cow", "hen", "pig", "fox"];
        string text = string.Concat(Enumerable.Range(0, 400).Select(i =>
            $"{i % 9 + 1} little {animals[i % animals.Length]}s went to the {(i % 2 == 0 ? "mill" : "well")}.\n"));
        var tokenizer = CharTokenizer.Build(text);
        var ids = tokenizer.Encode(text);
        int split = ids.Length * 9 / 10;

        // a 2-layer LSTM over characters, trained with stateful truncated BPTT (32 steps per chunk)
        var random = new RandomGenerator(1);
        var model = new LanguageModel(new LanguageModelConfig(tokenizer.VocabularySize, EmbeddingSize: 16,
            HiddenSize: 64, NumLayers: 2, Dropout: 0f), random);
        var task = new LanguageModelTask(model, ids[..split], batch: 8, bptt: 32, validIds: ids[split..],
            validCharacters: text.Length - text.Length * 9 / 10);
        var result = new Trainer<int>(task, new Adam(model.Parameters(), 5e-3f),
            new TrainerOptions { MaxSteps = 300, ClipNorm = 1f, ValidateEvery = 300 }).Fit();
        double bits = result.LastEvaluation!["bits_per_char"];
        output.WriteLine($"validation: {bits:F2} bits per character after {result.Steps} steps");

        // sampling (temperature, top-k) and beam search continue a prompt
        var prompt = tokenizer.Encode("7 little ");
        string sample = tokenizer.Decode(model.Generate(prompt, 40, new SamplingOptions(Temperature: 0.5f, TopK: 5)));
        string beam = tokenizer.Decode(model.BeamSearch(prompt, 40, beamWidth: 4)[0].Tokens);
        output.WriteLine($"sampled: 7 little {sample.Split('\n')[0]}");
        output.WriteLine($"beam:    7 little {beam.Split('\n')[0]}");

        // the same model served over HTTP (here on a free loopback port, and stopped again)
        await using var app = ExploreServer.Build(new LanguageModelSubject(model, tokenizer),
            new ExploreOptions { Port = 0 });
        await app.StartAsync();
        using var http = new HttpClient { BaseAddress = ExploreServer.Address(app) };
        var next = await http.PostAsJsonAsync("/predict", new { prompt = "3 little c", top = 1 });
        var answer = await next.Content.ReadFromJsonAsync<JsonObject>();
        output.WriteLine($"served: after '3 little c' comes '{answer!["next"]![0]!["token"]}'");
        await app.StopAsync();
        return (bits, beam);
    }
}
// guide:end

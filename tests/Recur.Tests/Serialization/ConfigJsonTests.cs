using System.Text.Json.Nodes;
using Recur.Captioning;
using Recur.Classification;
using Recur.Forecasting;
using Recur.Language;
using Recur.Memory;
using Recur.Nn;
using Recur.Nn.Recurrent;
using Recur.Speech;
using Recur.Tagging;
using Recur.Training;
using Recur.Translation;
using Recur.WaveNet;

namespace Recur.Tests.Serialization;

public sealed class ConfigJsonTests
{
    /// <summary>
    /// <c>config.json</c> of every settings record as the hand-written writers before source generation wrote them,
    /// each field away from its default: checkpoints saved then must load, and be written again the same way.
    /// </summary>
    static readonly Dictionary<string, string> Written = new()
    {
        ["captioner"] = @"{""architecture"":""captioner"",""decoder"":""mrnn"",""vocabulary_size"":20,""height"":32,"
            + @"""width"":48,""channels"":5,""hidden_size"":14,""embedding_size"":6,""joint_size"":9,""cell"":""gru"","
                + @"""doubly_stochastic"":0.5}",
        ["forecaster"] = @"{""architecture"":""forecaster"",""window"":6,""horizon"":3,""model"":""gru"","
            + @"""hidden_size"":9,""scaling"":""Standard"",""log"":true,""difference_lag"":4,""epochs"":20,"
                + @"""lr"":0.01,""batch"":8,""seed"":3,""validation_size"":5,""scaler_offset"":1.5,"
                    + @"""scaler_scale"":2.5,""covariates"":1,""covariate_scalers"":[[0.5,4]]}",
        ["language_model"] = @"{""architecture"":""language_model"",""vocabulary_size"":50,""embedding_size"":8,"
            + @"""hidden_size"":16,""num_layers"":3,""cell"":""gru"",""dropout"":0.3,""tie_weights"":true}",
        ["memn2n"] = @"{""architecture"":""memn2n"",""vocabulary_size"":60,""sentence_length"":7,"
            + @"""embedding_size"":12,""hops"":2,""memory_size"":30,""encoding"":""bag_of_words"","
                + @"""temporal_encoding"":false,""random_time_noise"":false,""empty_slots"":false}",
        ["ntm"] = @"{""architecture"":""ntm"",""input_size"":9,""output_size"":8,""controller_size"":50,"
            + @"""memory_slots"":64,""slot_size"":10,""controller"":""feedforward""}",
        ["sample_lstm"] = @"{""architecture"":""sample_lstm"",""levels"":128,""embedding_size"":16,""hidden_size"":64,"
            + @"""global_conditions"":2,""sample_rate"":16000}",
        ["scenes"] = @"{""caption_style"":""relational"",""max_digits"":3,""noise"":0.2}",
        ["seq2seq"] = @"{""architecture"":""seq2seq"",""source_vocabulary"":30,""target_vocabulary"":31,"
            + @"""embedding"":9,""hidden"":10,""num_layers"":2,""cell"":""gru"",""bidirectional"":false,"
                + @"""attention"":""dot"",""dropout"":0.15}",
        ["sequence_model"] = @"{""architecture"":""sequence_model"",""cell"":""peephole-lstm"",""input_size"":3,"
            + @"""hidden_size"":5,""output_size"":2,""num_layers"":2,""bidirectional"":true,""dropout"":0.25,"
                + @"""per_step"":true,""chrono_max_steps"":7,""batch_norm_steps"":40}",
        ["sequence_tagger"] = @"{""architecture"":""sequence_tagger"",""word_count"":100,""char_count"":40,"
            + @"""tags"":[""O"",""B-PER""],""scheme"":""bio"",""crf"":false,""char_features"":false,"
                + @"""word_embedding"":20,""char_embedding"":11,""char_hidden"":12,""hidden"":13,""dropout"":0.35,"
                    + @"""casing_embedding"":4,""num_layers"":2,""variational_dropout"":true}",
        ["speech_recognizer"] = @"{""architecture"":""speech_recognizer"",""sample_rate"":16000,""n_fft"":512,"
            + @"""hop"":160,""n_mels"":8,""characters"":""ab "",""conv_layers"":1,""conv_channels"":4,"
                + @"""cell"":""ln-gru"",""hidden_size"":6,""num_layers"":1,""bidirectional"":false,""dropout"":0.25,"
                    + @"""normalization"":""global"",""band_mean"":[1,2,3,4,5,6,7,8],""band_std"":[0.5,1,1.5,2,2.5,3,"
                        + @"3.5,4]}",
        ["story_lstm"] = @"{""architecture"":""story_lstm"",""vocabulary_size"":60,""embedding_size"":12,"
            + @"""hidden_size"":24,""memory_size"":30}",
        ["text_classifier"] = @"{""architecture"":""text_classifier"",""vocabulary_size"":40,""embedding_size"":6,"
            + @"""hidden_size"":7,""classes"":3,""cell"":""ln-gru"",""num_layers"":2,""bidirectional"":false,"
                + @"""dropout"":0.4,""pooling"":""mean"",""max_tokens"":300,""truncation"":""headandtail"","
                    + @"""segmentation"":""chunks"",""segment_length"":50,""sentence_ends"":[3,9]}",
        ["wavenet"] = @"{""architecture"":""wavenet"",""levels"":128,""residual_channels"":16,"
            + @"""dilation_channels"":24,""skip_channels"":32,""layers_per_stack"":5,""stacks"":3,"
                + @"""global_conditions"":2,""local_channels"":4,""sample_rate"":16000}",
    };

    static JsonObject Parse(string json) => JsonNode.Parse(json)!.AsObject();

    static readonly Dictionary<string, Func<JsonObject, JsonObject>> RoundTrips = new()
    {
        ["sequence_model"] = j => SequenceModelConfig.FromJson(j).ToJson(),
        ["forecaster"] = j => Forecaster.FromConfig(j).Config,
        ["language_model"] = j => LanguageModelConfig.FromJson(j).ToJson(),
        ["text_classifier"] = j => TextClassifierConfig.FromJson(j).ToJson(),
        ["seq2seq"] = j => Seq2SeqConfig.FromJson(j).ToJson(),
        ["sequence_tagger"] = j => SequenceTaggerConfig.FromJson(j).ToJson(),
        ["captioner"] = j => CaptionerConfig.FromJson(j).ToJson(),
        ["scenes"] = j => SceneSettings.FromJson(j).ToJson(),
        ["speech_recognizer"] = j => SpeechRecognizerConfig.FromJson(j).ToJson(),
        ["story_lstm"] = j => StoryLstmConfig.FromJson(j).ToJson(),
        ["memn2n"] = j => MemoryNetworkConfig.FromJson(j).ToJson(),
        ["ntm"] = j => NeuralTuringMachineConfig.FromJson(j).ToJson(),
        ["sample_lstm"] = j => SampleLstmConfig.FromJson(j).ToJson(),
        ["wavenet"] = j => WaveNetConfig.FromJson(j).ToJson(),
    };

    [Fact]
    public void ConfigsWrittenBeforeSourceGenerationLoadAndAreWrittenTheSameWay()
    {
        Assert.Equal(Written.Keys.Order(), RoundTrips.Keys.Order());
        foreach (var (name, json) in Written)
        {
            var again = RoundTrips[name](Parse(json));
            Assert.True(JsonNode.DeepEquals(Parse(json), again), $"{name}: {json} came back as {again.ToJsonString()}");
        }
    }

    [Fact]
    public void TrainerStateWrittenBeforeItWasTypedReadsAndIsWrittenTheSameWay()
    {
        // trainer.json of a checkpoint with weight averaging and a plateau schedule, as the JsonObject writer made it
        const string earlier = @"{""seed"":7,""epoch"":1,""batch_in_epoch"":3,""step"":11,""best"":null,"
            + @"""metric"":""loss"","
            + @"""evaluations_without_improvement"":2,""skipped_steps"":1,""elapsed_seconds"":0.84,"
            + @"""random"":{""context"":""74c1:b279:6db2:7938"",""model.dropout"":""60da:4a7a:21d5:5619""},"
            + @"""averaging"":{""options"":""ema 0.9"",""count"":2},"
            + @"""schedule"":{""count"":1,""learning_rate"":0.002,""best"":3.28,""bad_reports"":0,"
                + @"""cooldown_left"":0}}";
        var state = System.Text.Json.JsonSerializer.Deserialize(earlier, TrainingJson.Default.TrainerState)!;
        Assert.Equal((7UL, 11L, 2L), (state.Seed, state.Step, state.Averaging!.Count));
        Assert.Equal(earlier, System.Text.Json.JsonSerializer.Serialize(state, TrainingJson.Default.TrainerState));
        var plain = state with { Averaging = null, Schedule = null, Best = 1.5 };
        Assert.DoesNotContain("averaging", System.Text.Json.JsonSerializer.Serialize(plain,
            TrainingJson.Default.TrainerState));
        var message = Assert.Throws<InvalidDataException>(() => Recur.Serialization.ConfigJson.Read(
            Parse(earlier.Replace(@"""step"":11", @"""step"":""eleven""", StringComparison.Ordinal)),
            TrainingJson.Default.TrainerState, architecture: null)).Message;
        Assert.Contains("'step'", message);
    }

    [Fact]
    public void AMissingOrWrongFieldIsNamed()
    {
        var json = Parse(Written["sequence_model"]);
        json.Remove("hidden_size");
        var missing = Assert.Throws<InvalidDataException>(() => SequenceModelConfig.FromJson(json));
        Assert.Equal("field 'hidden_size' is missing.", missing.Message);
        json = Parse(Written["sequence_model"]);
        json["hidden_size"] = "many";
        var wrong = Assert.Throws<InvalidDataException>(() => SequenceModelConfig.FromJson(json));
        Assert.Equal("field 'hidden_size' is \"many\", not an integer.", wrong.Message);
        json = Parse(Written["sequence_model"]);
        json["cell"] = "elman";
        Assert.StartsWith("field 'cell' is \"elman\", not one of \"rnn\", \"relu-rnn\"",
            Assert.Throws<InvalidDataException>(() => SequenceModelConfig.FromJson(json)).Message);
        json["cell"] = 4;
        Assert.Contains("field 'cell'", Assert.Throws<InvalidDataException>(() => SequenceModelConfig.FromJson(json))
            .Message);
        var ntm = Parse(Written["ntm"]);
        ntm["memory_slots"] = 2;
        Assert.Contains("at least 3 slots", Assert.Throws<InvalidDataException>(()
            => NeuralTuringMachineConfig.FromJson(ntm)).Message);
        ntm = Parse(Written["ntm"]);
        ntm["controller"] = "gru";
        Assert.Equal("field 'controller' is \"gru\", not a valid controller.", Assert.Throws<InvalidDataException>(()
            => NeuralTuringMachineConfig.FromJson(ntm)).Message);
        var other = Assert.Throws<InvalidDataException>(() => LanguageModelConfig.FromJson(Parse(Written["seq2seq"])));
        Assert.Contains("architecture is 'seq2seq', not 'language_model'", other.Message);
    }

    [Fact]
    public void AFieldAddedLaterTakesItsDefaultWhenAnOlderFileLacksIt()
    {
        var json = Parse(Written["sequence_model"]);
        json.Remove("batch_norm_steps");
        json.Remove("chrono_max_steps");
        var config = SequenceModelConfig.FromJson(json);
        Assert.Equal((100, 0, CellKind.PeepholeLstm, 5), (config.BatchNormSteps, config.ChronoMaxSteps, config.Cell,
            config.HiddenSize));
        Assert.Equal("peephole-lstm", (string?)config.ToJson()["cell"]);
    }

    [Fact]
    public void ASpeechRecogniserSavedBeforeGlobalNormalisationNormalisesEachUtterance()
    {
        var json = Parse(Written["speech_recognizer"]);
        foreach (string field in new[] { "normalization", "band_mean", "band_std" }) json.Remove(field);
        var config = SpeechRecognizerConfig.FromJson(json);
        Assert.Equal((FeatureNormalization.Utterance, null, 16000, CellKind.LnGru), (config.Features.Normalization,
            config.Features.Statistics, config.Features.SampleRate, config.Cell));
        json = Parse(Written["speech_recognizer"]);
        json.Remove("band_std");
        Assert.Contains("global normalisation needs", Assert.Throws<InvalidDataException>(()
            => SpeechRecognizerConfig.FromJson(json)).Message);
    }

    [Fact]
    public void ACheckpointWithABrokenConfigNamesTheFileAndTheField()
    {
        string folder = Directory.CreateTempSubdirectory("recur-config-").FullName;
        try
        {
            var model = new SequenceModel(new SequenceModelConfig(CellKind.Gru, 2, 3, 1), new RandomGenerator(1));
            var json = model.Config.ToJson();
            json.Remove("input_size");
            Checkpoint.Save(folder, model, json);
            var error = Assert.Throws<InvalidDataException>(() => Checkpoint.Open(folder,
                c => new SequenceModel(SequenceModelConfig.FromJson(c), new RandomGenerator(0))));
            Assert.Contains(Path.Combine(folder, Checkpoint.ConfigFile), error.Message);
            Assert.Contains("input_size", error.Message);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }
}

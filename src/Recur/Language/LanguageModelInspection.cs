using Recur.Diagnostics;

namespace Recur.Language;

/// <summary>What a trained language model leans on: read-outs built on <see cref="Inspection"/>.</summary>
public static class LanguageModelInspection
{
    /// <summary>
    /// Connectivity of a language model over a text (as in Madsen's "Visualizing memorization in RNNs", Distill 2019):
    /// entry [t, s] is ‖∂y_t/∂e_s‖, how strongly the embedding of token s moves y_t, the logit of the token the model
    /// predicts after reading tokens 0…t. Zero for s &gt; t (the model is causal). All T positions are scored in one
    /// forward and backward pass over T copies of the text, copy t scored at step t. Also returns the predicted tokens.
    /// </summary>
    public static (double[,] Connectivity, int[] Predicted) Connectivity(LanguageModel model, ReadOnlySpan<int> ids)
    {
        int steps = ids.Length;
        if (steps < 1) throw new ArgumentException("Connectivity: the text has no tokens.");
        if ((long)steps * steps * model.Config.VocabularySize > 64L << 20)
            throw new ArgumentException($"Connectivity: {steps} tokens with a vocabulary of "
                + $"{model.Config.VocabularySize} need {steps}² × {model.Config.VocabularySize} logits; use a shorter "
                    + $"text.");
        using var evaluation = model.Evaluating(gradients: true);
        var copies = new int[steps * steps];
        for (int t = 0; t < steps; t++) copies.AsSpan(t * steps, steps).Fill(ids[t]);
        var embedded = model.Embed(copies, steps, steps);
        var predicted = new int[steps];
        var saliency = Inspection.Saliency(x =>
        {
            var logits = model.ForwardEmbedded(x).Logits; // [T, T, V]
            int vocabulary = logits.Size(2);
            var pick = new float[steps * steps * vocabulary];
            var values = logits.Span;
            for (int t = 0; t < steps; t++)
            {
                // copy t is scored at its own step t, on the token the model ranks first there
                var row = values.Slice((t * steps + t) * vocabulary, vocabulary);
                int best = 0;
                for (int v = 1; v < vocabulary; v++) if (row[v] > row[best]) best = v;
                predicted[t] = best;
                pick[(t * steps + t) * vocabulary + best] = 1f;
            }
            return (logits * Tensor.FromArray(pick, steps, steps, vocabulary)).Sum(2).Sum(0);
        }, embedded, out _);
        foreach (var p in model.Parameters()) p.Grad = null;
        var result = new double[steps, steps];
        for (int t = 0; t < steps; t++)
            for (int s = 0; s < steps; s++) result[t, s] = saliency[t][s];
        return (result, predicted);
    }
}

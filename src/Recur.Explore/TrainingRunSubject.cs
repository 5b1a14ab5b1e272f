using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Routing;

namespace Recur.Explore;

/// <summary>
/// A run folder whose model the explorer has no view for (a sequence task, speech, WaveNet, a memory network, …):
/// the page shows its training curves from <c>metrics.jsonl</c> (<see cref="ExploreOptions.RunFolder"/>), and only
/// <c>GET /info</c> and <c>GET /metrics</c> answer.
/// </summary>
/// <param name="name">The name the page shows.</param>
/// <param name="architecture">What the run trained (the checkpoint's <c>architecture</c>), shown beside the
/// name.</param>
public sealed class TrainingRunSubject(string name, string? architecture = null) : ExploreSubject("run", name)
{
    /// <inheritdoc/>
    public override JsonObject Describe() => new() { ["architecture"] = architecture };

    internal override void Map(IEndpointRouteBuilder endpoints, ExploreContext context) { }
}

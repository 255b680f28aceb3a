using System.Text.Json.Nodes;
using Kcm.Api;
using Kcm.Api.Core.V1;
using Kcm.Api.Policy.V1;
using Kcm.Client;
using Kcm.Client.Errors;

namespace Kcm.Controllers.Disruption;

/// <summary>The disruption controller's writes (a seam for unit tests).</summary>
public interface IDisruptionWriter
{
    /// <summary>PUT the budget's status (no retry here: a failure goes back to the queue).</summary>
    Task UpdateStatusAsync(PodDisruptionBudget pdb, CancellationToken cancellationToken);

    /// <summary>Sets the pod's DisruptionTarget condition to False at <paramref name="now"/>, if the pod is still at its cached resourceVersion.</summary>
    Task ResetDisruptionTargetAsync(Pod pod, DateTimeOffset now, CancellationToken cancellationToken);
}

public sealed class ApiDisruptionWriter(KubeApiClient client) : IDisruptionWriter
{
    /// <summary>Upstream's field manager for the pod condition it applies.</summary>
    public const string FieldManager = "DisruptionController";

    public Task UpdateStatusAsync(PodDisruptionBudget pdb, CancellationToken cancellationToken)
        => client.UpdateStatusAsync(pdb, cancellationToken: cancellationToken);

    /// <summary>
    /// A forced server-side apply of pods/status, as upstream. Where apply is not served (415, the embedded server)
    /// the same fields go in a strategic merge patch, which merges conditions by type just as apply does.
    /// </summary>
    public async Task ResetDisruptionTargetAsync(Pod pod, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var name = pod.Metadata?.Name ?? "";
        var ns = pod.Metadata?.Namespace;
        try
        {
            await client.PatchAsync<Pod>(ns, name, PatchType.Apply, ApplyPatch(pod, now), "status",
                new WriteOptions { FieldManager = FieldManager, Force = true }, cancellationToken).ConfigureAwait(false);
        }
        catch (KubeApiException e) when (e.StatusCode == 415)
        {
            await client.PatchAsync<Pod>(ns, name, PatchType.StrategicMerge, MergePatch(pod, now), "status",
                new WriteOptions { FieldManager = FieldManager }, cancellationToken).ConfigureAwait(false);
        }
    }

    internal static string ApplyPatch(Pod pod, DateTimeOffset now) => new JsonObject
    {
        ["kind"] = "Pod",
        ["apiVersion"] = "v1",
        ["metadata"] = Metadata(pod, withName: true),
        ["status"] = Status(now),
    }.ToJsonString();

    internal static string MergePatch(Pod pod, DateTimeOffset now) => new JsonObject
    {
        ["metadata"] = Metadata(pod, withName: false),
        ["status"] = Status(now),
    }.ToJsonString();

    private static JsonObject Metadata(Pod pod, bool withName)
    {
        var metadata = new JsonObject();
        if (withName)
        {
            metadata["name"] = pod.Metadata?.Name;
            metadata["namespace"] = pod.Metadata?.Namespace;
        }
        metadata["resourceVersion"] = pod.Metadata?.ResourceVersion;
        return metadata;
    }

    private static JsonObject Status(DateTimeOffset now) => new()
    {
        ["conditions"] = new JsonArray(new JsonObject
        {
            ["type"] = DisruptionController.DisruptionTargetCondition,
            ["status"] = "False",
            ["lastTransitionTime"] = KubeTime.Format(now),
        }),
    };
}

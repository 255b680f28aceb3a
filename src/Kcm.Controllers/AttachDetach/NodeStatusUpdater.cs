using System.Text.Json;
using System.Text.Json.Nodes;
using Kcm.Api.Core.V1;
using Kcm.Client.Errors;
using Kcm.Runtime.Informers;
using Microsoft.Extensions.Logging;

namespace Kcm.Controllers.AttachDetach;

/// <summary>
/// Upstream's nodeStatusUpdater: writes each node's status.volumesAttached from the actual state of the world, as a
/// strategic merge patch of nodes/status against the cached node; a failed write marks the node for another try.
/// </summary>
public sealed class NodeStatusUpdater(IAttachDetachClient client, IObjectCache<Node> nodes, ActualStateOfWorld actualState, ILogger logger)
{
    /// <summary>Writes every node whose report changed; false when some could not be written.</summary>
    public async Task<bool> UpdateNodeStatusesAsync(CancellationToken cancellationToken)
    {
        var failures = 0;
        foreach (var (nodeName, volumes) in actualState.GetVolumesToReportAttached())
        {
            if (!await ProcessNodeVolumesAsync(nodeName, volumes, cancellationToken).ConfigureAwait(false))
            {
                failures++;
            }
        }
        if (failures > 0)
        {
            logger.LogWarning("UpdateNodeStatuses failed with: unable to update {Count} nodes", failures);
        }
        return failures == 0;
    }

    public async Task<bool> UpdateNodeStatusForNodeAsync(string nodeName, CancellationToken cancellationToken)
        => actualState.GetVolumesToReportAttachedForNode(nodeName) is not { } volumes
            || await ProcessNodeVolumesAsync(nodeName, volumes, cancellationToken).ConfigureAwait(false);

    private async Task<bool> ProcessNodeVolumesAsync(string nodeName, List<AttachedVolume> volumes, CancellationToken cancellationToken)
    {
        if (nodes.Get(new ObjectKey(null, nodeName)) is not { } node)
        {
            // No retry until the node exists.
            logger.LogDebug("Could not update node status. Failed to find node \"{Node}\" in NodeInformer cache.", nodeName);
            return true;
        }
        try
        {
            await client.PatchNodeStatusAsync(nodeName, Patch(node, volumes), cancellationToken).ConfigureAwait(false);
            logger.LogDebug("Updating status for node \"{Node}\" succeeded. VolumesAttached: {Volumes}", nodeName, string.Join(",", volumes.Select(v => v.Name)));
            return true;
        }
        catch (NotFoundException)
        {
            logger.LogDebug("Could not update node status for \"{Node}\"; node does not exist - skipping", nodeName);
            return true;
        }
        catch (KubeApiException e)
        {
            actualState.SetNodeStatusUpdateNeeded(nodeName);
            logger.LogDebug("Could not update node status for \"{Node}\"; re-marking for update. {Error}", nodeName, e.Message);
            return false;
        }
    }

    /// <summary>
    /// The two-way merge patch upstream computes: volumesAttached (a list without a merge key, so replaced whole) when it
    /// differs from the cached node's, null when it becomes empty, otherwise an empty patch.
    /// </summary>
    public static string Patch(Node node, IReadOnlyList<AttachedVolume> volumes)
    {
        var current = node.Status?.VolumesAttached ?? [];
        if (current.Count == volumes.Count && current.Zip(volumes).All(p => p.First.Name == p.Second.Name && (p.First.DevicePath ?? "") == (p.Second.DevicePath ?? "")))
        {
            return "{}";
        }
        JsonNode? list = volumes.Count == 0 ? null
            : new JsonArray(volumes.Select(v => (JsonNode)new JsonObject { ["devicePath"] = v.DevicePath ?? "", ["name"] = v.Name }).ToArray());
        return new JsonObject { ["status"] = new JsonObject { ["volumesAttached"] = list } }.ToJsonString(new JsonSerializerOptions());
    }
}

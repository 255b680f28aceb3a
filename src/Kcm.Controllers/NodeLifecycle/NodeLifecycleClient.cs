using System.Text.Json.Nodes;
using Kcm.Api;
using Kcm.Api.Core.V1;
using Kcm.Client;
using Kcm.Client.Errors;

namespace Kcm.Controllers.NodeLifecycle;

/// <summary>The node lifecycle controller's and taint manager's API calls (a seam for unit tests).</summary>
public interface INodeLifecycleClient
{
    Task<Node> GetNodeAsync(string name, CancellationToken cancellationToken);

    Task PatchNodeAsync(string name, string strategicMergePatch, CancellationToken cancellationToken);

    Task<Node> UpdateNodeStatusAsync(Node node, CancellationToken cancellationToken);

    Task UpdatePodStatusAsync(Pod pod, CancellationToken cancellationToken);

    Task DeletePodAsync(string @namespace, string name, CancellationToken cancellationToken);

    /// <summary>Applies the pod's DisruptionTarget condition (upstream's ApplyStatus with field manager "TaintManager").</summary>
    Task ApplyTaintEvictionConditionAsync(string @namespace, string name, DateTimeOffset now, CancellationToken cancellationToken);
}

public sealed class ApiNodeLifecycleClient(KubeApiClient client) : INodeLifecycleClient
{
    /// <summary>Upstream's field manager for the condition the taint manager applies before a deletion.</summary>
    public const string TaintManagerFieldManager = "TaintManager";

    public Task<Node> GetNodeAsync(string name, CancellationToken cancellationToken) => client.GetAsync<Node>(null, name, cancellationToken);

    public Task PatchNodeAsync(string name, string strategicMergePatch, CancellationToken cancellationToken)
        => client.PatchAsync<Node>(null, name, PatchType.StrategicMerge, strategicMergePatch, cancellationToken: cancellationToken);

    public Task<Node> UpdateNodeStatusAsync(Node node, CancellationToken cancellationToken) => client.UpdateStatusAsync(node, cancellationToken: cancellationToken);

    public Task UpdatePodStatusAsync(Pod pod, CancellationToken cancellationToken) => client.UpdateStatusAsync(pod, cancellationToken: cancellationToken);

    public Task DeletePodAsync(string @namespace, string name, CancellationToken cancellationToken) => client.DeleteAsync<Pod>(@namespace, name, cancellationToken: cancellationToken);

    /// <summary>
    /// Upstream GETs the pod first (a missing pod fails the attempt) and then applies the condition. Where apply is
    /// not served (415, the embedded server) the same condition goes in a strategic merge patch.
    /// </summary>
    public async Task ApplyTaintEvictionConditionAsync(string @namespace, string name, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var pod = await client.GetAsync<Pod>(@namespace, name, cancellationToken).ConfigureAwait(false);
        var condition = new JsonObject
        {
            ["type"] = "DisruptionTarget",
            ["status"] = "True",
            ["lastTransitionTime"] = KubeTime.Format(now),
            ["reason"] = "DeletionByTaintManager",
            ["message"] = "Taint manager: deleting due to NoExecute taint",
        };
        var apply = new JsonObject
        {
            ["kind"] = "Pod",
            ["apiVersion"] = "v1",
            ["metadata"] = new JsonObject { ["name"] = pod.Metadata?.Name, ["namespace"] = pod.Metadata?.Namespace },
            ["status"] = new JsonObject { ["conditions"] = new JsonArray(condition) },
        };
        try
        {
            await client.PatchAsync<Pod>(@namespace, name, PatchType.Apply, apply.ToJsonString(), "status",
                new WriteOptions { FieldManager = TaintManagerFieldManager, Force = true }, cancellationToken).ConfigureAwait(false);
        }
        catch (KubeApiException e) when (e.StatusCode == 415)
        {
            var merge = new JsonObject { ["status"] = new JsonObject { ["conditions"] = new JsonArray(condition.DeepClone()) } };
            await client.PatchAsync<Pod>(@namespace, name, PatchType.StrategicMerge, merge.ToJsonString(), "status",
                new WriteOptions { FieldManager = TaintManagerFieldManager }, cancellationToken).ConfigureAwait(false);
        }
    }
}

/// <summary>
/// Upstream's AddOrUpdateTaintOnNode / RemoveTaintOffNode / SwapNodeControllerTaint: read the node, change its
/// taints, and patch the whole taint list with the read resourceVersion as precondition (the list has no merge key,
/// so concurrent writers must conflict); a conflict is retried from a fresh read.
/// </summary>
public sealed class NodeTaintWriter(INodeLifecycleClient client, TimeProvider time)
{
    // Upstream's UpdateTaintBackoff: 5 steps, 100 ms apart (jitter left out).
    private const int Attempts = 5;
    private static readonly TimeSpan RetryDelay = TimeSpan.FromMilliseconds(100);

    public async Task AddOrUpdateAsync(string nodeName, IReadOnlyList<Taint> taints, CancellationToken cancellationToken)
    {
        if (taints.Count == 0)
        {
            return;
        }
        await RetryOnConflictAsync(nodeName, current =>
        {
            List<Taint>? changed = null;
            foreach (var taint in taints)
            {
                changed = NodeTaints.AddOrUpdate(changed ?? current, taint) ?? changed;
            }
            return changed;
        }, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>With a node given, nothing is sent unless it carries one of the taints.</summary>
    public async Task RemoveAsync(string nodeName, Node? node, IReadOnlyList<Taint> taints, CancellationToken cancellationToken)
    {
        if (taints.Count == 0)
        {
            return;
        }
        if (node is not null && !taints.Any(t => NodeTaints.Exists(node.Spec?.Taints, t)))
        {
            return;
        }
        await RetryOnConflictAsync(nodeName, current =>
        {
            List<Taint>? changed = null;
            foreach (var taint in taints)
            {
                changed = NodeTaints.Remove(changed ?? current, taint) ?? changed;
            }
            return changed;
        }, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Adds <paramref name="toAdd"/> (stamped with the time added) and removes <paramref name="toRemove"/>.</summary>
    public async Task SwapAsync(Node node, IReadOnlyList<Taint> toAdd, IReadOnlyList<Taint> toRemove, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var stamped = toAdd.Select(t => new Taint { Key = t.Key, Value = t.Value, Effect = t.Effect, TimeAdded = Truncate(now) }).ToList();
        var name = node.Metadata?.Name ?? "";
        await AddOrUpdateAsync(name, stamped, cancellationToken).ConfigureAwait(false);
        await RemoveAsync(name, node, toRemove, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>PatchNodeTaints' patch: the resourceVersion read, and the complete new list (null when empty).</summary>
    internal static string TaintPatch(string? resourceVersion, IReadOnlyList<Taint> taints)
    {
        var list = taints.Count == 0 ? null : new JsonArray([.. taints.Select(t => KubeJson.ToNode(t))]);
        return new JsonObject
        {
            ["metadata"] = new JsonObject { ["resourceVersion"] = resourceVersion },
            ["spec"] = new JsonObject { ["taints"] = list },
        }.ToJsonString();
    }

    // The wire keeps seconds; comparing a stamped taint with what the server returns needs the same precision.
    private static DateTimeOffset Truncate(DateTimeOffset t) => new(t.UtcTicks - (t.UtcTicks % TimeSpan.TicksPerSecond), TimeSpan.Zero);

    private async Task RetryOnConflictAsync(string nodeName, Func<IReadOnlyList<Taint>, List<Taint>?> change, CancellationToken cancellationToken)
    {
        for (var attempt = 1; ; attempt++)
        {
            var node = await client.GetNodeAsync(nodeName, cancellationToken).ConfigureAwait(false);
            var updated = change(node.Spec?.Taints ?? []);
            if (updated is null)
            {
                return;
            }
            try
            {
                await client.PatchNodeAsync(nodeName, TaintPatch(node.Metadata?.ResourceVersion, updated), cancellationToken).ConfigureAwait(false);
                return;
            }
            catch (ConflictException) when (attempt < Attempts)
            {
                await Task.Delay(RetryDelay, time, cancellationToken).ConfigureAwait(false);
            }
        }
    }
}

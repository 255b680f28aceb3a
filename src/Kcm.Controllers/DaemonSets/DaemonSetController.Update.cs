using System.Text.Json.Nodes;
using Kcm.Api.Apps.V1;
using Kcm.Api.Core.V1;
using Kcm.Api.Meta.V1;
using Kcm.Client.Errors;
using Kcm.Controllers.Common;
using Kcm.Controllers.Deployments;
using Kcm.Runtime.Informers;
using Microsoft.Extensions.Logging;

namespace Kcm.Controllers.DaemonSets;

/// <summary>A hash collision between revisions; the collision count was raised, the next sync picks another name.</summary>
public sealed class RevisionCollisionException(string message, Exception? inner = null) : InvalidOperationException(message, inner);

public sealed partial class DaemonSetController
{
    /// <summary>
    /// Upstream's rollingUpdate. Without surge: delete old pods while the new ones that are unavailable stay within
    /// maxUnavailable (an old pod that is itself unavailable is always replaced), the manage loop recreates them.
    /// With surge: create a new pod beside an old one on up to maxSurge nodes, and delete the old one once the new
    /// one is available.
    /// </summary>
    private async Task RollingUpdateAsync(DaemonSet ds, IReadOnlyList<Node> nodes, string hash, SyncState state, CancellationToken cancellationToken)
    {
        var nodeToDaemonPods = await NodesToDaemonPodsAsync(ds, state, cancellationToken).ConfigureAwait(false);
        var (maxSurge, maxUnavailable) = UpdatedDesiredNodeCounts(ds, nodes, nodeToDaemonPods);
        var now = _time.GetUtcNow();
        var minReadySeconds = ds.Spec?.MinReadySeconds ?? 0;
        var generation = DaemonSetUtil.TemplateGeneration(ds);
        // Upstream walks a Go map (random order); a fixed order makes the choice of candidates repeatable.
        var perNode = nodeToDaemonPods.OrderBy(p => p.Key, StringComparer.Ordinal).ToList();

        if (maxSurge == 0)
        {
            var numUnavailable = 0;
            var allowedReplacementPods = new List<string>();
            var candidatePodsToDelete = new List<string>();
            foreach (var (nodeName, pods) in perNode)
            {
                if (!FindUpdatedPodsOnNode(pods, hash, generation, out var newPod, out var oldPod))
                {
                    _logger.LogDebug("{Message}", $"DaemonSet {ObjectKey.Of(ds)} has excess pods on node {nodeName}, skipping to allow the core loop to process");
                    numUnavailable++;
                    continue;
                }
                if ((oldPod is null && newPod is null) || (oldPod is not null && newPod is not null))
                {
                    numUnavailable++; // The manage loop creates or deletes here.
                }
                else if (newPod is not null)
                {
                    if (!PodReadiness.IsPodAvailable(newPod, minReadySeconds, now))
                    {
                        numUnavailable++;
                    }
                }
                else if (!PodReadiness.IsPodAvailable(oldPod!, minReadySeconds, now))
                {
                    allowedReplacementPods.Add(oldPod!.Metadata!.Name!);
                }
                else if (numUnavailable < maxUnavailable)
                {
                    candidatePodsToDelete.Add(oldPod!.Metadata!.Name!);
                }
            }
            var remaining = Math.Clamp(maxUnavailable - numUnavailable, 0, candidatePodsToDelete.Count);
            _logger.LogTrace("DaemonSet {DaemonSet} allowing {Replacements} replacements, up to {MaxUnavailable} unavailable, {Unavailable} new are unavailable, {Candidates} candidates",
                ObjectKey.Of(ds), allowedReplacementPods.Count, maxUnavailable, numUnavailable, candidatePodsToDelete.Count);
            var oldPodsToDelete = allowedReplacementPods.Concat(candidatePodsToDelete.Take(remaining)).ToList();
            await SyncNodesAsync(ds, oldPodsToDelete, [], hash, cancellationToken).ConfigureAwait(false);
            return;
        }

        var podsToDelete = new List<string>();
        var candidateNewNodes = new List<string>();
        var allowedNewNodes = new List<string>();
        var numSurge = 0;
        foreach (var (nodeName, pods) in perNode)
        {
            if (!FindUpdatedPodsOnNode(pods, hash, generation, out var newPod, out var oldPod))
            {
                numSurge++; // Excess pods: the manage loop prunes them; count the node as surging.
                continue;
            }
            if (oldPod is null)
            {
                continue; // The manage loop handles it.
            }
            if (newPod is null)
            {
                if (!PodReadiness.IsPodAvailable(oldPod, minReadySeconds, now))
                {
                    allowedNewNodes.Add(nodeName);
                }
                else if (numSurge < maxSurge)
                {
                    candidateNewNodes.Add(nodeName);
                }
                continue;
            }
            if (!PodReadiness.IsPodAvailable(newPod, minReadySeconds, now))
            {
                numSurge++; // Waiting for the new pod.
                continue;
            }
            podsToDelete.Add(oldPod.Metadata!.Name!);
        }
        var remainingSurge = Math.Clamp(maxSurge - numSurge, 0, candidateNewNodes.Count);
        var newNodesToCreate = allowedNewNodes.Concat(candidateNewNodes.Take(remainingSurge)).ToList();
        await SyncNodesAsync(ds, podsToDelete, newNodesToCreate, hash, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>findUpdatedPodsOnNode: at most one new and one old pod (not being deleted) on the node, else false.</summary>
    internal static bool FindUpdatedPodsOnNode(IEnumerable<Pod> podsOnNode, string hash, long? generation, out Pod? newPod, out Pod? oldPod)
    {
        newPod = null;
        oldPod = null;
        foreach (var pod in podsOnNode)
        {
            if (pod.Metadata?.DeletionTimestamp is not null)
            {
                continue;
            }
            if (DaemonSetUtil.IsPodUpdated(pod, hash, generation))
            {
                if (newPod is not null)
                {
                    newPod = oldPod = null;
                    return false;
                }
                newPod = pod;
            }
            else
            {
                if (oldPod is not null)
                {
                    newPod = oldPod = null;
                    return false;
                }
                oldPod = pod;
            }
        }
        return true;
    }

    /// <summary>
    /// updatedDesiredNodeCounts: maxSurge and maxUnavailable of the nodes that should run the pod, and an empty entry
    /// for each such node without pods; when both are 0, one unavailable pod is allowed so the update progresses.
    /// </summary>
    internal (int MaxSurge, int MaxUnavailable) UpdatedDesiredNodeCounts(DaemonSet ds, IReadOnlyList<Node> nodes, Dictionary<string, List<Pod>> nodeToDaemonPods)
    {
        var desired = 0;
        foreach (var node in nodes)
        {
            if (!DaemonSetUtil.NodeShouldRunDaemonPod(node, ds).ShouldRun)
            {
                continue;
            }
            desired++;
            nodeToDaemonPods.TryAdd(node.Metadata?.Name ?? "", []);
        }
        int maxUnavailable, maxSurge;
        try
        {
            maxUnavailable = DaemonSetUtil.UnavailableCount(ds, desired);
        }
        catch (InvalidDaemonSetStrategyException ex)
        {
            throw new InvalidDaemonSetStrategyException($"couldn't get unavailable numbers: invalid value for MaxUnavailable: {ex.Message}");
        }
        try
        {
            maxSurge = DaemonSetUtil.SurgeCount(ds, desired);
        }
        catch (InvalidDaemonSetStrategyException ex)
        {
            throw new InvalidDaemonSetStrategyException($"couldn't get unavailable numbers: invalid value for MaxSurge: {ex.Message}");
        }
        if (desired > 0 && maxUnavailable == 0 && maxSurge == 0)
        {
            _logger.LogWarning("{Message}", $"DaemonSet {ObjectKey.Of(ds)} is not configured for surge or unavailability, defaulting to accepting unavailability");
            maxUnavailable = 1;
        }
        return (maxSurge, maxUnavailable);
    }

    /// <summary>
    /// constructHistory: the DaemonSet's revisions split into the current one (created when missing, deduplicated,
    /// renumbered above every old one) and the old ones; revisions without the hash label get their name as hash.
    /// </summary>
    private async Task<(ControllerRevision Current, List<ControllerRevision> Old)> ConstructHistoryAsync(DaemonSet ds, SyncState state, CancellationToken cancellationToken)
    {
        var histories = await ControlledHistoriesAsync(ds, state, cancellationToken).ConfigureAwait(false);
        var current = new List<ControllerRevision>();
        var old = new List<ControllerRevision>();
        var patch = ControllerHistory.TemplatePatch(ds.Spec?.Template);
        foreach (var listed in histories)
        {
            var history = listed;
            if (history.Metadata?.Labels?.ContainsKey(DaemonSetNames.UniqueLabelKey) != true)
            {
                var toUpdate = KubeObjects.Clone(history);
                toUpdate.Metadata!.Labels = new Dictionary<string, string>(toUpdate.Metadata.Labels ?? new Dictionary<string, string>())
                {
                    [DaemonSetNames.UniqueLabelKey] = toUpdate.Metadata.Name ?? "",
                };
                history = await _revisionClient.UpdateAsync(toUpdate, cancellationToken).ConfigureAwait(false);
            }
            if (patch.AsSpan().SequenceEqual(ControllerHistory.RevisionData(history)))
            {
                current.Add(history);
            }
            else
            {
                old.Add(history);
            }
        }

        var currentRevision = ControllerHistory.MaxRevision(old) + 1;
        ControllerRevision cur;
        if (current.Count == 0)
        {
            cur = await SnapshotAsync(ds, patch, currentRevision, cancellationToken).ConfigureAwait(false);
        }
        else
        {
            cur = await DedupCurrentHistoriesAsync(ds, current, state, cancellationToken).ConfigureAwait(false);
            if ((cur.Revision ?? 0) < currentRevision)
            {
                var toUpdate = KubeObjects.Clone(cur);
                toUpdate.Revision = currentRevision;
                await _revisionClient.UpdateAsync(toUpdate, cancellationToken).ConfigureAwait(false);
            }
        }
        return (cur, old);
    }

    /// <summary>cleanupHistory: the oldest revisions beyond revisionHistoryLimit go, except those a live pod still carries.</summary>
    private async Task CleanupHistoryAsync(DaemonSet ds, List<ControllerRevision> old, SyncState state, CancellationToken cancellationToken)
    {
        var nodeToDaemonPods = await NodesToDaemonPodsAsync(ds, state, cancellationToken).ConfigureAwait(false);
        var toKill = old.Count - (ds.Spec?.RevisionHistoryLimit ?? 10);
        if (toKill <= 0)
        {
            return;
        }
        var liveHashes = nodeToDaemonPods.Values.SelectMany(p => p)
            .Select(p => p.Metadata?.Labels?.GetValueOrDefault(DaemonSetNames.UniqueLabelKey))
            .Where(h => !string.IsNullOrEmpty(h))
            .ToHashSet(StringComparer.Ordinal);
        foreach (var history in old.OrderBy(h => h.Revision ?? 0))
        {
            if (toKill <= 0)
            {
                break;
            }
            if (history.Metadata?.Labels?.GetValueOrDefault(DaemonSetNames.UniqueLabelKey) is { } hash && liveHashes.Contains(hash))
            {
                continue;
            }
            await _revisionClient.DeleteAsync(history.Metadata?.Namespace, history.Metadata?.Name ?? "", cancellationToken).ConfigureAwait(false);
            toKill--;
        }
    }

    /// <summary>dedupCurHistories: keep the highest-numbered current revision, relabel pods to its hash, delete the others.</summary>
    private async Task<ControllerRevision> DedupCurrentHistoriesAsync(DaemonSet ds, List<ControllerRevision> current, SyncState state, CancellationToken cancellationToken)
    {
        if (current.Count == 1)
        {
            return current[0];
        }
        var keep = current[0];
        foreach (var candidate in current)
        {
            if ((candidate.Revision ?? 0) >= (keep.Revision ?? 0))
            {
                keep = candidate;
            }
        }
        var keepHash = keep.Metadata?.Labels?.GetValueOrDefault(DaemonSetNames.UniqueLabelKey) ?? "";
        foreach (var duplicate in current.Where(c => c.Metadata?.Name != keep.Metadata?.Name))
        {
            foreach (var pod in await DaemonPodsAsync(ds, state, cancellationToken).ConfigureAwait(false))
            {
                if (pod.Metadata?.Labels?.GetValueOrDefault(DaemonSetNames.UniqueLabelKey) != keepHash)
                {
                    var relabel = new JsonObject { ["metadata"] = new JsonObject { ["labels"] = new JsonObject { [DaemonSetNames.UniqueLabelKey] = keepHash } } };
                    await _podControl.PatchPodAsync(pod.Metadata!.Namespace ?? "", pod.Metadata.Name!, relabel.ToJsonString(), cancellationToken).ConfigureAwait(false);
                }
            }
            await _revisionClient.DeleteAsync(duplicate.Metadata?.Namespace, duplicate.Metadata?.Name ?? "", cancellationToken).ConfigureAwait(false);
        }
        return keep;
    }

    /// <summary>controlledHistories: every revision of the namespace is a candidate, adopted or released by selector.</summary>
    private Task<List<ControllerRevision>> ControlledHistoriesAsync(DaemonSet ds, SyncState state, CancellationToken cancellationToken)
    {
        var metadata = ds.Metadata!;
        var revisions = _revisions.ByIndex(KnownIndexers.Namespace, metadata.Namespace ?? "");
        return ControllerHistory.ClaimAsync(metadata, Kind, Selector(ds), revisions, CanAdopt(ds, state), _revisionClient, _logger, cancellationToken);
    }

    /// <summary>
    /// snapshot: records the template as a new revision named ds-hash. A name taken by a revision with other data is a
    /// hash collision: the collision count is raised (unless ours was stale) and the sync fails, to retry with a new name.
    /// </summary>
    private async Task<ControllerRevision> SnapshotAsync(DaemonSet ds, byte[] patch, long revision, CancellationToken cancellationToken)
    {
        var metadata = ds.Metadata!;
        var collisionCount = ds.Status?.CollisionCount;
        var hash = PodTemplates.ComputeHash(ds.Spec?.Template ?? new PodTemplateSpec(), collisionCount);
        var name = $"{metadata.Name}-{hash}";
        var labels = new Dictionary<string, string>(ds.Spec?.Template?.Metadata?.Labels ?? new Dictionary<string, string>())
        {
            [DaemonSetNames.UniqueLabelKey] = hash,
        };
        var history = new ControllerRevision
        {
            Metadata = new ObjectMeta
            {
                Name = name,
                Namespace = metadata.Namespace,
                Labels = labels,
                Annotations = metadata.Annotations is { } a ? new Dictionary<string, string>(a) : null,
                OwnerReferences = [ControllerRefs.NewControllerRef(metadata, Kind)],
            },
            Data = JsonNode.Parse(patch),
            Revision = revision,
        };
        try
        {
            return await _revisionClient.CreateAsync(metadata.Namespace, history, cancellationToken).ConfigureAwait(false);
        }
        catch (AlreadyExistsException outer)
        {
            var existing = await _revisionClient.GetAsync(metadata.Namespace, name, cancellationToken).ConfigureAwait(false);
            if (patch.AsSpan().SequenceEqual(ControllerHistory.RevisionData(existing)))
            {
                return existing; // Ours, from an earlier attempt.
            }
            // A collision: bump the count on the latest DaemonSet, unless the count we hashed with was already stale.
            var fresh = await _client.GetAsync(metadata.Namespace, metadata.Name ?? "", cancellationToken).ConfigureAwait(false);
            if (fresh.Status?.CollisionCount != collisionCount)
            {
                throw new RevisionCollisionException(
                    $"found a stale collision count ({collisionCount}, expected {fresh.Status?.CollisionCount}) of DaemonSet \"{metadata.Name}\" while processing; will retry until it is updated", outer);
            }
            fresh.Status ??= new DaemonSetStatus();
            fresh.Status.CollisionCount = (fresh.Status.CollisionCount ?? 0) + 1;
            await _client.UpdateStatusAsync(fresh, cancellationToken).ConfigureAwait(false);
            _logger.LogDebug("Found a hash collision for DaemonSet \"{Name}\" - bumping collisionCount to {Count} to resolve it", ds.Metadata?.Name, fresh.Status.CollisionCount);
            throw new RevisionCollisionException(outer.Message, outer);
        }
    }
}

using System.Text.Json.Nodes;
using Kcm.Api.Apps.V1;
using Kcm.Client;
using Kcm.Client.Errors;

namespace Kcm.Controllers.Deployments;

/// <summary>A Deployment may not adopt: it is being deleted, or it is not the object it was (upstream's RecheckDeletionTimestamp).</summary>
public sealed class CannotAdoptException(string message, Exception? inner = null) : InvalidOperationException(message, inner);

/// <summary>
/// Upstream's ReplicaSetControllerRefManager for a Deployment: claims the ReplicaSets it owns and its selector
/// matches, adopts matching orphans (a strategic-merge patch adding the controller reference, guarded by the
/// ReplicaSet's uid) and releases owned ReplicaSets that no longer match. Before the first adoption it re-reads the
/// Deployment from the server so a deleted or recreated Deployment never adopts.
/// </summary>
public sealed class ReplicaSetControllerRefManager(
    KubeApiClient client,
    Kcm.Api.Apps.V1.Deployment controller,
    Func<IReadOnlyDictionary<string, string>?, bool> selectorMatches,
    Func<CancellationToken, Task<Kcm.Api.Apps.V1.Deployment>> freshController)
{
    private Exception? _canAdoptError;
    private bool _canAdoptChecked;

    public async Task<List<ReplicaSet>> ClaimReplicaSetsAsync(IEnumerable<ReplicaSet> sets, CancellationToken cancellationToken)
    {
        var claimed = new List<ReplicaSet>();
        var errors = new List<Exception>();
        foreach (var rs in sets)
        {
            try
            {
                if (await ClaimAsync(rs, cancellationToken).ConfigureAwait(false))
                {
                    claimed.Add(rs);
                }
            }
            catch (Exception e) when (e is KubeApiException or CannotAdoptException)
            {
                errors.Add(e);
            }
        }
        return errors.Count switch
        {
            0 => claimed,
            1 => throw errors[0],
            _ => throw new AggregateException(errors),
        };
    }

    private async Task<bool> ClaimAsync(ReplicaSet rs, CancellationToken cancellationToken)
    {
        var controllerRef = rs.Metadata?.OwnerReferences?.FirstOrDefault(r => r.Controller == true);
        var matches = selectorMatches(rs.Metadata?.Labels);
        if (controllerRef is not null)
        {
            if (controllerRef.Uid != controller.Metadata?.Uid)
            {
                return false; // Someone else's.
            }
            if (matches)
            {
                return true;
            }
            if (controller.Metadata?.DeletionTimestamp is not null)
            {
                return false; // Being deleted: the garbage collector takes the ReplicaSet anyway.
            }
            await ReleaseAsync(rs, cancellationToken).ConfigureAwait(false);
            return false;
        }
        if (controller.Metadata?.DeletionTimestamp is not null || !matches || rs.Metadata?.DeletionTimestamp is not null)
        {
            return false;
        }
        if (!string.IsNullOrEmpty(controller.Metadata?.Namespace) && controller.Metadata.Namespace != rs.Metadata?.Namespace)
        {
            return false;
        }
        try
        {
            await AdoptAsync(rs, cancellationToken).ConfigureAwait(false);
            return true;
        }
        catch (NotFoundException)
        {
            return false; // Gone meanwhile: nothing to own.
        }
    }

    private async Task AdoptAsync(ReplicaSet rs, CancellationToken cancellationToken)
    {
        await EnsureCanAdoptAsync(rs, cancellationToken).ConfigureAwait(false);
        var ownerRef = new JsonObject
        {
            ["apiVersion"] = "apps/v1",
            ["kind"] = "Deployment",
            ["name"] = controller.Metadata?.Name,
            ["uid"] = controller.Metadata?.Uid,
            ["controller"] = true,
            ["blockOwnerDeletion"] = true,
        };
        var patch = new JsonObject { ["metadata"] = new JsonObject { ["ownerReferences"] = new JsonArray(ownerRef), ["uid"] = rs.Metadata?.Uid } };
        await client.PatchAsync<ReplicaSet>(rs.Metadata?.Namespace, rs.Metadata!.Name!, PatchType.StrategicMerge, patch.ToJsonString(), cancellationToken: cancellationToken).ConfigureAwait(false);
    }

    private async Task ReleaseAsync(ReplicaSet rs, CancellationToken cancellationToken)
    {
        var deleteRef = new JsonObject { ["$patch"] = "delete", ["uid"] = controller.Metadata?.Uid };
        var patch = new JsonObject { ["metadata"] = new JsonObject { ["ownerReferences"] = new JsonArray(deleteRef), ["uid"] = rs.Metadata?.Uid } };
        try
        {
            await client.PatchAsync<ReplicaSet>(rs.Metadata?.Namespace, rs.Metadata!.Name!, PatchType.StrategicMerge, patch.ToJsonString(), cancellationToken: cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is NotFoundException or InvalidException)
        {
            // Gone, or recreated under a new uid: either way it is no longer ours to release.
        }
    }

    private async Task EnsureCanAdoptAsync(ReplicaSet rs, CancellationToken cancellationToken)
    {
        if (!_canAdoptChecked)
        {
            _canAdoptChecked = true;
            try
            {
                var fresh = await freshController(cancellationToken).ConfigureAwait(false);
                if (fresh.Metadata?.DeletionTimestamp is { } deletedAt)
                {
                    _canAdoptError = new CannotAdoptException($"{fresh.Metadata.Namespace}/{fresh.Metadata.Name} has just been deleted at {deletedAt:O}");
                }
            }
            catch (Exception e) when (e is KubeApiException or CannotAdoptException)
            {
                _canAdoptError = new CannotAdoptException($"can't recheck DeletionTimestamp: {e.Message}", e);
            }
        }
        if (_canAdoptError is not null)
        {
            throw new CannotAdoptException($"can't adopt ReplicaSet {rs.Metadata?.Namespace}/{rs.Metadata?.Name} ({rs.Metadata?.Uid}): {_canAdoptError.Message}", _canAdoptError);
        }
    }
}

using Kcm.Api.Apps.V1;
using Kcm.Api.Core.V1;
using Kcm.Client.Errors;
using Kcm.Controllers.Common;
using Kcm.Runtime.Events;
using Kcm.Runtime.Informers;
using Microsoft.Extensions.Logging;

namespace Kcm.Controllers.StatefulSets;

/// <summary>Several failures of one step (upstream's aggregate error), reported in one message.</summary>
public sealed class StatefulSetSyncException(string message, IReadOnlyList<Exception> errors)
    : AggregateException(message, errors);

/// <summary>
/// Upstream's StatefulPodControl: creates a member's claims before the member, keeps a member's identity and
/// storage in line with the set, applies the claim retention policy (behind the gate), and records one event per
/// pod or claim written, worded as upstream words them.
/// </summary>
public sealed class StatefulPodControl(
    IStatefulSetApi api,
    IObjectCache<Pod> pods,
    IObjectCache<PersistentVolumeClaim> claims,
    IEventRecorder recorder,
    StatefulSetFeatures features,
    TimeProvider time,
    ILogger logger)
{
    // client-go's retry.DefaultBackoff: 4 attempts 10 ms apart, growing 5x.
    private static readonly TimeSpan[] ConflictBackoff = [TimeSpan.FromMilliseconds(10), TimeSpan.FromMilliseconds(50), TimeSpan.FromMilliseconds(250)];

    /// <summary>CreateStatefulPod: claims first, then the pod; an AlreadyExists pod is an error but no event.</summary>
    public async Task CreateStatefulPodAsync(StatefulSet set, Pod pod, CancellationToken cancellationToken)
    {
        try
        {
            await CreateClaimsAsync(set, pod, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            RecordPodEvent("create", set, pod, ex);
            throw;
        }
        Exception? error = null;
        try
        {
            await api.CreatePodAsync(pod, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException and not AlreadyExistsException)
        {
            error = ex;
        }
        if (features.AutoDeletePvc)
        {
            // Set what can be set now; the pod's own reference waits for its uid (a later sync).
            try
            {
                await UpdatePodClaimForRetentionPolicyAsync(set, pod, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                RecordPodEvent("update", set, pod, ex);
                throw;
            }
        }
        RecordPodEvent("create", set, pod, error);
        if (error is not null)
        {
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(error);
        }
    }

    /// <summary>UpdateStatefulPod: restores identity and storage (creating missing claims) and the retention references, retried on conflicts.</summary>
    public async Task UpdateStatefulPodAsync(StatefulSet set, Pod pod, CancellationToken cancellationToken)
    {
        var attemptedUpdate = false;
        Exception? error = null;
        for (var attempt = 0; ; attempt++)
        {
            var consistent = true;
            if (!StatefulSetUtil.IdentityMatches(set, pod))
            {
                StatefulSetUtil.UpdateIdentity(set, pod);
                consistent = false;
            }
            try
            {
                if (!StatefulSetUtil.StorageMatches(set, pod))
                {
                    StatefulSetUtil.UpdateStorage(set, pod);
                    consistent = false;
                    await CreateClaimsAsync(set, pod, cancellationToken).ConfigureAwait(false);
                }
                if (features.AutoDeletePvc && !ClaimsMatchRetentionPolicy(set, pod))
                {
                    await UpdatePodClaimForRetentionPolicyAsync(set, pod, cancellationToken).ConfigureAwait(false);
                    consistent = false;
                }
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                RecordPodEvent("update", set, pod, ex);
                error = ex;
                break;
            }
            if (consistent)
            {
                error = null;
                break;
            }
            attemptedUpdate = true;
            try
            {
                await api.UpdatePodAsync(pod, cancellationToken).ConfigureAwait(false);
                error = null;
                break;
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                error = ex;
                if (ex is not ConflictException || attempt >= ConflictBackoff.Length)
                {
                    break;
                }
                if (pods.Get(new ObjectKey(set.Metadata?.Namespace, pod.Metadata?.Name ?? "")) is { } updated)
                {
                    pod = KubeObjects.Clone(updated);
                }
                await Task.Delay(ConflictBackoff[attempt], time, cancellationToken).ConfigureAwait(false);
            }
        }
        if (attemptedUpdate)
        {
            RecordPodEvent("update", set, pod, error);
        }
        if (error is not null)
        {
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(error);
        }
    }

    public async Task DeleteStatefulPodAsync(StatefulSet set, Pod pod, CancellationToken cancellationToken)
    {
        try
        {
            await api.DeletePodAsync(pod.Metadata?.Namespace, pod.Metadata?.Name ?? "", cancellationToken).ConfigureAwait(false);
        }
        catch (KubeApiException ex)
        {
            RecordPodEvent("delete", set, pod, ex);
            throw;
        }
        RecordPodEvent("delete", set, pod, null);
    }

    /// <summary>ClaimsMatchRetentionPolicy: every existing claim of the member carries the references the policy wants (missing claims are a later sync's job).</summary>
    public bool ClaimsMatchRetentionPolicy(StatefulSet set, Pod pod)
    {
        var ordinal = StatefulSetUtil.Ordinal(pod);
        foreach (var template in set.Spec?.VolumeClaimTemplates ?? [])
        {
            var name = StatefulSetUtil.ClaimName(set, template, ordinal);
            if (claims.Get(new ObjectKey(set.Metadata?.Namespace, name)) is { } claim && !ClaimRetention.OwnerMatches(claim, set, pod, features))
            {
                return false;
            }
        }
        return true;
    }

    /// <summary>UpdatePodClaimForRetentionPolicy: writes the owner references the policy wants on each existing claim of the member.</summary>
    public async Task UpdatePodClaimForRetentionPolicyAsync(StatefulSet set, Pod pod, CancellationToken cancellationToken)
    {
        var ordinal = StatefulSetUtil.Ordinal(pod);
        foreach (var template in set.Spec?.VolumeClaimTemplates ?? [])
        {
            var name = StatefulSetUtil.ClaimName(set, template, ordinal);
            if (claims.Get(new ObjectKey(set.Metadata?.Namespace, name)) is not { } cached)
            {
                if (logger.IsEnabled(LogLevel.Trace))
                {
                    logger.LogTrace("{Message}", $"Expected claim {name} missing, continuing to pick up in next iteration");
                }
                continue;
            }
            if (ClaimRetention.OwnerMatches(cached, set, pod, features))
            {
                continue;
            }
            var claim = KubeObjects.Clone(cached);
            if (ClaimRetention.UpdateOwnerRefs(claim, set, pod, features))
            {
                try
                {
                    await api.UpdateClaimAsync(claim, cancellationToken).ConfigureAwait(false);
                }
                catch (KubeApiException ex)
                {
                    throw new StatefulSetSyncException($"Could not update claim {name} for delete policy ownerRefs: {ex.Message}", [ex]);
                }
            }
        }
    }

    /// <summary>PodClaimIsStale: with whenScaled Delete, a claim still owned by an earlier pod of that name blocks the new one.</summary>
    public bool PodClaimIsStale(StatefulSet set, Pod pod)
    {
        if (ClaimRetention.Policy(set).WhenScaled == StatefulSetNames.Retain)
        {
            return false;
        }
        foreach (var (_, claim) in StatefulSetUtil.Claims(set, pod))
        {
            if (claims.Get(new ObjectKey(claim.Metadata?.Namespace, claim.Metadata?.Name ?? "")) is { } existing && ClaimRetention.HasStaleOwnerRef(existing, pod))
            {
                return true;
            }
        }
        return false;
    }

    /// <summary>createPersistentVolumeClaims: each missing claim is created; one being deleted is an error until it is gone.</summary>
    private async Task CreateClaimsAsync(StatefulSet set, Pod pod, CancellationToken cancellationToken)
    {
        var errors = new List<Exception>();
        foreach (var (_, claim) in StatefulSetUtil.Claims(set, pod))
        {
            var name = claim.Metadata!.Name!;
            if (claims.Get(new ObjectKey(claim.Metadata.Namespace, name)) is { } existing)
            {
                if (existing.Metadata?.DeletionTimestamp is not null)
                {
                    errors.Add(new StatefulSetSyncException($"pvc {name} is being deleted", []));
                }
                continue;
            }
            try
            {
                await api.CreateClaimAsync(claim, cancellationToken).ConfigureAwait(false);
                RecordClaimEvent("create", set, pod, name, null);
            }
            catch (KubeApiException ex)
            {
                errors.Add(new StatefulSetSyncException($"failed to create PVC {name}: {ex.Message}", [ex]));
                if (ex is not AlreadyExistsException)
                {
                    RecordClaimEvent("create", set, pod, name, ex);
                }
            }
        }
        if (errors.Count == 1)
        {
            throw errors[0];
        }
        if (errors.Count > 1)
        {
            // Go's aggregate: "[a, b]".
            throw new StatefulSetSyncException($"[{string.Join(", ", errors.Select(e => e.Message))}]", errors);
        }
    }

    private void RecordPodEvent(string verb, StatefulSet set, Pod pod, Exception? error)
    {
        var target = ControllerRefs.ReferenceTo(set.Metadata!, StatefulSet.Resource);
        if (error is null)
        {
            recorder.Event(target, EventTypes.Normal, "Successful" + Title(verb), $"{verb} Pod {pod.Metadata?.Name} in StatefulSet {set.Metadata?.Name} successful");
        }
        else
        {
            recorder.Event(target, EventTypes.Warning, "Failed" + Title(verb), $"{verb} Pod {pod.Metadata?.Name} in StatefulSet {set.Metadata?.Name} failed error: {error.Message}");
        }
    }

    private void RecordClaimEvent(string verb, StatefulSet set, Pod pod, string claimName, Exception? error)
    {
        var target = ControllerRefs.ReferenceTo(set.Metadata!, StatefulSet.Resource);
        if (error is null)
        {
            recorder.Event(target, EventTypes.Normal, "Successful" + Title(verb), $"{verb} Claim {claimName} Pod {pod.Metadata?.Name} in StatefulSet {set.Metadata?.Name} success");
        }
        else
        {
            recorder.Event(target, EventTypes.Warning, "Failed" + Title(verb), $"{verb} Claim {claimName} for Pod {pod.Metadata?.Name} in StatefulSet {set.Metadata?.Name} failed error: {error.Message}");
        }
    }

    private static string Title(string verb) => char.ToUpperInvariant(verb[0]) + verb[1..];
}

using System.Text.Json.Nodes;
using Kcm.Api;
using Kcm.Api.Core.V1;
using Kcm.Api.Meta.V1;
using Kcm.Client.Errors;
using Microsoft.Extensions.Logging;
using LabelSelector = Kcm.Api.Selectors.LabelSelector;

namespace Kcm.Controllers.Common;

/// <summary>
/// Upstream's (Pod/ReplicaSet)ControllerRefManager: decides which objects a controller owns. An object it controls
/// that still matches is kept; one it controls that no longer matches is released (unless the controller is being
/// deleted); a matching orphan in its namespace that is not being deleted is adopted, after one fresh read proved
/// the controller itself is not being deleted. Adopt and release are strategic merge patches that carry the
/// object's uid, so a deleted-and-recreated object of the same name is never touched.
/// </summary>
public sealed class ControllerRefManager
{
    private readonly ObjectMeta _controller;
    private readonly ResourceInfo _controllerKind;
    private readonly LabelSelector _selector;
    private readonly Func<CancellationToken, Task> _canAdopt;
    private readonly ILogger _logger;
    private readonly object _canAdoptLock = new();
    private Task? _canAdoptCheck;

    /// <param name="canAdopt">Throws when adoption must not happen; called at most once, before the first adoption.</param>
    public ControllerRefManager(ObjectMeta controller, ResourceInfo controllerKind, LabelSelector selector, Func<CancellationToken, Task> canAdopt, ILogger logger)
    {
        _controller = controller;
        _controllerKind = controllerKind;
        _selector = selector;
        _canAdopt = canAdopt;
        _logger = logger;
    }

    /// <summary>The pods this controller owns after adopting and releasing as needed (upstream's ClaimPods).</summary>
    public Task<List<Pod>> ClaimPodsAsync(IReadOnlyList<Pod> pods, IPodControl podControl, CancellationToken cancellationToken, Func<Pod, bool>? filter = null)
        => ClaimAsync(pods, filter, (pod, patch, ct) => podControl.PatchPodAsync(pod.Metadata!.Namespace!, pod.Metadata.Name!, patch, ct), cancellationToken);

    /// <summary>
    /// Claims objects of any kind: <paramref name="patch"/> applies a strategic merge patch to one of them.
    /// Every object is considered; failures are thrown together afterwards (the caller retries the sync).
    /// </summary>
    public async Task<List<T>> ClaimAsync<T>(IReadOnlyList<T> objects, Func<T, bool>? filter, Func<T, string, CancellationToken, Task> patch, CancellationToken cancellationToken)
        where T : IKubernetesObject
    {
        var claimed = new List<T>();
        var errors = new List<Exception>();
        foreach (var obj in objects)
        {
            try
            {
                if (await ClaimObjectAsync(obj, filter, patch, cancellationToken).ConfigureAwait(false))
                {
                    claimed.Add(obj);
                }
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                errors.Add(ex);
            }
        }
        if (errors.Count == 1)
        {
            throw errors[0];
        }
        if (errors.Count > 1)
        {
            throw new AggregateException(errors);
        }
        return claimed;
    }

    /// <summary>The strategic merge patch that makes <paramref name="owner"/> the object's controller (upstream's ownerRefControllerPatch).</summary>
    public static string AdoptPatch(ObjectMeta owner, ResourceInfo ownerKind, string objectUid)
    {
        var reference = ControllerRefs.NewControllerRef(owner, ownerKind);
        return new JsonObject
        {
            ["metadata"] = new JsonObject
            {
                ["ownerReferences"] = new JsonArray(new JsonObject
                {
                    ["apiVersion"] = reference.ApiVersion,
                    ["kind"] = reference.Kind,
                    ["name"] = reference.Name,
                    ["uid"] = reference.Uid,
                    ["controller"] = true,
                    ["blockOwnerDeletion"] = true,
                }),
                ["uid"] = objectUid,
            },
        }.ToJsonString();
    }

    /// <summary>The strategic merge patch that removes the owner references to <paramref name="ownerUid"/> (GenerateDeleteOwnerRefStrategicMergeBytes).</summary>
    public static string ReleasePatch(string ownerUid, string objectUid) => new JsonObject
    {
        ["metadata"] = new JsonObject
        {
            ["ownerReferences"] = new JsonArray(new JsonObject { ["$patch"] = "delete", ["uid"] = ownerUid }),
            ["uid"] = objectUid,
        },
    }.ToJsonString();

    /// <summary>Upstream's RecheckDeletionTimestamp: a canAdopt check from a fresh (uncached) read of the controller.</summary>
    public static Func<CancellationToken, Task> RecheckDeletionTimestamp(Func<CancellationToken, Task<ObjectMeta>> getFresh)
        => async cancellationToken =>
        {
            ObjectMeta fresh;
            try
            {
                fresh = await getFresh(cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                throw new AdoptionRefusedException($"can't recheck DeletionTimestamp: {ex.Message}", ex);
            }
            if (fresh.DeletionTimestamp is { } deleted)
            {
                throw new AdoptionRefusedException($"{fresh.Namespace}/{fresh.Name} has just been deleted at {deleted:O}");
            }
        };

    private async Task<bool> ClaimObjectAsync<T>(T obj, Func<T, bool>? filter, Func<T, string, CancellationToken, Task> patch, CancellationToken cancellationToken)
        where T : IKubernetesObject
    {
        var metadata = obj.Metadata!;
        bool Matches() => _selector.Matches(metadata.Labels) && (filter is null || filter(obj));

        if (ControllerRefs.ControllerOf(metadata) is { } controllerRef)
        {
            if (controllerRef.Uid != _controller.Uid)
            {
                return false; // Someone else's.
            }
            if (Matches())
            {
                return true; // Ours and still selected; fine even while we are being deleted, it takes no action.
            }
            if (_controller.DeletionTimestamp is not null)
            {
                return false;
            }
            await ReleaseAsync(obj, patch, cancellationToken).ConfigureAwait(false);
            return false;
        }

        // An orphan.
        if (_controller.DeletionTimestamp is not null || !Matches() || metadata.DeletionTimestamp is not null)
        {
            return false;
        }
        if (!string.IsNullOrEmpty(_controller.Namespace) && _controller.Namespace != metadata.Namespace)
        {
            return false;
        }
        try
        {
            await AdoptAsync(obj, patch, cancellationToken).ConfigureAwait(false);
        }
        catch (NotFoundException)
        {
            return false;
        }
        return true;
    }

    private async Task AdoptAsync<T>(T obj, Func<T, string, CancellationToken, Task> patch, CancellationToken cancellationToken)
        where T : IKubernetesObject
    {
        var metadata = obj.Metadata!;
        try
        {
            await CanAdoptAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (AdoptionRefusedException ex)
        {
            throw new AdoptionRefusedException($"can't adopt {KindName<T>()} {metadata.Namespace}/{metadata.Name} ({metadata.Uid}): {ex.Message}", ex);
        }
        await patch(obj, AdoptPatch(_controller, _controllerKind, metadata.Uid ?? ""), cancellationToken).ConfigureAwait(false);
    }

    private async Task ReleaseAsync<T>(T obj, Func<T, string, CancellationToken, Task> patch, CancellationToken cancellationToken)
        where T : IKubernetesObject
    {
        var metadata = obj.Metadata!;
        // Upstream's V(2) line: "patching pod ns_name to remove its controllerRef to apps/v1/ReplicaSet:name".
        _logger.LogDebug("{Message}", $"patching {(typeof(T) == typeof(Pod) ? "pod" : KindName<T>())} {metadata.Namespace}_{metadata.Name} to remove its controllerRef to {_controllerKind.ApiVersion}/{_controllerKind.Kind}:{_controller.Name}");
        try
        {
            await patch(obj, ReleasePatch(_controller.Uid ?? "", metadata.Uid ?? ""), cancellationToken).ConfigureAwait(false);
        }
        catch (NotFoundException)
        {
            // Already gone.
        }
        catch (InvalidException)
        {
            // The object has no owner references any more, or its uid changed (deleted and recreated): nothing to release.
        }
    }

    private async Task CanAdoptAsync(CancellationToken cancellationToken)
    {
        Task check;
        lock (_canAdoptLock)
        {
            check = _canAdoptCheck ??= _canAdopt(cancellationToken);
        }
        await check.ConfigureAwait(false);
    }

    private static string KindName<T>() => typeof(T).Name;
}

/// <summary>Adoption was refused: the controller is being deleted, or could not be re-read.</summary>
public sealed class AdoptionRefusedException(string message, Exception? inner = null) : InvalidOperationException(message, inner);

using System.Text.Json.Nodes;
using Kcm.Api.Meta.V1;
using Kcm.Client;
using Kcm.Client.Errors;
using Microsoft.Extensions.Logging;
using Kcm.Controllers.Common;

namespace Kcm.Controllers.GarbageCollector;

// Operations against the API (upstream operations.go): reads and writes of any kind through the dynamic client.
public sealed partial class GarbageCollector
{
    /// <summary>The live object's metadata (as upstream reads it through the metadata client), or null when it does not exist.</summary>
    private async Task<JsonObject?> GetObjectAsync(ObjectIdentity identity, CancellationToken cancellationToken)
    {
        var resource = _mapper.Find(identity.ApiVersion, identity.Kind);
        if (resource.Namespaced && !identity.IsNamespaced)
        {
            return null; // A namespaced kind named without a namespace cannot exist.
        }
        try
        {
            return await _client.Dynamic.Resource(resource.Resource, resource.Namespaced)
                .GetMetadataAsync(resource.Namespaced ? identity.Namespace : null, identity.Name, cancellationToken).ConfigureAwait(false);
        }
        catch (NotFoundException)
        {
            return null;
        }
    }

    /// <summary>
    /// Deletes with uid and resourceVersion preconditions; when only unrelated fields changed since (same owner
    /// references), retries with the uid alone so busy objects are not starved.
    /// </summary>
    private async Task DeleteObjectAsync(ObjectIdentity identity, string? resourceVersion, IReadOnlyList<OwnerRef> ownersAtResourceVersion, string policy, CancellationToken cancellationToken)
    {
        var resource = _mapper.Find(identity.ApiVersion, identity.Kind);
        var client = _client.Dynamic.Resource(resource.Resource, resource.Namespaced);
        var ns = resource.Namespaced ? identity.Namespace : null;
        var options = new DeleteOptions
        {
            Preconditions = new Preconditions { Uid = identity.Uid, ResourceVersion = string.IsNullOrEmpty(resourceVersion) ? null : resourceVersion },
            PropagationPolicy = policy,
        };
        try
        {
            await client.DeleteAsync(ns, identity.Name, options, cancellationToken).ConfigureAwait(false);
        }
        catch (ConflictException) when (!string.IsNullOrEmpty(resourceVersion))
        {
            JsonObject live;
            try
            {
                live = await client.GetAsync(ns, identity.Name, cancellationToken: cancellationToken).ConfigureAwait(false);
            }
            catch (NotFoundException)
            {
                return; // Already gone: what we wanted.
            }
            var liveMeta = ObservedMetadata.Of(live);
            if (liveMeta.Uid != identity.Uid || liveMeta.ResourceVersion == resourceVersion || !liveMeta.Owners.SequenceEqual(ownersAtResourceVersion))
            {
                throw;
            }
            options.Preconditions.ResourceVersion = null;
            await client.DeleteAsync(ns, identity.Name, options, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Removes one finalizer with a resourceVersion-guarded merge patch, retrying conflicts a few times.</summary>
    private async Task RemoveFinalizerAsync(GraphNode owner, string finalizer, CancellationToken cancellationToken)
    {
        var resource = _mapper.Find(owner.Identity.ApiVersion, owner.Identity.Kind);
        var client = _client.Dynamic.Resource(resource.Resource, resource.Namespaced);
        var ns = resource.Namespaced ? owner.Identity.Namespace : null;
        for (var attempt = 0; ; attempt++)
        {
            var latest = await GetObjectAsync(owner.Identity, cancellationToken).ConfigureAwait(false);
            if (latest is null)
            {
                return;
            }
            var meta = ObservedMetadata.Of(latest);
            if (!meta.Finalizers.Contains(finalizer))
            {
                _logger.LogTrace("finalizer {Finalizer} already removed from object {Object}", finalizer, owner.Identity);
                return;
            }
            var remaining = meta.Finalizers.Where(f => f != finalizer).Select(f => (JsonNode?)JsonValue.Create(f)).ToArray();
            var patch = new JsonObject
            {
                ["metadata"] = new JsonObject
                {
                    ["resourceVersion"] = meta.ResourceVersion,
                    ["finalizers"] = remaining.Length == 0 ? null : new JsonArray(remaining),
                },
            };
            try
            {
                await client.PatchAsync(ns, owner.Identity.Name, PatchType.Merge, patch.ToJsonString(), cancellationToken: cancellationToken).ConfigureAwait(false);
                return;
            }
            catch (NotFoundException)
            {
                return;
            }
            catch (ConflictException) when (attempt < ConflictBackoff.Length)
            {
                await Task.Delay(ConflictBackoff[attempt], _time, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    /// <summary>
    /// Rewrites an object's ownerReferences from its live state with a resourceVersion-guarded merge patch (upstream's
    /// JSON-merge-patch path; unknown fields of the references are kept), retrying conflicts a few times.
    /// </summary>
    private async Task ModifyOwnerReferencesAsync(ObjectIdentity identity, Func<JsonArray, bool> modify, CancellationToken cancellationToken)
    {
        var resource = _mapper.Find(identity.ApiVersion, identity.Kind);
        var client = _client.Dynamic.Resource(resource.Resource, resource.Namespaced);
        var ns = resource.Namespaced ? identity.Namespace : null;
        for (var attempt = 0; ; attempt++)
        {
            var latest = await GetObjectAsync(identity, cancellationToken).ConfigureAwait(false);
            var meta = latest?["metadata"] as JsonObject;
            if (meta is null || Json.String(meta, "uid") != identity.Uid)
            {
                return; // Gone (or replaced): nothing refers to the owner any more.
            }
            var references = meta["ownerReferences"] as JsonArray ?? [];
            if (!modify(references))
            {
                return;
            }
            var patch = new JsonObject
            {
                ["metadata"] = new JsonObject
                {
                    ["resourceVersion"] = Json.String(meta, "resourceVersion"),
                    ["ownerReferences"] = references.Count == 0 ? null : references.DeepClone(),
                },
            };
            try
            {
                await client.PatchAsync(ns, identity.Name, PatchType.Merge, patch.ToJsonString(), cancellationToken: cancellationToken).ConfigureAwait(false);
                return;
            }
            catch (ConflictException) when (attempt < ConflictBackoff.Length)
            {
                await Task.Delay(ConflictBackoff[attempt], _time, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    private static bool RemoveOwnerReferences(JsonArray references, IReadOnlySet<string> uids)
    {
        var removed = false;
        for (var i = references.Count - 1; i >= 0; i--)
        {
            if (Json.String(references[i], "uid") is { } uid && uids.Contains(uid))
            {
                references.RemoveAt(i);
                removed = true;
            }
        }
        return removed;
    }

    private static bool UnblockOwnerReferences(JsonArray references)
    {
        var changed = false;
        foreach (var reference in references.OfType<JsonObject>())
        {
            if (Json.Bool(reference, "blockOwnerDeletion") == true)
            {
                reference["blockOwnerDeletion"] = false;
                changed = true;
            }
        }
        return changed;
    }
}

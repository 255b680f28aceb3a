using System.Collections.Concurrent;
using System.Text.Json.Nodes;
using Kcm.Api;
using Kcm.Api.Core.V1;
using Kcm.Api.Quota;
using Kcm.ApiServer.Errors;
using Kcm.ApiServer.Registry;
using Kcm.ApiServer.Storage;

namespace Kcm.ApiServer.Admission;

/// <summary>
/// Upstream's ResourceQuota admission plugin (the last validating one): a create (or, for services and claims, an
/// update) in a namespace with quotas is charged against every quota that covers it. It is refused with 403 when a
/// quota's usage is not known yet, when a pod lacks the requests/limits a quota constrains, or when the charge would
/// exceed a limit; otherwise the quotas' status.used is raised before the object is stored (the resourcequota
/// controller gives usage back when objects go). Subresources, cluster-scoped objects and ignored resources pass.
/// Requests in one namespace are checked one at a time, as upstream's per-namespace work queue does.
/// </summary>
public sealed class ResourceQuotaAdmission(ObjectStore store, TimeProvider time) : IValidatingAdmission
{
    private const int Retries = 3;

    private readonly QuotaRegistry _registry = new(time);
    private readonly ConcurrentDictionary<string, object> _namespaceLocks = new(StringComparer.Ordinal);

    public void Validate(AdmissionRequest request)
    {
        if (request.Subresource.Length > 0 || request.Namespace.Length == 0 || request.Object is null) return;
        QuotaOperation? operation = request.Operation switch
        {
            AdmissionOperation.Create => QuotaOperation.Create,
            AdmissionOperation.Update => QuotaOperation.Update,
            _ => null,
        };
        var resource = new GroupResource(request.Strategy.Group, request.Strategy.Resource);
        if (operation is not { } op || QuotaRegistry.IgnoredResources.Contains(resource)) return;
        var evaluator = _registry.GetOrAddObjectCount(resource);
        if (!evaluator.Handles(op) || store.Find("", "resourcequotas") is not { } quotaStore) return;
        // Most namespaces have no quota: those need no lock.
        var prefix = request.Namespace + "/";
        if (!quotaStore.Items.Keys.Any(k => k.StartsWith(prefix, StringComparison.Ordinal))) return;

        lock (_namespaceLocks.GetOrAdd(request.Namespace, _ => new object()))
        {
            HashSet<string>? pending = null;
            for (var attempt = 0; ; attempt++)
            {
                var quotas = QuotasIn(quotaStore, request.Namespace, pending);
                if (quotas.Count == 0) return;
                var charged = Check(quotas.Select(q => q.Quota).ToList(), request, evaluator);
                if (request.DryRun) return;
                var failed = new HashSet<string>(StringComparer.Ordinal);
                for (var i = 0; i < quotas.Count; i++)
                {
                    if (ResourceLists.Equal(charged[i], quotas[i].Quota.Status?.Used)) continue;
                    if (!TryWriteUsage(quotaStore, quotas[i].Stored, charged[i])) failed.Add(quotas[i].Stored.Name);
                }
                if (failed.Count == 0) return;
                if (attempt >= Retries)
                {
                    throw ApiException.Conflict("", "resourcequotas", failed.First(), "the object has been modified; please apply your changes to the latest version and try again");
                }
                // Only the quotas whose write lost a race are charged again, at their new usage.
                pending = failed;
            }
        }
    }

    private static List<(StoredObject Stored, ResourceQuota Quota)> QuotasIn(ResourceStore quotaStore, string @namespace, HashSet<string>? only)
    {
        var prefix = @namespace + "/";
        return quotaStore.Items
            .Where(e => e.Key.StartsWith(prefix, StringComparison.Ordinal) && (only is null || only.Contains(e.Value.Name)))
            .Select(e => (e.Value, KubeJson.Deserialize<ResourceQuota>(e.Value.Json)!))
            .ToList();
    }

    /// <summary>
    /// Upstream CheckRequest: the status.used each quota would have with the request charged (unchanged for quotas
    /// that do not cover it); throws the 403 that refuses it.
    /// </summary>
    internal static List<Dictionary<string, Quantity>> Check(IReadOnlyList<ResourceQuota> quotas, AdmissionRequest request, IQuotaEvaluator evaluator)
    {
        var item = request.Object!;
        var covering = new List<int>();
        for (var i = 0; i < quotas.Count; i++)
        {
            var quota = quotas[i];
            bool matches;
            try
            {
                matches = QuotaEvaluation.Matches(evaluator, quota, item);
            }
            catch (QuotaScopeException e)
            {
                throw ApiException.InternalError(e.Message);
            }
            if (!matches) continue;
            var restricted = evaluator.MatchingResources((quota.Status?.Hard ?? []).Keys);
            var name = quota.Metadata?.Name ?? "";
            if (evaluator.Constraints(restricted, item) is { } constraint) throw Forbidden(request, $"failed quota: {name}: {constraint}");
            if (!HasUsage(quota, restricted))
            {
                throw Forbidden(request, $"status unknown for quota: {name}, resources: {string.Join(",", restricted.Order(StringComparer.Ordinal))}");
            }
            covering.Add(i);
        }

        var result = quotas.Select(q => ResourceLists.Copy(q.Status?.Used)).ToList();
        var delta = evaluator.Usage(item);
        if (ResourceLists.Negative(delta) is { Count: > 0 } negative)
        {
            throw Forbidden(request, $"quota usage is negative for resource(s): {string.Join(",", negative.Order(StringComparer.Ordinal))}");
        }
        if (request.Operation == AdmissionOperation.Update && request.OldObject is { } old
            && old["metadata"]?["resourceVersion"]?.GetValue<string>() is { Length: > 0 })
        {
            delta = ResourceLists.SubtractWithNonNegativeResult(delta, evaluator.Usage(old));
        }
        delta = ResourceLists.RemoveZeros(delta);
        if (delta.Count == 0) return result;

        foreach (var i in covering)
        {
            var quota = quotas[i];
            var hard = quota.Status?.Hard ?? [];
            var requested = ResourceLists.Mask(delta, hard.Keys.ToHashSet(StringComparer.Ordinal));
            var used = ResourceLists.Add(quota.Status?.Used, requested);
            var (within, exceeded) = ResourceLists.LessThanOrEqual(ResourceLists.Mask(used, requested.Keys.ToHashSet(StringComparer.Ordinal)), hard);
            if (!within)
            {
                throw Forbidden(request, $"exceeded quota: {quota.Metadata?.Name}, requested: {ResourceLists.Print(ResourceLists.Mask(requested, exceeded))}, "
                    + $"used: {ResourceLists.Print(ResourceLists.Mask(quota.Status?.Used, exceeded))}, limited: {ResourceLists.Print(ResourceLists.Mask(hard, exceeded))}");
            }
            result[i] = used;
        }
        return result;
    }

    /// <summary>Every limit the evaluator covers has a usage (until the controller computed one, nothing it covers is admitted).</summary>
    private static bool HasUsage(ResourceQuota quota, IReadOnlyList<string> restricted)
        => (quota.Status?.Hard ?? []).Keys.Where(restricted.Contains).All(name => quota.Status?.Used?.ContainsKey(name) == true);

    private static ApiException Forbidden(AdmissionRequest request, string reason)
        => NamespaceLifecycle.Forbidden(request.Strategy.Group, request.Strategy.Resource, request.Name, reason);

    /// <summary>Writes status.used into the stored quota if it is still the version read; false on a lost race.</summary>
    private static bool TryWriteUsage(ResourceStore quotaStore, StoredObject current, Dictionary<string, Quantity> used)
    {
        var obj = ObjectEncoder.Parse(current);
        if (obj["status"] is not JsonObject status) obj["status"] = status = new JsonObject();
        status["used"] = KubeJson.ToNode(ResourceLists.Sorted(used));
        var candidate = ObjectEncoder.Encode(obj, obj["kind"]?.GetValue<string>() ?? "ResourceQuota", obj["apiVersion"]?.GetValue<string>() ?? "v1",
            current.Namespace, current.Name, current.Uid, o => FieldLabels.Extract("", "resourcequotas", o));
        return quotaStore.TryUpdate(current, candidate) is not null;
    }
}

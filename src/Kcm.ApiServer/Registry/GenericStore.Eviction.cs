using System.Globalization;
using System.Text.Json.Nodes;
using Kcm.Api;
using Kcm.Api.Catalog;
using Kcm.Api.Selectors;
using Kcm.ApiServer.Authentication;
using Kcm.ApiServer.Endpoints;
using Kcm.ApiServer.Errors;
using Kcm.ApiServer.Storage;

namespace Kcm.ApiServer.Registry;

/// <summary>
/// pods/eviction, as upstream v1.26's EvictionREST: a pod that is not running (or already deleting) is deleted without
/// budget checks; otherwise its one matching PodDisruptionBudget must allow a disruption, which the eviction consumes
/// (disruptionsAllowed-1, the pod in disruptedPods) before the pod gets a DisruptionTarget condition and is deleted.
/// </summary>
public sealed partial class GenericStore
{
    // Upstream EvictionsRetry: 20 steps.
    private const int EvictionAttempts = 20;
    private const int MaxDisruptedPods = 2000;

    /// <summary>
    /// Evicts the pod <paramref name="req"/> names. <paramref name="rawDeleteOptions"/> is the eviction's deleteOptions
    /// (preconditions are read from it), <paramref name="options"/> their parsed form. Throws the refusal as upstream.
    /// </summary>
    public void Evict(ResourceRequest req, DeletionOptions options, JsonObject? rawDeleteOptions, UserInfo user)
    {
        var podReq = req with { Subresource = "" };
        var rvUnset = rawDeleteOptions?["preconditions"]?["resourceVersion"] is null;
        StoredObject? pod = null;
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                pod = Get(podReq);
                var podObj = ObjectEncoder.Parse(pod);
                if (!CanIgnoreBudget(podObj)) break;
                var deleteOptions = rawDeleteOptions;
                if (ShouldEnforceResourceVersion(podObj) && rvUnset) deleteOptions = WithResourceVersionPrecondition(rawDeleteOptions, pod);
                AddDisruptionConditionAndDelete(podReq, options, deleteOptions, user);
                return;
            }
            catch (ApiException e) when (e.Code == 409 && e.Reason == "Conflict" && rvUnset && attempt + 1 < EvictionAttempts)
            {
            }
        }

        var target = pod!;
        var pdbs = MatchingBudgets(target.Namespace, ObjectEncoder.Parse(target));
        if (pdbs.Count > 1)
        {
            throw new ApiException(500, "", "This pod has more than one PodDisruptionBudget, which the eviction subresource does not support.");
        }
        var checkRv = false;
        if (pdbs.Count == 1)
        {
            var pdb = pdbs[0];
            var pdbStatus = ObjectEncoder.Parse(pdb)["status"];
            var healthy = pdbStatus?["currentHealthy"]?.GetValue<long>() ?? 0;
            var desired = pdbStatus?["desiredHealthy"]?.GetValue<long>() ?? 0;
            if (!IsPodReady(ObjectEncoder.Parse(target)) && healthy >= desired && desired > 0)
            {
                // An unready pod of a healthy budget goes without consuming a disruption, if it has not changed meanwhile.
                checkRv = true;
            }
            else
            {
                ConsumeDisruption(req, pdb, target.Name, user);
            }
        }
        var finalOptions = checkRv ? WithResourceVersionPrecondition(rawDeleteOptions, target) : rawDeleteOptions;
        try
        {
            AddDisruptionConditionAndDelete(podReq, options, finalOptions, user);
        }
        catch (ApiException e) when (e.Code == 409 && e.Reason == "Conflict" && checkRv && rvUnset)
        {
            throw BudgetBusy(pdbs[0].Name);
        }
    }

    private static bool CanIgnoreBudget(JsonObject pod)
    {
        var phase = pod["status"]?["phase"]?.GetValue<string>() ?? "";
        return phase is "Succeeded" or "Failed" or "Pending" || pod["metadata"]?["deletionTimestamp"] is not null;
    }

    private static bool ShouldEnforceResourceVersion(JsonObject pod)
    {
        var phase = pod["status"]?["phase"]?.GetValue<string>() ?? "";
        return phase is not ("Succeeded" or "Failed") && pod["metadata"]?["deletionTimestamp"] is null;
    }

    private static bool IsPodReady(JsonObject pod)
        => pod["status"]?["conditions"] is JsonArray conditions
           && conditions.Any(c => c?["type"]?.GetValue<string>() == "Ready" && c["status"]?.GetValue<string>() == "True");

    private static JsonObject WithResourceVersionPrecondition(JsonObject? raw, StoredObject pod)
    {
        var copy = (JsonObject?)raw?.DeepClone() ?? new JsonObject();
        if (copy["preconditions"] is not JsonObject pre)
        {
            pre = new JsonObject();
            copy["preconditions"] = pre;
        }
        pre["resourceVersion"] = pod.ResourceVersion.ToString(CultureInfo.InvariantCulture);
        return copy;
    }

    private List<StoredObject> MatchingBudgets(string ns, JsonObject pod)
    {
        var store = _store.Find("policy", "poddisruptionbudgets");
        if (store is null) return [];
        var labels = pod["metadata"]?["labels"] is JsonObject l
            ? l.ToDictionary(p => p.Key, p => p.Value?.GetValue<string>() ?? "")
            : new Dictionary<string, string>();
        var result = new List<StoredObject>();
        foreach (var (key, pdb) in store.Snapshot().Items)
        {
            if (!key.StartsWith(ns + "/", StringComparison.Ordinal)) continue;
            LabelSelector? selector;
            try
            {
                selector = LabelSelector.FromApi(KubeJson.FromNode<Kcm.Api.Meta.V1.LabelSelector>(ObjectEncoder.Parse(pdb)["spec"]?["selector"]));
            }
            catch (SelectorParseException)
            {
                continue;
            }
            if (selector is null || selector.IsEverything || !selector.Matches(labels)) continue;
            result.Add(pdb);
        }
        return result;
    }

    /// <summary>Upstream checkAndDecrement under RetryOnConflict: the budget's status records the disruption.</summary>
    private void ConsumeDisruption(ResourceRequest evictionReq, StoredObject budget, string podName, UserInfo user)
    {
        var entry = ApiCatalog.Find("policy", "v1", "poddisruptionbudgets")!;
        var statusReq = new ResourceRequest("policy", "v1", budget.Namespace, "poddisruptionbudgets", budget.Name, "status", false, entry,
            ApiCatalog.Find("policy", "v1", "poddisruptionbudgets/status")) { DryRun = evictionReq.DryRun };
        for (var attempt = 0; ; attempt++)
        {
            var pdb = ObjectEncoder.Parse(budget);
            var status = pdb["status"] as JsonObject ?? new JsonObject();
            var observed = status["observedGeneration"]?.GetValue<long>() ?? 0;
            var generation = pdb["metadata"]?["generation"]?.GetValue<long>() ?? 0;
            if (observed < generation) throw BudgetBusy(budget.Name);
            var allowed = status["disruptionsAllowed"]?.GetValue<long>() ?? 0;
            if (allowed < 0) throw BudgetForbidden(budget.Name, "pdb disruptions allowed is negative");
            if (status["disruptedPods"] is JsonObject { Count: > MaxDisruptedPods })
            {
                throw BudgetForbidden(budget.Name, "DisruptedPods map too big - too many evictions not confirmed by PDB controller");
            }
            if (allowed == 0)
            {
                var desired = status["desiredHealthy"]?.GetValue<long>() ?? 0;
                var healthy = status["currentHealthy"]?.GetValue<long>() ?? 0;
                throw new ApiException(429, "TooManyRequests", "Cannot evict pod as it would violate the pod's disruption budget.",
                    causes: [new StatusCauseInfo("DisruptionBudget", $"The disruption budget {budget.Name} needs {desired} healthy pods and has {healthy} currently", null)]);
            }
            // A dry run stops here: upstream writes nothing to the budget.
            if (evictionReq.DryRun) return;
            status["disruptionsAllowed"] = allowed - 1;
            if (allowed - 1 == 0) SetDisruptionAllowedFalse(status, observed);
            if (status["disruptedPods"] is not JsonObject disrupted)
            {
                disrupted = new JsonObject();
                status["disruptedPods"] = disrupted;
            }
            disrupted[podName] = FormatTime(_time.GetUtcNow());
            pdb["status"] = status;
            try
            {
                CommitUpdate(statusReq, StorageFor(statusReq), _strategies[entry], user,
                    current => Desired(statusReq, _strategies[entry], current, (JsonObject)pdb.DeepClone()));
                return;
            }
            catch (ApiException e) when (e.Code == 409 && attempt + 1 < EvictionAttempts)
            {
                budget = Get(statusReq with { Subresource = "" });
            }
        }
    }

    private void SetDisruptionAllowedFalse(JsonObject status, long observedGeneration)
        => SetCondition(status, "DisruptionAllowed", "False", existing => new JsonObject
        {
            ["observedGeneration"] = observedGeneration,
            ["reason"] = "InsufficientPods",
            // SetStatusCondition replaces the message too: the new condition carries none.
            ["message"] = "",
        });

    /// <summary>
    /// Puts the condition of this type into status.conditions (replacing one in place), keeping the old
    /// lastTransitionTime when the status does not change, as upstream's condition helpers do.
    /// </summary>
    private void SetCondition(JsonObject status, string type, string value, Func<JsonObject?, JsonObject> rest)
    {
        if (status["conditions"] is not JsonArray conditions)
        {
            conditions = [];
            status["conditions"] = conditions;
        }
        var existing = conditions.OfType<JsonObject>().FirstOrDefault(c => c["type"]?.GetValue<string>() == type);
        var transition = existing?["status"]?.GetValue<string>() == value && existing["lastTransitionTime"] is { } t
            ? t.DeepClone()
            : JsonValue.Create(FormatTime(_time.GetUtcNow()));
        var condition = new JsonObject { ["type"] = type, ["status"] = value };
        foreach (var (key, node) in rest(existing).ToList())
        {
            if (key == "reason") condition["lastTransitionTime"] = transition; // Go's field order
            condition[key] = node?.DeepClone();
        }
        condition["lastTransitionTime"] ??= transition;
        if (existing is null) conditions.Add((JsonNode)condition);
        else conditions[conditions.IndexOf(existing)] = condition;
    }

    /// <summary>
    /// Upstream addConditionAndDeletePod (PodDisruptionConditions is on in v1.26): the DisruptionTarget condition is
    /// written even for a dry-run eviction, as upstream does, then the pod is deleted with the eviction's options.
    /// </summary>
    private void AddDisruptionConditionAndDelete(ResourceRequest podReq, DeletionOptions options, JsonObject? rawOptions, UserInfo user)
    {
        var fetched = ObjectEncoder.Parse(Get(podReq));
        var statusReq = podReq with { Subresource = "status", DryRun = false };
        var strategy = _strategies[podReq.Entry];
        CommitUpdate(statusReq, StorageFor(podReq), strategy, user, current =>
        {
            var pod = (JsonObject)fetched.DeepClone();
            if (pod["status"] is not JsonObject status)
            {
                status = new JsonObject();
                pod["status"] = status;
            }
            SetCondition(status, "DisruptionTarget", "True", _ => new JsonObject
            {
                ["lastProbeTime"] = null,
                ["reason"] = "EvictionByEvictionAPI",
                ["message"] = "Eviction API: evicting",
            });
            return Desired(statusReq, strategy, current, pod);
        });
        Delete(podReq, options, rawOptions, user);
    }

    private static ApiException BudgetBusy(string name)
        => new(429, "TooManyRequests", "Cannot evict pod as it would violate the pod's disruption budget.",
            causes: [new StatusCauseInfo("DisruptionBudget", $"The disruption budget {name} is still being processed by the server.", null)])
        {
            RetryAfterSeconds = 10,
        };

    private static ApiException BudgetForbidden(string name, string reason)
        => new(403, "Forbidden", $"poddisruptionbudget.policy \"{name}\" is forbidden: {reason}", name, "policy", "poddisruptionbudget");
}

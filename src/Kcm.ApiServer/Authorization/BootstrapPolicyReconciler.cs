using System.Text.Json.Nodes;
using Kcm.Api.Catalog;
using Kcm.ApiServer.Authentication;
using Kcm.ApiServer.Endpoints;
using Kcm.ApiServer.Registry;
using Kcm.ApiServer.Storage;

namespace Kcm.ApiServer.Authorization;

/// <summary>
/// Creates upstream's default RBAC policy (cluster-admin, admin/edit/view, system:* roles and their bindings,
/// the kube-system/kube-public roles) when missing, as the RBAC post-start hook does. Aggregated ClusterRoles
/// (admin/edit/view...) get the union of their selected roles' rules here, since the aggregation controller
/// may not be running yet. Existing objects are left alone: the store starts empty, and a user's edits win.
/// </summary>
public static class BootstrapPolicyReconciler
{
    private const string Group = "rbac.authorization.k8s.io";

    public static int Reconcile(GenericStore registry, ObjectStore store, UserInfo creator)
    {
        var clusterRoles = BootstrapPolicy.ClusterRoles.Select(j => (JsonObject)JsonNode.Parse(j)!).ToList();
        Aggregate(clusterRoles);
        var created = 0;
        created += CreateMissing(registry, store, "clusterroles", clusterRoles, creator);
        created += CreateMissing(registry, store, "clusterrolebindings", Parse(BootstrapPolicy.ClusterRoleBindings), creator);
        created += CreateMissing(registry, store, "roles", Parse(BootstrapPolicy.Roles), creator);
        created += CreateMissing(registry, store, "rolebindings", Parse(BootstrapPolicy.RoleBindings), creator);
        return created;
    }

    private static List<JsonObject> Parse(IReadOnlyList<string> objects) => objects.Select(j => (JsonObject)JsonNode.Parse(j)!).ToList();

    private static int CreateMissing(GenericStore registry, ObjectStore store, string resource, List<JsonObject> objects, UserInfo creator)
    {
        var entry = ApiCatalog.Find(Group, "v1", resource)!;
        var resourceStore = store.Find(Group, resource)!;
        var created = 0;
        foreach (var obj in objects)
        {
            var ns = StoredObjects.Str(obj["metadata"]?["namespace"]);
            var name = StoredObjects.Str(obj["metadata"]?["name"]);
            if (resourceStore.Get(StoredObject.MakeKey(ns, name)) is not null) continue;
            var req = new ResourceRequest(Group, "v1", ns, resource, "", "", false, entry, null);
            registry.Create(req, obj, creator);
            created++;
        }
        return created;
    }

    /// <summary>Fills each aggregated role with the de-duplicated rules of the roles its selectors match, until nothing changes.</summary>
    internal static void Aggregate(List<JsonObject> clusterRoles)
    {
        var aggregated = clusterRoles.Where(r => r["aggregationRule"] is JsonObject).ToList();
        for (var pass = 0; pass < 10; pass++)
        {
            var changed = false;
            foreach (var role in aggregated)
            {
                var rules = new List<PolicyRule>();
                foreach (var source in clusterRoles.OrderBy(r => StoredObjects.Str(r["metadata"]?["name"]), StringComparer.Ordinal))
                {
                    if (ReferenceEquals(source, role) || !Selected(role, source)) continue;
                    foreach (var rule in source["rules"] as JsonArray ?? [])
                    {
                        var candidate = PolicyRule.FromJson(rule);
                        if (!rules.Any(r => r.SameAs(candidate))) rules.Add(candidate);
                    }
                }
                var json = new JsonArray(rules.Select(r => (JsonNode?)r.ToJson()).ToArray());
                if (role["rules"]?.ToJsonString() != json.ToJsonString())
                {
                    role["rules"] = json;
                    changed = true;
                }
            }
            if (!changed) return;
        }
    }

    private static bool Selected(JsonObject aggregatedRole, JsonObject candidate)
    {
        var labels = candidate["metadata"]?["labels"] as JsonObject;
        foreach (var selector in aggregatedRole["aggregationRule"]?["clusterRoleSelectors"] as JsonArray ?? [])
        {
            var matchLabels = selector?["matchLabels"] as JsonObject;
            if (matchLabels is null || matchLabels.Count == 0) continue;
            if (matchLabels.All(kv => labels is not null && StoredObjects.Str(labels[kv.Key]) == StoredObjects.Str(kv.Value))) return true;
        }
        return false;
    }
}

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
/// (admin/edit/view...) are created as the shells they are upstream: the clusterrole-aggregation controller fills
/// them. Existing objects are left alone: the store starts empty, and a user's edits win.
/// </summary>
public static class BootstrapPolicyReconciler
{
    private const string Group = "rbac.authorization.k8s.io";

    public static int Reconcile(GenericStore registry, ObjectStore store, UserInfo creator)
    {
        var created = 0;
        created += CreateMissing(registry, store, "clusterroles", Parse(BootstrapPolicy.ClusterRoles), creator);
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
}

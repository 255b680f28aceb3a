using System.Text.Json.Nodes;
using Kcm.Api.Catalog;

namespace Kcm.ApiServer.Registry;

public enum NameRule
{
    Dns1123Subdomain,
    Dns1123Label,
    Dns1035Label,
    PathSegment,
}

/// <summary>
/// Per-resource behaviour of upstream's REST strategies that the generic handlers need: which name rule
/// applies, whether metadata.generation is tracked, which subresources exist, and per-kind create hooks.
/// </summary>
public sealed partial class ResourceStrategy
{
    private static readonly HashSet<(string, string)> GenerationTracked =
    [
        ("apps", "deployments"), ("apps", "replicasets"), ("apps", "statefulsets"), ("apps", "daemonsets"),
        ("", "replicationcontrollers"), ("batch", "jobs"), ("batch", "cronjobs"), ("policy", "poddisruptionbudgets"),
        ("networking.k8s.io", "networkpolicies"), ("apiextensions.k8s.io", "customresourcedefinitions"),
        ("admissionregistration.k8s.io", "validatingwebhookconfigurations"),
        ("admissionregistration.k8s.io", "mutatingwebhookconfigurations"),
        ("flowcontrol.apiserver.k8s.io", "flowschemas"), ("flowcontrol.apiserver.k8s.io", "prioritylevelconfigurations"),
        ("discovery.k8s.io", "endpointslices"),
    ];

    // Status updates of these apps kinds also keep the stored labels (upstream's status strategies reset them).
    private static readonly HashSet<(string, string)> StatusKeepsLabels =
    [
        ("apps", "deployments"), ("apps", "replicasets"), ("apps", "statefulsets"), ("apps", "daemonsets"),
    ];

    private static readonly HashSet<(string, string)> ReturnDeleted =
    [
        ("", "pods"), ("", "services"), ("", "serviceaccounts"), ("", "namespaces"), ("", "persistentvolumes"),
        ("", "persistentvolumeclaims"), ("", "podtemplates"), ("", "resourcequotas"), ("resource.k8s.io", "podschedulings"),
    ];

    private static readonly HashSet<(string, string)> Dns1123LabelNames =
    [
        ("", "namespaces"),
    ];

    private static readonly HashSet<(string, string)> Dns1035LabelNames =
    [
        ("", "services"),
    ];

    // Strategies whose AllowCreateOnUpdate is true upstream: a PUT to a missing object creates it.
    private static readonly HashSet<(string, string)> CreateOnUpdate =
    [
        ("coordination.k8s.io", "leases"), ("", "endpoints"), ("", "events"), ("events.k8s.io", "events"), ("", "limitranges"),
        ("", "services"), ("node.k8s.io", "runtimeclasses"), ("rbac.authorization.k8s.io", "clusterroles"),
        ("rbac.authorization.k8s.io", "clusterrolebindings"), ("rbac.authorization.k8s.io", "roles"),
        ("rbac.authorization.k8s.io", "rolebindings"),
    ];

    // Kinds whose name is only checked as a path segment upstream (RBAC, some cluster-scoped configs).
    private static readonly HashSet<string> PathSegmentNameGroups = ["rbac.authorization.k8s.io"];

    private ResourceStrategy(ApiResourceEntry entry)
    {
        Entry = entry;
        var key = (entry.Group, entry.Name);
        TracksGeneration = GenerationTracked.Contains(key);
        HasStatus = ApiCatalog.Find(entry.Group, entry.Version, entry.Name + "/status") is not null;
        HasScale = ApiCatalog.Find(entry.Group, entry.Version, entry.Name + "/scale") is not null;
        StatusUpdateKeepsLabels = StatusKeepsLabels.Contains(key);
        AllowCreateOnUpdate = CreateOnUpdate.Contains(key);
        NameRule = Dns1123LabelNames.Contains(key) ? NameRule.Dns1123Label
            : Dns1035LabelNames.Contains(key) ? NameRule.Dns1035Label
            : PathSegmentNameGroups.Contains(entry.Group) ? NameRule.PathSegment
            : NameRule.Dns1123Subdomain;
        // These answer DELETE with the object (upstream ReturnDeletedObject); others with a Success Status.
        ReturnsDeletedObject = ReturnDeleted.Contains(key);
    }

    public ApiResourceEntry Entry { get; }
    public bool TracksGeneration { get; }
    public bool HasStatus { get; }
    public bool HasScale { get; }
    public bool StatusUpdateKeepsLabels { get; }
    public bool AllowCreateOnUpdate { get; }
    public NameRule NameRule { get; }
    public bool ReturnsDeletedObject { get; }

    public string Group => Entry.Group;
    public string Resource => Entry.Name;

    public static ResourceStrategy For(ApiResourceEntry entry) => new(entry);

    /// <summary>Kind-specific fields set on create (upstream PrepareForCreate), after system metadata is filled.</summary>
    public void PrepareForCreate(JsonObject obj)
    {
        if (Custom is not null)
        {
            // Custom resources with a status subresource drop client-sent status; without one it is theirs to write.
            if (HasStatus) obj.Remove("status");
        }
        else if (Group.Length == 0 && Resource == "namespaces")
        {
            PrepareNamespace(obj, creating: true);
        }
        else if (Group.Length == 0 && Resource == "pods")
        {
            // Upstream resets a new pod's status to Pending (qosClass is left to the defaulting work).
            obj["status"] = new JsonObject { ["phase"] = "Pending" };
        }
        else if (HasStatus && Resource is not "nodes" and not "persistentvolumes" and not "persistentvolumeclaims")
        {
            // Most strategies reset client-sent status on create (an empty struct on the wire).
            obj["status"] = new JsonObject();
        }
    }

    public void PrepareForUpdate(JsonObject obj)
    {
        if (Group.Length == 0 && Resource == "namespaces") PrepareNamespace(obj, creating: false);
    }

    private static void PrepareNamespace(JsonObject ns, bool creating)
    {
        var metadata = (JsonObject)ns["metadata"]!;
        var name = metadata["name"]!.GetValue<string>();
        if (metadata["labels"] is not JsonObject labels)
        {
            labels = new JsonObject();
            metadata["labels"] = labels;
        }
        labels["kubernetes.io/metadata.name"] = name;
        if (!creating) return;
        if (ns["spec"] is not JsonObject spec)
        {
            spec = new JsonObject();
            ns["spec"] = spec;
        }
        if (spec["finalizers"] is not JsonArray finalizers)
        {
            finalizers = new JsonArray();
            spec["finalizers"] = finalizers;
        }
        if (!finalizers.Any(f => f?.GetValue<string>() == "kubernetes")) finalizers.Add((JsonNode)"kubernetes");
        ns["status"] = new JsonObject { ["phase"] = "Active" };
    }
}

using Kcm.Api.Core.V1;

namespace Kcm.Api.Quota;

/// <summary>Upstream's service evaluator: services, count/services, services.loadbalancers and services.nodeports; charged on create and update.</summary>
public sealed class ServiceEvaluator : IQuotaEvaluator
{
    private static readonly string[] Names = ["count/services", "services", "services.nodeports", "services.loadbalancers"];

    public GroupResource GroupResource { get; } = new("", "services");

    public bool Handles(QuotaOperation operation) => true;

    public IReadOnlyList<string> MatchingResources(IEnumerable<string> input) => ResourceLists.Intersection(input, Names);

    public string? Constraints(IReadOnlyCollection<string> required, object item) => null;

    public bool MatchesScope(ScopedResourceSelectorRequirement selector, object item) => false;

    public Dictionary<string, Quantity> Usage(object item)
    {
        var service = QuotaEvaluation.As<Service>(item);
        var ports = service.Spec?.Ports ?? [];
        var result = new Dictionary<string, Quantity>(StringComparer.Ordinal)
        {
            ["count/services"] = Quantity.FromInt64(1),
            ["services"] = Quantity.FromInt64(1),
            ["services.loadbalancers"] = Quantity.Zero,
            ["services.nodeports"] = Quantity.Zero,
        };
        switch (service.Spec?.Type)
        {
            case "NodePort":
                result["services.nodeports"] = Quantity.FromInt64(ports.Count);
                break;
            case "LoadBalancer":
                // Without allocated node ports only the ports that have one anyway count.
                result["services.nodeports"] = Quantity.FromInt64(service.Spec.AllocateLoadBalancerNodePorts == false ? ports.Count(p => p.NodePort is not null and not 0) : ports.Count);
                result["services.loadbalancers"] = Quantity.FromInt64(1);
                break;
        }
        return result;
    }

    /// <summary>Upstream GetQuotaServiceType: NodePort, LoadBalancer, or "" for every other type.</summary>
    public static string QuotaServiceType(Service service) => service.Spec?.Type is "NodePort" or "LoadBalancer" ? service.Spec.Type : "";
}

/// <summary>
/// Upstream's PersistentVolumeClaim evaluator: persistentvolumeclaims, count/persistentvolumeclaims and
/// requests.storage, each also per storage class as &lt;class&gt;.storageclass.storage.k8s.io/&lt;name&gt;; charged on
/// create and update (a resize).
/// </summary>
public sealed class PersistentVolumeClaimEvaluator : IQuotaEvaluator
{
    public const string StorageClassSuffix = ".storageclass.storage.k8s.io/";
    private const string BetaStorageClassAnnotation = "volume.beta.kubernetes.io/storage-class";
    private static readonly string[] Names = ["persistentvolumeclaims", "requests.storage"];

    public GroupResource GroupResource { get; } = new("", "persistentvolumeclaims");

    public bool Handles(QuotaOperation operation) => true;

    public IReadOnlyList<string> MatchingResources(IEnumerable<string> input)
    {
        var result = new List<string>();
        foreach (var name in input)
        {
            if (name == "count/persistentvolumeclaims" || Names.Contains(name) || Names.Any(n => name.EndsWith(StorageClassSuffix + n, StringComparison.Ordinal)))
            {
                result.Add(name);
            }
        }
        return result;
    }

    public string? Constraints(IReadOnlyCollection<string> required, object item) => null;

    public bool MatchesScope(ScopedResourceSelectorRequirement selector, object item) => false;

    public Dictionary<string, Quantity> Usage(object item)
    {
        var claim = QuotaEvaluation.As<PersistentVolumeClaim>(item);
        var result = new Dictionary<string, Quantity>(StringComparer.Ordinal)
        {
            ["persistentvolumeclaims"] = Quantity.FromInt64(1),
            ["count/persistentvolumeclaims"] = Quantity.FromInt64(1),
        };
        var storageClass = StorageClassOf(claim);
        if (storageClass.Length > 0) result[storageClass + StorageClassSuffix + "persistentvolumeclaims"] = Quantity.FromInt64(1);
        // RecoverVolumeExpansionFailure (which would also weigh status.allocatedResources) is off in v1.26.
        if (claim.Spec?.Resources?.Requests?.TryGetValue("storage", out var requested) == true)
        {
            var rounded = requested.RoundUp(0, out var exact);
            var storage = exact ? requested : rounded;
            result["requests.storage"] = storage;
            if (storageClass.Length > 0) result[storageClass + StorageClassSuffix + "requests.storage"] = storage;
        }
        return result;
    }

    /// <summary>The beta annotation when present (even empty), else spec.storageClassName.</summary>
    public static string StorageClassOf(PersistentVolumeClaim claim)
        => claim.Metadata?.Annotations?.TryGetValue(BetaStorageClassAnnotation, out var annotated) == true ? annotated : claim.Spec?.StorageClassName ?? "";
}

using System.Text.Json.Nodes;
using Kcm.Api.Core.V1;

namespace Kcm.Runtime.Informers;

/// <summary>The values an object is indexed under (e.g. its namespace); none means it is not in that index.</summary>
public delegate IEnumerable<string> IndexFunc<in T>(T obj);

/// <summary>Index names and functions the controllers share.</summary>
public static class KnownIndexers
{
    public const string Namespace = "namespace";

    /// <summary>Objects by metadata.ownerReferences[*].uid: "which objects does this owner own?".</summary>
    public const string OwnerUid = "ownerUid";

    /// <summary>Pods by spec.nodeName (unscheduled pods are not indexed).</summary>
    public const string PodNodeName = "spec.nodeName";

    public static IndexFunc<T> ByNamespace<T>(IObjectMetadataAccessor<T> metadata)
        => obj => metadata.KeyOf(obj).Namespace is { } ns ? [ns] : [];

    public static IndexFunc<T> ByOwnerUid<T>(IObjectMetadataAccessor<T> metadata)
        => obj => metadata.OwnerUidsOf(obj).Distinct();

    public static IEnumerable<string> NodeNameOf(Pod pod)
        => pod.Spec?.NodeName is { Length: > 0 } node ? [node] : [];

    public static IEnumerable<string> NodeNameOf(JsonObject pod)
        => JsonObjectMetadataAccessor.StringAt(pod["spec"], "nodeName") is { Length: > 0 } node ? [node] : [];
}

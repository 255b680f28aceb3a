using System.Text.Json.Nodes;
using Kcm.Api.Core.V1;

namespace Kcm.Runtime.Informers;

/// <summary>The values an object is indexed under (e.g. its namespace); none means it is not in that index.</summary>
public delegate IEnumerable<string> IndexFunc<in T>(T obj);

/// <summary>Index names and functions the controllers share.</summary>
public static class KnownIndexers
{
    public const string Namespace = "namespace";

    /// <summary>
    /// Objects by the uid of their controller reference, objects without one under <see cref="OrphanKey"/> of their
    /// namespace (upstream's podControllerUID index): a controller finds what it owns plus the orphans it may adopt
    /// without scanning the namespace.
    /// </summary>
    public const string ControllerUid = "controllerUid";

    /// <summary>Pods by spec.nodeName (unscheduled pods are not indexed).</summary>
    public const string PodNodeName = "spec.nodeName";

    public static IndexFunc<T> ByNamespace<T>(IObjectMetadataAccessor<T> metadata)
        => obj => metadata.KeyOf(obj).Namespace is { } ns ? [ns] : [];

    public static IndexFunc<T> ByControllerUid<T>(IObjectMetadataAccessor<T> metadata)
        => obj => [metadata.ControllerUidOf(obj) ?? OrphanKey(metadata.KeyOf(obj).Namespace)];

    /// <summary>The <see cref="ControllerUid"/> index value of objects without a controller in the namespace ('/' never occurs in a uid).</summary>
    public static string OrphanKey(string? @namespace) => "orphans/" + @namespace;

    public static IEnumerable<string> NodeNameOf(Pod pod)
        => pod.Spec?.NodeName is { Length: > 0 } node ? [node] : [];

    public static IEnumerable<string> NodeNameOf(JsonObject pod)
        => JsonObjectMetadataAccessor.StringAt(pod["spec"], "nodeName") is { Length: > 0 } node ? [node] : [];
}

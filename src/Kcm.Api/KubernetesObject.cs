using Kcm.Api.Meta.V1;

namespace Kcm.Api;

/// <summary>Where a kind is served: its group/version, kind, plural resource name and scope.</summary>
public sealed record ResourceInfo(string Group, string Version, string Kind, string Plural, bool Namespaced)
{
    public string ApiVersion => Group.Length == 0 ? Version : $"{Group}/{Version}";
}

/// <summary>Any object with apiVersion, kind and object metadata.</summary>
public interface IKubernetesObject
{
    string? ApiVersion { get; set; }
    string? Kind { get; set; }
    ObjectMeta? Metadata { get; set; }
}

/// <summary>A kind served at its own REST path (pods, deployments, ...).</summary>
public interface IResource : IKubernetesObject
{
    static abstract ResourceInfo Resource { get; }
}

/// <summary>A resource that can be listed and watched (everything except create-only kinds such as TokenReview).</summary>
public interface IListableResource : IResource
{
    /// <summary>The generated list type (e.g. PodList) that a list of this kind decodes into.</summary>
    static abstract Type ListType { get; }
}

public interface IKubernetesList
{
    string? ApiVersion { get; set; }
    string? Kind { get; set; }
    ListMeta? Metadata { get; set; }
}

public interface IKubernetesList<TItem> : IKubernetesList
{
    List<TItem>? Items { get; set; }
}

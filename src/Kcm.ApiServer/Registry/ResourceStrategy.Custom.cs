using Kcm.Api.Catalog;
using Kcm.ApiServer.CustomResources;

namespace Kcm.ApiServer.Registry;

/// <summary>The strategy of a resource served from a CustomResourceDefinition (upstream's customResourceStrategy).</summary>
public sealed partial class ResourceStrategy
{
    private ResourceStrategy(ApiResourceEntry entry, CustomResourceVersion version)
    {
        Entry = entry;
        Custom = version;
        // Every custom resource tracks metadata.generation; what bumps it depends on the status subresource.
        TracksGeneration = true;
        HasStatus = version.HasStatus;
        HasScale = version.Scale is not null;
        NameRule = NameRule.Dns1123Subdomain;
    }

    /// <summary>The CRD version this strategy serves; null for built-in kinds.</summary>
    public CustomResourceVersion? Custom { get; }

    public static ResourceStrategy ForCustom(ApiResourceEntry entry, CustomResourceVersion version) => new(entry, version);
}

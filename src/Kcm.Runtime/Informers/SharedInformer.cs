using System.Text.Json.Nodes;
using Kcm.Api;
using Kcm.Api.Core.V1;
using Kcm.Client;
using Microsoft.Extensions.Logging;

namespace Kcm.Runtime.Informers;

/// <summary>
/// A typed informer seen without its type, for monitors that read only each object's metadata: upstream's garbage
/// collector and quota monitors take the typed shared informer when the typed factory serves the resource, so a
/// resource is watched once, not once per monitor.
/// </summary>
public interface IObjectInformer : ISharedInformer
{
    ResourceInfo Resource { get; }

    IEventHandlerRegistration AddEventHandler(IResourceEventHandler<IKubernetesObject> handler, TimeSpan? resyncPeriod = null);

    void RemoveEventHandler(IEventHandlerRegistration registration);

    /// <summary>The cached objects of one namespace (all of them for an empty namespace).</summary>
    IReadOnlyList<IKubernetesObject> ListNamespace(string @namespace);
}

/// <summary>An informer over a generated kind; pods are also indexed by spec.nodeName.</summary>
public sealed class SharedInformer<T> : SharedIndexInformer<T>, IObjectInformer
    where T : class, IListableResource
{
    public SharedInformer(KubeApiClient client, ListWatchScope? scope = null, SharedInformerOptions? options = null, ILoggerFactory? loggerFactory = null)
        : this(new TypedListWatcher<T>(client, scope), options, loggerFactory)
    {
    }

    public SharedInformer(IListWatcher<T> listWatcher, SharedInformerOptions? options = null, ILoggerFactory? loggerFactory = null)
        : base(ResourceName(T.Resource), listWatcher, TypedMetadataAccessor<T>.Instance, options, loggerFactory)
    {
        if (typeof(T) == typeof(Pod))
        {
            AddIndexer(KnownIndexers.PodNodeName, obj => KnownIndexers.NodeNameOf((Pod)(object)obj));
        }
    }

    public ResourceInfo Resource => T.Resource;

    IEventHandlerRegistration IObjectInformer.AddEventHandler(IResourceEventHandler<IKubernetesObject> handler, TimeSpan? resyncPeriod)
        => AddEventHandler(handler, resyncPeriod);

    IReadOnlyList<IKubernetesObject> IObjectInformer.ListNamespace(string @namespace)
        => @namespace.Length == 0 ? Cache.List() : Cache.ByIndex(KnownIndexers.Namespace, @namespace);

    internal static string ResourceName(ResourceInfo resource)
        => resource.Group.Length == 0 ? resource.Plural : $"{resource.Plural}.{resource.Version}.{resource.Group}";
}

/// <summary>An informer over any resource as JSON objects (for the garbage collector and namespace controllers).</summary>
public sealed class DynamicSharedInformer : SharedIndexInformer<JsonObject>
{
    public DynamicSharedInformer(KubeApiClient client, GroupVersionResource resource, bool namespaced, ListWatchScope? scope = null, SharedInformerOptions? options = null, ILoggerFactory? loggerFactory = null)
        : this(resource, new DynamicListWatcher(client.Dynamic.Resource(resource, namespaced), scope), options, loggerFactory)
    {
    }

    public DynamicSharedInformer(GroupVersionResource resource, IListWatcher<JsonObject> listWatcher, SharedInformerOptions? options = null, ILoggerFactory? loggerFactory = null)
        : base(resource.Group.Length == 0 ? resource.Resource : resource.ToString(), listWatcher, JsonObjectMetadataAccessor.Instance, options, loggerFactory)
    {
        Resource = resource;
        if (resource is { Group: "", Resource: "pods" })
        {
            AddIndexer(KnownIndexers.PodNodeName, KnownIndexers.NodeNameOf);
        }
    }

    public GroupVersionResource Resource { get; }
}

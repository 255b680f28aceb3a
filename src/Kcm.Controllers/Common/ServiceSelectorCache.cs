using Kcm.Api.Core.V1;
using Kcm.Runtime.Informers;
using LabelSelector = Kcm.Api.Selectors.LabelSelector;

namespace Kcm.Controllers.Common;

/// <summary>
/// Which Services select a pod (upstream's endpointutil.ServiceSelectorCache, shared by the endpoint and
/// endpointslice controllers): parsed selectors are kept per Service key so a pod event does not re-parse every
/// Service's selector of its namespace.
/// </summary>
public sealed class ServiceSelectorCache
{
    private readonly Dictionary<ObjectKey, LabelSelector> _selectors = [];
    private readonly Lock _lock = new();

    public LabelSelector Update(ObjectKey key, IReadOnlyDictionary<string, string>? selector)
    {
        var parsed = LabelSelector.FromSet(selector);
        lock (_lock)
        {
            _selectors[key] = parsed;
        }
        return parsed;
    }

    public void Delete(ObjectKey key)
    {
        lock (_lock)
        {
            _selectors.Remove(key);
        }
    }

    /// <summary>Services of the pod's namespace with a selector that matches the pod's labels.</summary>
    public HashSet<ObjectKey> PodServiceMemberships(IObjectCache<Service> services, Pod pod)
    {
        var result = new HashSet<ObjectKey>();
        foreach (var service in services.ByIndex(KnownIndexers.Namespace, pod.Metadata?.Namespace ?? ""))
        {
            if (!HasSelector(service))
            {
                continue;
            }
            var key = ObjectKey.Of(service);
            LabelSelector? selector;
            lock (_lock)
            {
                _selectors.TryGetValue(key, out selector);
            }
            selector ??= Update(key, service.Spec!.Selector);
            if (selector.Matches(pod.Metadata?.Labels))
            {
                result.Add(key);
            }
        }
        return result;
    }

    /// <summary>
    /// The Services to sync after a pod update (upstream's GetServicesToUpdateOnPodChange): none when nothing that
    /// feeds endpoints changed; with a label change, the Services it joined or left (all of both when the endpoint
    /// itself changed too).
    /// </summary>
    public HashSet<ObjectKey> ServicesToUpdateOnPodChange(IObjectCache<Service> services, Pod oldPod, Pod newPod)
    {
        if (oldPod.Metadata?.ResourceVersion == newPod.Metadata?.ResourceVersion)
        {
            return [];
        }
        var (podChanged, labelsChanged) = PodEndpoints.PodEndpointsChanged(oldPod, newPod);
        if (!podChanged && !labelsChanged)
        {
            return [];
        }
        var current = PodServiceMemberships(services, newPod);
        if (!labelsChanged)
        {
            return current;
        }
        var old = PodServiceMemberships(services, oldPod);
        if (podChanged)
        {
            current.UnionWith(old);
            return current;
        }
        current.SymmetricExceptWith(old);
        return current;
    }

    /// <summary>Go's `spec.selector != nil`: over the wire an empty selector arrives as none.</summary>
    public static bool HasSelector(Service service) => service.Spec?.Selector is { Count: > 0 };
}

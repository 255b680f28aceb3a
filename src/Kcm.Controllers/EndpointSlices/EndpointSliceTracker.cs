using Kcm.Api.Discovery.V1;
using Kcm.Runtime.Informers;

namespace Kcm.Controllers.EndpointSlices;

/// <summary>
/// Upstream's EndpointSliceTracker: the generation of every slice this controller last wrote (or -1 for a delete it
/// expects), per Service. It lets the event handlers ignore the echoes of the controller's own writes, and tells a
/// sync when the informer cache has not caught up with them yet (<see cref="StaleSlices"/>), so it never acts on
/// an old view.
/// </summary>
public sealed class EndpointSliceTracker
{
    private const long DeletionExpected = -1;

    private readonly Dictionary<ObjectKey, Dictionary<string, long>> _generationsByService = [];
    private readonly Lock _lock = new();

    public bool Has(EndpointSlice slice)
    {
        lock (_lock)
        {
            return _generationsByService.TryGetValue(ServiceOf(slice), out var generations) && generations.ContainsKey(Uid(slice));
        }
    }

    /// <summary>True unless the slice is one this controller wrote, at a generation it has already seen.</summary>
    public bool ShouldSync(EndpointSlice slice)
    {
        lock (_lock)
        {
            if (!_generationsByService.TryGetValue(ServiceOf(slice), out var generations))
            {
                return true;
            }
            return !generations.TryGetValue(Uid(slice), out var generation) || Generation(slice) > generation;
        }
    }

    /// <summary>True when the listed slices are older than what this controller wrote: a slice it deleted or updated past, or one it wrote that is missing.</summary>
    public bool StaleSlices(ObjectKey service, IReadOnlyList<EndpointSlice> slices)
    {
        lock (_lock)
        {
            if (!_generationsByService.TryGetValue(service, out var generations))
            {
                return false;
            }
            var provided = new HashSet<string>();
            foreach (var slice in slices)
            {
                provided.Add(Uid(slice));
                if (generations.TryGetValue(Uid(slice), out var generation) && (generation == DeletionExpected || generation > Generation(slice)))
                {
                    return true;
                }
            }
            return generations.Any(g => g.Value != DeletionExpected && !provided.Contains(g.Key));
        }
    }

    public void Update(EndpointSlice slice)
    {
        lock (_lock)
        {
            GenerationsFor(slice)[Uid(slice)] = Generation(slice);
        }
    }

    public void ExpectDeletion(EndpointSlice slice)
    {
        lock (_lock)
        {
            GenerationsFor(slice)[Uid(slice)] = DeletionExpected;
        }
    }

    /// <summary>Forgets the slice; true when the deletion was expected (the controller's own).</summary>
    public bool HandleDeletion(EndpointSlice slice)
    {
        lock (_lock)
        {
            if (_generationsByService.TryGetValue(ServiceOf(slice), out var generations))
            {
                var known = generations.Remove(Uid(slice), out var generation);
                if (known && generation != DeletionExpected)
                {
                    return false;
                }
            }
            return true;
        }
    }

    public void DeleteService(ObjectKey service)
    {
        lock (_lock)
        {
            _generationsByService.Remove(service);
        }
    }

    private Dictionary<string, long> GenerationsFor(EndpointSlice slice)
    {
        var service = ServiceOf(slice);
        if (!_generationsByService.TryGetValue(service, out var generations))
        {
            generations = [];
            _generationsByService[service] = generations;
        }
        return generations;
    }

    public static ObjectKey ServiceOf(EndpointSlice slice)
        => new(slice.Metadata?.Namespace, slice.Metadata?.Labels?.GetValueOrDefault(EndpointSliceLabels.ServiceName) ?? "");

    private static string Uid(EndpointSlice slice) => slice.Metadata?.Uid ?? "";

    private static long Generation(EndpointSlice slice) => slice.Metadata?.Generation ?? 0;
}

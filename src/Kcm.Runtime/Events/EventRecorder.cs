using Kcm.Api;
using Kcm.Api.Core.V1;

namespace Kcm.Runtime.Events;

/// <summary>The two event types the API accepts.</summary>
public static class EventTypes
{
    public const string Normal = "Normal";
    public const string Warning = "Warning";
}

/// <summary>
/// Records core/v1 Events about objects, as client-go's EventRecorder: fire and forget, never blocks the
/// caller; a broadcaster correlates, rate-limits and writes them in the background.
/// </summary>
public interface IEventRecorder
{
    /// <summary>An event about <paramref name="reference"/> (kind, apiVersion, namespace, name, uid).</summary>
    void Event(ObjectReference reference, string type, string reason, string message);
}

public static class EventRecorderExtensions
{
    /// <summary>An event about a typed object; kind and apiVersion come from its type when the object lacks them (informer caches drop them).</summary>
    public static void Event<T>(this IEventRecorder recorder, T obj, string type, string reason, string message)
        where T : IResource
        => recorder.Event(ReferenceTo(obj), type, reason, message);

    public static ObjectReference ReferenceTo<T>(T obj)
        where T : IResource
    {
        var metadata = obj.Metadata;
        return new ObjectReference
        {
            ApiVersion = string.IsNullOrEmpty(obj.ApiVersion) ? T.Resource.ApiVersion : obj.ApiVersion,
            Kind = string.IsNullOrEmpty(obj.Kind) ? T.Resource.Kind : obj.Kind,
            Namespace = metadata?.Namespace,
            Name = metadata?.Name,
            Uid = metadata?.Uid,
            ResourceVersion = metadata?.ResourceVersion,
        };
    }
}

/// <summary>Drops every event; for controllers run without an API server in unit tests.</summary>
public sealed class NullEventRecorder : IEventRecorder
{
    public static NullEventRecorder Instance { get; } = new();

    public void Event(ObjectReference reference, string type, string reason, string message)
    {
    }
}

using System.Runtime.CompilerServices;
using Kcm.Api;
using Kcm.Api.Core.V1;
using Kcm.Api.Meta.V1;
using Kcm.Client;
using Kcm.Client.Errors;
using Kcm.Client.Watch;

namespace Kcm.Runtime.LeaderElection;

/// <summary>
/// The "endpoints" and "configmaps" locks: the record as JSON in the control-plane.alpha.kubernetes.io/leader
/// annotation of an otherwise untouched object.
/// </summary>
public abstract class AnnotationLock<T>(KubeApiClient client, string @namespace, string name, string identity) : IResourceLock
    where T : class, IResource, new()
{
    public const string AnnotationKey = "control-plane.alpha.kubernetes.io/leader";

    private T? _object;

    public string Identity { get; } = identity;

    public string Namespace { get; } = @namespace;

    public string Name { get; } = name;

    public string Describe() => $"{Namespace}/{Name}";

    public async Task<ObservedLeaderElectionRecord?> GetAsync(CancellationToken cancellationToken)
    {
        T obj;
        try
        {
            obj = await client.GetAsync<T>(Namespace, Name, cancellationToken).ConfigureAwait(false);
        }
        catch (NotFoundException)
        {
            return null;
        }
        _object = obj;
        // As upstream: a missing annotation is an empty record (anyone may take it), and the raw text is the annotation itself.
        var raw = ReadAnnotation(obj);
        var record = raw is null ? new LeaderElectionRecord() : LeaderElectionRecordJson.Deserialize(raw);
        return new ObservedLeaderElectionRecord(record, raw ?? "");
    }

    public async Task CreateAsync(LeaderElectionRecord record, CancellationToken cancellationToken)
    {
        var obj = new T
        {
            Metadata = new ObjectMeta
            {
                Name = Name,
                Namespace = Namespace,
                Annotations = new() { [AnnotationKey] = LeaderElectionRecordJson.Serialize(record) },
            },
        };
        _object = await client.CreateAsync(obj, Namespace, cancellationToken: cancellationToken).ConfigureAwait(false);
    }

    public async Task UpdateAsync(LeaderElectionRecord record, CancellationToken cancellationToken)
    {
        var obj = _object ?? throw new LockNotInitializedException($"{T.Resource.Kind} {Describe()} not initialized, call get or create first");
        obj.Metadata ??= new ObjectMeta { Name = Name, Namespace = Namespace };
        obj.Metadata.Annotations ??= [];
        obj.Metadata.Annotations[AnnotationKey] = LeaderElectionRecordJson.Serialize(record);
        _object = await client.UpdateAsync(obj, cancellationToken: cancellationToken).ConfigureAwait(false);
    }

    public async IAsyncEnumerable<LeaderElectionRecord?> WatchAsync([EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var options = new ListOptions { FieldSelector = "metadata.name=" + Name };
        await foreach (var watchEvent in client.WatchAsync<T>(Namespace, options, cancellationToken).ConfigureAwait(false))
        {
            switch (watchEvent.Type)
            {
                case WatchEventType.Added or WatchEventType.Modified:
                    var raw = ReadAnnotation(watchEvent.Object);
                    LeaderElectionRecord record;
                    try
                    {
                        record = raw is null ? new LeaderElectionRecord() : LeaderElectionRecordJson.Deserialize(raw);
                    }
                    catch (LeaderElectionRecordFormatException)
                    {
                        // A garbled annotation is reported by GetAsync when the elector next reads; the watch only wakes.
                        continue;
                    }
                    yield return record;
                    break;
                case WatchEventType.Deleted:
                    yield return null;
                    break;
            }
        }
    }

    private static string? ReadAnnotation(T obj)
        => obj.Metadata?.Annotations is { } annotations && annotations.TryGetValue(AnnotationKey, out var value) ? value : null;
}

public sealed class EndpointsLock(KubeApiClient client, string @namespace, string name, string identity)
    : AnnotationLock<Endpoints>(client, @namespace, name, identity);

public sealed class ConfigMapLock(KubeApiClient client, string @namespace, string name, string identity)
    : AnnotationLock<ConfigMap>(client, @namespace, name, identity);

using System.Runtime.CompilerServices;
using Kcm.Api.Coordination.V1;
using Kcm.Api.Meta.V1;
using Kcm.Client;
using Kcm.Client.Errors;
using Kcm.Client.Watch;

namespace Kcm.Runtime.LeaderElection;

/// <summary>The "leases" lock: the record lives in a coordination.k8s.io/v1 Lease's spec.</summary>
public sealed class LeaseLock(KubeApiClient client, string @namespace, string name, string identity) : IResourceLock
{
    private Lease? _lease;

    public string Identity { get; } = identity;

    public string Namespace { get; } = @namespace;

    public string Name { get; } = name;

    public string Describe() => $"{Namespace}/{Name}";

    public async Task<ObservedLeaderElectionRecord?> GetAsync(CancellationToken cancellationToken)
    {
        Lease lease;
        try
        {
            lease = await client.GetAsync<Lease>(Namespace, Name, cancellationToken).ConfigureAwait(false);
        }
        catch (NotFoundException)
        {
            return null;
        }
        _lease = lease;
        var record = ToRecord(lease.Spec);
        return new ObservedLeaderElectionRecord(record, LeaderElectionRecordJson.SerializePrecise(record));
    }

    public async Task CreateAsync(LeaderElectionRecord record, CancellationToken cancellationToken)
    {
        var lease = new Lease
        {
            Metadata = new ObjectMeta { Name = Name, Namespace = Namespace },
            Spec = ApplyTo(record, new LeaseSpec()),
        };
        _lease = await client.CreateAsync(lease, Namespace, cancellationToken: cancellationToken).ConfigureAwait(false);
    }

    public async Task UpdateAsync(LeaderElectionRecord record, CancellationToken cancellationToken)
    {
        var lease = _lease ?? throw new LockNotInitializedException($"lease {Describe()} not initialized, call get or create first");
        // Only the record's fields change: labels, annotations and spec fields this version does not know survive.
        lease.Spec = ApplyTo(record, lease.Spec ?? new LeaseSpec());
        _lease = await client.UpdateAsync(lease, cancellationToken: cancellationToken).ConfigureAwait(false);
    }

    public async IAsyncEnumerable<LeaderElectionRecord?> WatchAsync([EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var options = new ListOptions { FieldSelector = "metadata.name=" + Name };
        await foreach (var watchEvent in client.WatchAsync<Lease>(Namespace, options, cancellationToken).ConfigureAwait(false))
        {
            switch (watchEvent.Type)
            {
                case WatchEventType.Added or WatchEventType.Modified:
                    yield return ToRecord(watchEvent.Object.Spec);
                    break;
                case WatchEventType.Deleted:
                    yield return null;
                    break;
            }
        }
    }

    /// <summary>client-go's LeaseSpecToLeaderElectionRecord: absent fields read as zero values.</summary>
    public static LeaderElectionRecord ToRecord(LeaseSpec? spec) => new()
    {
        HolderIdentity = spec?.HolderIdentity ?? "",
        LeaseDurationSeconds = spec?.LeaseDurationSeconds ?? 0,
        LeaderTransitions = spec?.LeaseTransitions ?? 0,
        AcquireTime = NullIfZero(spec?.AcquireTime),
        RenewTime = NullIfZero(spec?.RenewTime),
    };

    private static LeaseSpec ApplyTo(LeaderElectionRecord record, LeaseSpec spec)
    {
        spec.HolderIdentity = record.HolderIdentity;
        spec.LeaseDurationSeconds = record.LeaseDurationSeconds;
        spec.AcquireTime = record.AcquireTime;
        spec.RenewTime = record.RenewTime;
        spec.LeaseTransitions = record.LeaderTransitions;
        return spec;
    }

    private static DateTimeOffset? NullIfZero(DateTimeOffset? time) => time == default(DateTimeOffset) ? null : time;
}

using System.Runtime.CompilerServices;
using System.Threading.Channels;
using Kcm.Client.Errors;

namespace Kcm.Runtime.LeaderElection;

/// <summary>
/// client-go's MultiLock, behind "endpointsleases" and "configmapsleases": a primary (old-style) lock and a
/// secondary Lease written together, so candidates that know either kind agree during a migration.
/// </summary>
public sealed class MultiLock(IResourceLock primary, IResourceLock secondary) : IResourceLock
{
    /// <summary>The holder reported when the two objects name different holders.</summary>
    public const string UnknownLeader = "leaderelection.k8s.io/unknown";

    public IResourceLock Primary { get; } = primary;

    public IResourceLock Secondary { get; } = secondary;

    public string Identity => Primary.Identity;

    public string Describe() => Primary.Describe();

    public async Task<ObservedLeaderElectionRecord?> GetAsync(CancellationToken cancellationToken)
    {
        var primaryRecord = await Primary.GetAsync(cancellationToken).ConfigureAwait(false);
        if (primaryRecord is null)
        {
            return null;
        }
        var secondaryRecord = await Secondary.GetAsync(cancellationToken).ConfigureAwait(false);
        if (secondaryRecord is null)
        {
            // Only an old-style client holds the lock; the Lease appears with the next write.
            if (primaryRecord.Record.HolderIdentity != Identity)
            {
                return primaryRecord;
            }
            throw new SecondaryLockMissingException(
                $"secondary lock {Secondary.Describe()} is missing while {Identity} holds primary {Primary.Describe()}");
        }
        var record = primaryRecord.Record;
        var primaryRaw = primaryRecord.Raw;
        if (record.HolderIdentity != secondaryRecord.Record.HolderIdentity)
        {
            record = record with { HolderIdentity = UnknownLeader };
            primaryRaw = LeaderElectionRecordJson.Serialize(record);
        }
        return new ObservedLeaderElectionRecord(record, primaryRaw + "," + secondaryRecord.Raw);
    }

    public async Task CreateAsync(LeaderElectionRecord record, CancellationToken cancellationToken)
    {
        try
        {
            await Primary.CreateAsync(record, cancellationToken).ConfigureAwait(false);
        }
        catch (AlreadyExistsException)
        {
            // As upstream: the primary may exist while the Lease does not yet.
        }
        await Secondary.CreateAsync(record, cancellationToken).ConfigureAwait(false);
    }

    public async Task UpdateAsync(LeaderElectionRecord record, CancellationToken cancellationToken)
    {
        await Primary.UpdateAsync(record, cancellationToken).ConfigureAwait(false);
        // Re-read the secondary so its write carries a fresh resourceVersion; the primary's write already won the round.
        if (await Secondary.GetAsync(cancellationToken).ConfigureAwait(false) is null)
        {
            await Secondary.CreateAsync(record, cancellationToken).ConfigureAwait(false);
            return;
        }
        await Secondary.UpdateAsync(record, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Both objects' changes, interleaved; the watch ends when either ends.</summary>
    public async IAsyncEnumerable<LeaderElectionRecord?> WatchAsync([EnumeratorCancellation] CancellationToken cancellationToken)
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var channel = Channel.CreateUnbounded<LeaderElectionRecord?>();
        async Task PumpAsync(IResourceLock source)
        {
            try
            {
                await foreach (var record in source.WatchAsync(stop.Token).ConfigureAwait(false))
                {
                    await channel.Writer.WriteAsync(record, stop.Token).ConfigureAwait(false);
                }
                channel.Writer.TryComplete();
            }
            catch (Exception ex)
            {
                channel.Writer.TryComplete(ex);
            }
        }
        var pumps = Task.WhenAll(PumpAsync(Primary), PumpAsync(Secondary));
        try
        {
            await foreach (var record in channel.Reader.ReadAllAsync(cancellationToken).ConfigureAwait(false))
            {
                yield return record;
            }
        }
        finally
        {
            await stop.CancelAsync().ConfigureAwait(false);
            await pumps.ConfigureAwait(false);
        }
    }
}

/// <summary>The Lease of a multilock vanished while this candidate holds the primary; upstream reports the NotFound.</summary>
public sealed class SecondaryLockMissingException(string message) : InvalidOperationException(message);

namespace Kcm.Runtime.LeaderElection;

/// <summary>
/// client-go's resourcelock.Interface: one object in the API server that candidates compete for.
/// A lock caches the object it last read or wrote, so <see cref="UpdateAsync"/> sends that object's
/// resourceVersion and loses (ConflictException) to any write it has not seen.
/// </summary>
public interface IResourceLock
{
    /// <summary>This candidate's identity, written as holderIdentity when it leads.</summary>
    string Identity { get; }

    /// <summary>"namespace/name", for logs.</summary>
    string Describe();

    /// <summary>The current record, or null when the lock object does not exist.</summary>
    Task<ObservedLeaderElectionRecord?> GetAsync(CancellationToken cancellationToken);

    /// <summary>Creates the lock object; AlreadyExistsException when someone else created it first.</summary>
    Task CreateAsync(LeaderElectionRecord record, CancellationToken cancellationToken);

    /// <summary>Writes the record over the object last read or written; fails when nothing was read yet.</summary>
    Task UpdateAsync(LeaderElectionRecord record, CancellationToken cancellationToken);

    /// <summary>
    /// Records of the lock object as other candidates change it, until cancelled or the server ends the watch;
    /// null when the object is deleted. Standbys use it only to wake early; decisions still go through GetAsync.
    /// </summary>
    IAsyncEnumerable<LeaderElectionRecord?> WatchAsync(CancellationToken cancellationToken);
}

/// <summary>Thrown by <see cref="IResourceLock.UpdateAsync"/> before the lock has read or created its object.</summary>
public sealed class LockNotInitializedException(string message) : InvalidOperationException(message);

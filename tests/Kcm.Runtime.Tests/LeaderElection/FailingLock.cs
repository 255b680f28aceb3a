using Kcm.Runtime.LeaderElection;

namespace Kcm.Runtime.Tests.LeaderElection;

/// <summary>A real lock whose API calls can be made to fail, as when this process loses the API server.</summary>
public sealed class FailingLock(IResourceLock inner) : IResourceLock
{
    private volatile bool _fail;

    public bool Fail
    {
        get => _fail;
        set => _fail = value;
    }

    public string Identity => inner.Identity;

    public string Describe() => inner.Describe();

    public Task<ObservedLeaderElectionRecord?> GetAsync(CancellationToken cancellationToken)
        => Fail ? Task.FromException<ObservedLeaderElectionRecord?>(Refused()) : inner.GetAsync(cancellationToken);

    public Task CreateAsync(LeaderElectionRecord record, CancellationToken cancellationToken)
        => Fail ? Task.FromException(Refused()) : inner.CreateAsync(record, cancellationToken);

    public Task UpdateAsync(LeaderElectionRecord record, CancellationToken cancellationToken)
        => Fail ? Task.FromException(Refused()) : inner.UpdateAsync(record, cancellationToken);

    public IAsyncEnumerable<LeaderElectionRecord?> WatchAsync(CancellationToken cancellationToken) => inner.WatchAsync(cancellationToken);

    private static HttpRequestException Refused() => new("connection refused (test)");
}

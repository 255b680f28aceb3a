namespace Kcm.Runtime.LeaderElection;

/// <summary>
/// client-go's leader metrics hook: <c>leader_election_master_status{name}</c> is 1 between
/// <see cref="LeaderOn"/> and <see cref="LeaderOff"/>, 0 otherwise.
/// </summary>
public interface ILeaderElectionMetrics
{
    void LeaderOn(string name);

    void LeaderOff(string name);

    /// <summary>A renewal needed a fresh read because the optimistic update of the cached object failed.</summary>
    void SlowpathExercised(string name);
}

public sealed class NullLeaderElectionMetrics : ILeaderElectionMetrics
{
    public static NullLeaderElectionMetrics Instance { get; } = new();

    public void LeaderOn(string name)
    {
    }

    public void LeaderOff(string name)
    {
    }

    public void SlowpathExercised(string name)
    {
    }
}

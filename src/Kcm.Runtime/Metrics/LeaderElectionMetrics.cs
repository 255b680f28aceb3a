using Kcm.Runtime.LeaderElection;

namespace Kcm.Runtime.Metrics;

/// <summary>client-go's leader_election_master_status{name} and leader_election_slowpath_total{name}.</summary>
public sealed class LeaderElectionMetrics(MetricsRegistry registry) : ILeaderElectionMetrics
{
    private readonly Gauge _status = registry.Gauge("leader_election_master_status",
        "[ALPHA] 1 while this instance holds the named leader lease, 0 otherwise.", "name");

    private readonly Counter _slowpath = registry.Counter("leader_election_slowpath_total",
        "[ALPHA] Lease renewals that needed a fresh read of the lock object.", "name");

    public void LeaderOn(string name) => _status.Set(1, name);

    public void LeaderOff(string name) => _status.Set(0, name);

    public void SlowpathExercised(string name) => _slowpath.Inc(name);
}

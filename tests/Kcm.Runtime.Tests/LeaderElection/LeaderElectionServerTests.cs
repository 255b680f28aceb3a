using System.Diagnostics;
using System.Text.Json;
using Kcm.Api.Coordination.V1;
using Kcm.Api.Core.V1;
using Kcm.Api.Meta.V1;
using Kcm.Client;
using Kcm.Runtime.LeaderElection;
using Kcm.Testing;

namespace Kcm.Runtime.Tests.LeaderElection;

/// <summary>
/// Electors against the embedded API server in real time with short durations (lease 2s, renew 1.5s, retry 0.3s).
/// Each test uses its own namespace.
/// </summary>
public sealed class LeaderElectionServerTests(EmbeddedServerFixture server) : IClassFixture<EmbeddedServerFixture>, IAsyncLifetime
{
    private const string RecordPattern =
        "^\\{\"holderIdentity\":\"[^\"]*\",\"leaseDurationSeconds\":\\d+,\"acquireTime\":\"\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ\"," +
        "\"renewTime\":\"\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ\",\"leaderTransitions\":\\d+\\}$";

    private readonly KubeApiClient _client = KubeApiClient.FromKubeconfig(server.AdminKubeconfigPath);
    private readonly string _ns = "le-" + Guid.NewGuid().ToString("N")[..10];
    private readonly List<KubeApiClient> _candidateClients = [];

    public async Task InitializeAsync() => await _client.CreateAsync(new Namespace { Metadata = new ObjectMeta { Name = _ns } });

    public async Task DisposeAsync()
    {
        try
        {
            await _client.DeleteAsync<Namespace>(null, _ns);
        }
        finally
        {
            _client.Dispose();
            _candidateClients.ForEach(c => c.Dispose());
        }
    }

    private Candidate NewCandidate(IResourceLock resourceLock, bool releaseOnCancel = true, double lease = 2, double renew = 1.5, double retry = 0.3)
        => new(resourceLock, TimeProvider.System, config => config with
        {
            LeaseDuration = TimeSpan.FromSeconds(lease),
            RenewDeadline = TimeSpan.FromSeconds(renew),
            RetryPeriod = TimeSpan.FromSeconds(retry),
            ReleaseOnCancel = releaseOnCancel,
            Name = "kube-controller-manager",
        });

    private Candidate NewCandidate(string lockType, string name, string host, bool releaseOnCancel = true)
        => NewCandidate(ResourceLocks.Create(lockType, _ns, name, CandidateClient(), LeaderElectionIdentity.Create(host)), releaseOnCancel);

    /// <summary>
    /// Each candidate gets its own client, as each kube-controller-manager has: with one shared client-side rate limiter
    /// (5 QPS by default) the candidates' requests would queue behind each other past the renew deadline.
    /// </summary>
    private KubeApiClient CandidateClient()
    {
        var config = Kcm.Client.Config.KubeconfigLoader.LoadFromFile(server.AdminKubeconfigPath) with { Qps = 100, Burst = 200 };
        var client = new KubeApiClient(config);
        _candidateClients.Add(client);
        return client;
    }

    [Fact(Timeout = 30_000)]
    public async Task Leases_ThreeCandidates_OneLeaderWithUpstreamRecordThenFastHandoverOnRelease()
    {
        var before = DateTimeOffset.UtcNow.AddSeconds(-1);
        await using var a = NewCandidate(ResourceLocks.Leases, "kube-controller-manager", "master-a").Start();
        await using var b = NewCandidate(ResourceLocks.Leases, "kube-controller-manager", "master-b").Start();
        await using var c = NewCandidate(ResourceLocks.Leases, "kube-controller-manager", "master-c").Start();
        var all = new[] { a, b, c };
        await Task.WhenAny(all.Select(x => x.Started.Task)).WaitAsync(TimeSpan.FromSeconds(10));
        await Task.Delay(TimeSpan.FromSeconds(1));

        var leader = Assert.Single(all, x => x.IsStarted);
        var lease = await _client.GetAsync<Lease>(_ns, "kube-controller-manager");
        Assert.Equal(leader.Identity, lease.Spec!.HolderIdentity);
        Assert.Equal(2, lease.Spec.LeaseDurationSeconds);
        Assert.Equal(0, lease.Spec.LeaseTransitions);
        Assert.InRange(lease.Spec.AcquireTime!.Value, before, DateTimeOffset.UtcNow);
        Assert.True(lease.Spec.RenewTime > lease.Spec.AcquireTime, "the leader renewed since it acquired");
        Assert.All(all, x => Assert.Equal(leader.Identity, x.Elector.GetLeader()));

        // Graceful stop with release: a standby sees the empty holder through its watch and takes over well inside a lease.
        var stopwatch = Stopwatch.StartNew();
        await leader.StopAsync();
        var standbys = all.Where(x => x != leader).ToArray();
        await Task.WhenAny(standbys.Select(x => x.Started.Task)).WaitAsync(TimeSpan.FromSeconds(10));
        var handover = stopwatch.Elapsed;
        Assert.True(handover < TimeSpan.FromSeconds(1.5), $"handover took {handover}");
        Assert.True(leader.LeadingCancelled.Task.IsCompleted);
        Assert.True(leader.Stopped.Task.IsCompleted);

        await Task.Delay(TimeSpan.FromSeconds(0.7));
        var next = Assert.Single(standbys, x => x.IsStarted);
        lease = await _client.GetAsync<Lease>(_ns, "kube-controller-manager");
        Assert.Equal(next.Identity, lease.Spec!.HolderIdentity);
        Assert.Equal(1, lease.Spec.LeaseTransitions);
        Assert.Equal(2, lease.Spec.LeaseDurationSeconds);
    }

    [Fact(Timeout = 30_000)]
    public async Task Leases_LongRetryPeriod_StandbyWakesFromWatchOnRelease()
    {
        // Polling alone would take 5-11s here; the watch on the Lease must bring the standby in at once.
        Candidate Slow(string host) => NewCandidate(
            ResourceLocks.Create(ResourceLocks.Leases, _ns, "kcm-slow", CandidateClient(), LeaderElectionIdentity.Create(host)), lease: 15, renew: 10, retry: 5);
        await using var a = Slow("master-a").Start();
        await a.Started.Task.WaitAsync(TimeSpan.FromSeconds(10));
        await using var b = Slow("master-b").Start();
        // b has seen a's record (its first attempt failed, so it now waits on the watch) before a lets go.
        await Eventually.TrueAsync("the standby to observe master-a leading", () => Task.FromResult(b.Elector.GetLeader() == a.Identity), TimeSpan.FromSeconds(10));
        Assert.False(b.IsStarted);

        var stopwatch = Stopwatch.StartNew();
        await a.StopAsync();
        await b.Started.Task.WaitAsync(TimeSpan.FromSeconds(4));
        Assert.True(stopwatch.Elapsed < TimeSpan.FromSeconds(2), $"handover took {stopwatch.Elapsed}");
        var lease = await _client.GetAsync<Lease>(_ns, "kcm-slow");
        Assert.Equal(b.Identity, lease.Spec!.HolderIdentity);
        Assert.Equal(15, lease.Spec.LeaseDurationSeconds);
        Assert.Equal(1, lease.Spec.LeaseTransitions);
    }

    [Fact(Timeout = 30_000)]
    public async Task Leases_LeaderLosesApiServer_CancelsLeadingBeforeStandbyTakesOver()
    {
        var failing = new FailingLock(ResourceLocks.Create(ResourceLocks.Leases, _ns, "kcm", CandidateClient(), "master-a_1"));
        await using var a = NewCandidate(failing, releaseOnCancel: false).Start();
        await a.Started.Task.WaitAsync(TimeSpan.FromSeconds(10));
        await using var b = NewCandidate(ResourceLocks.Leases, "kcm", "master-b").Start();
        await Task.Delay(TimeSpan.FromSeconds(0.8));
        Assert.False(b.IsStarted);

        var failedAt = DateTimeOffset.UtcNow;
        failing.Fail = true;
        await a.LeadingCancelled.Task.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.True(a.LeadingCancelledAt - failedAt < TimeSpan.FromSeconds(2), $"cancelled {a.LeadingCancelledAt - failedAt} after the outage began");
        await a.Stopped.Task.WaitAsync(TimeSpan.FromSeconds(5));

        await b.Started.Task.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.True(b.StartedAt > a.LeadingCancelledAt, "the standby started while the old leader still led");
        var lease = await _client.GetAsync<Lease>(_ns, "kcm");
        Assert.Equal(b.Identity, lease.Spec!.HolderIdentity);
        Assert.Equal(1, lease.Spec.LeaseTransitions);
    }

    [Fact(Timeout = 30_000)]
    public async Task Endpoints_Lock_WritesUpstreamAnnotationAndKeepsOtherFields()
    {
        await _client.CreateAsync(new Endpoints
        {
            Metadata = new ObjectMeta
            {
                Name = "kcm-ep",
                Labels = new() { ["app"] = "kcm" },
                Annotations = new() { ["example.com/note"] = "keep me" },
            },
        }, _ns);
        await using var a = NewCandidate(ResourceLocks.Endpoints, "kcm-ep", "master-a").Start();
        await a.Started.Task.WaitAsync(TimeSpan.FromSeconds(10));
        await Task.Delay(TimeSpan.FromSeconds(0.5));

        var endpoints = await _client.GetAsync<Endpoints>(_ns, "kcm-ep");
        var annotation = endpoints.Metadata!.Annotations![AnnotationLock<Endpoints>.AnnotationKey];
        Assert.Matches(RecordPattern, annotation);
        var record = LeaderElectionRecordJson.Deserialize(annotation);
        Assert.Equal(a.Identity, record.HolderIdentity);
        Assert.Equal(2, record.LeaseDurationSeconds);
        Assert.Equal(1, record.LeaderTransitions);
        Assert.Equal("keep me", endpoints.Metadata.Annotations["example.com/note"]);
        Assert.Equal("kcm", endpoints.Metadata.Labels!["app"]);

        await a.StopAsync();
        endpoints = await _client.GetAsync<Endpoints>(_ns, "kcm-ep");
        var released = LeaderElectionRecordJson.Deserialize(endpoints.Metadata!.Annotations![AnnotationLock<Endpoints>.AnnotationKey]);
        Assert.Equal("", released.HolderIdentity);
        Assert.Equal(1, released.LeaseDurationSeconds);
        Assert.Equal(1, released.LeaderTransitions);
        Assert.Equal("keep me", endpoints.Metadata.Annotations["example.com/note"]);
    }

    [Fact(Timeout = 30_000)]
    public async Task ConfigMaps_Lock_CreatesObjectWithUpstreamAnnotationAndKeepsData()
    {
        await using var a = NewCandidate(ResourceLocks.ConfigMaps, "kcm-cm", "master-a").Start();
        await a.Started.Task.WaitAsync(TimeSpan.FromSeconds(10));

        var configMap = await _client.GetAsync<ConfigMap>(_ns, "kcm-cm");
        var annotation = configMap.Metadata!.Annotations![AnnotationLock<ConfigMap>.AnnotationKey];
        Assert.Matches(RecordPattern, annotation);
        using (var document = JsonDocument.Parse(annotation))
        {
            Assert.Equal(["holderIdentity", "leaseDurationSeconds", "acquireTime", "renewTime", "leaderTransitions"],
                document.RootElement.EnumerateObject().Select(p => p.Name));
        }
        Assert.Equal(0, LeaderElectionRecordJson.Deserialize(annotation).LeaderTransitions);

        // Someone else adds data; renewals must not drop it.
        configMap.Data = new() { ["owner"] = "ops" };
        await UpdateEventuallyAsync(configMap);
        await Task.Delay(TimeSpan.FromSeconds(0.8));
        configMap = await _client.GetAsync<ConfigMap>(_ns, "kcm-cm");
        Assert.Equal("ops", configMap.Data!["owner"]);
        Assert.Equal(a.Identity, LeaderElectionRecordJson.Deserialize(configMap.Metadata!.Annotations![AnnotationLock<ConfigMap>.AnnotationKey]).HolderIdentity);
        Assert.True(a.Elector.IsLeader);
    }

    [Fact(Timeout = 30_000)]
    public async Task EndpointsLeases_MultiLock_KeepsBothObjectsInStep()
    {
        await using var a = NewCandidate(ResourceLocks.EndpointsLeases, "kcm-ml", "master-a").Start();
        await a.Started.Task.WaitAsync(TimeSpan.FromSeconds(10));
        await using var b = NewCandidate(ResourceLocks.EndpointsLeases, "kcm-ml", "master-b").Start();
        await Task.Delay(TimeSpan.FromSeconds(0.8));
        Assert.False(b.IsStarted);

        var (primary, secondary) = await ReadBothAsync("kcm-ml");
        Assert.Equal(a.Identity, primary.HolderIdentity);
        Assert.Equal(a.Identity, secondary.HolderIdentity);
        Assert.Equal(primary.LeaseDurationSeconds, secondary.LeaseDurationSeconds);
        Assert.Equal(0, primary.LeaderTransitions);
        Assert.Equal(0, secondary.LeaderTransitions);

        await a.StopAsync();
        await b.Started.Task.WaitAsync(TimeSpan.FromSeconds(10));
        await Task.Delay(TimeSpan.FromSeconds(0.5));
        (primary, secondary) = await ReadBothAsync("kcm-ml");
        Assert.Equal(b.Identity, primary.HolderIdentity);
        Assert.Equal(b.Identity, secondary.HolderIdentity);
        Assert.Equal(1, primary.LeaderTransitions);
        Assert.Equal(1, secondary.LeaderTransitions);
        Assert.Equal(KubeTimeSeconds(primary.AcquireTime), KubeTimeSeconds(secondary.AcquireTime));
    }

    [Fact(Timeout = 30_000)]
    public async Task EndpointsLeases_OldClientHoldsOnlyEndpoints_NewCandidateRespectsIt()
    {
        // An old-style holder (endpoints only, no Lease) that keeps renewing.
        var old = NewCandidate(ResourceLocks.Endpoints, "kcm-mig", "old-master");
        await using (old.Start())
        {
            await old.Started.Task.WaitAsync(TimeSpan.FromSeconds(10));
            await using var b = NewCandidate(ResourceLocks.EndpointsLeases, "kcm-mig", "master-b").Start();
            await Task.Delay(TimeSpan.FromSeconds(1.5));
            Assert.False(b.IsStarted);
            Assert.Equal(old.Identity, b.Elector.GetLeader());

            await old.StopAsync();
            await b.Started.Task.WaitAsync(TimeSpan.FromSeconds(10));
            var (primary, secondary) = await ReadBothAsync("kcm-mig");
            Assert.Equal(b.Identity, primary.HolderIdentity);
            Assert.Equal(b.Identity, secondary.HolderIdentity);
        }
    }

    [Fact(Timeout = 30_000)]
    public async Task MultiLock_HoldersDisagree_ReportsUnknownLeader()
    {
        var primary = new EndpointsLock(_client, _ns, "kcm-split", "me");
        var secondary = new LeaseLock(_client, _ns, "kcm-split", "me");
        await primary.CreateAsync(new LeaderElectionRecord { HolderIdentity = "x", LeaseDurationSeconds = 15 }, CancellationToken.None);
        await secondary.CreateAsync(new LeaderElectionRecord { HolderIdentity = "y", LeaseDurationSeconds = 15 }, CancellationToken.None);

        var observed = await new MultiLock(primary, secondary).GetAsync(CancellationToken.None);
        Assert.Equal(MultiLock.UnknownLeader, observed!.Record.HolderIdentity);
    }

    private async Task<(LeaderElectionRecord Primary, LeaderElectionRecord Secondary)> ReadBothAsync(string name)
    {
        var endpoints = await _client.GetAsync<Endpoints>(_ns, name);
        var annotation = endpoints.Metadata!.Annotations![AnnotationLock<Endpoints>.AnnotationKey];
        Assert.Matches(RecordPattern, annotation);
        var lease = await _client.GetAsync<Lease>(_ns, name);
        return (LeaderElectionRecordJson.Deserialize(annotation), LeaseLock.ToRecord(lease.Spec));
    }

    private async Task UpdateEventuallyAsync(ConfigMap configMap)
    {
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                await _client.UpdateAsync(configMap);
                return;
            }
            catch (Kcm.Client.Errors.ConflictException) when (attempt < 20)
            {
                var fresh = await _client.GetAsync<ConfigMap>(_ns, configMap.Metadata!.Name!);
                fresh.Data = configMap.Data;
                configMap = fresh;
            }
        }
    }

    private static string KubeTimeSeconds(DateTimeOffset? time) => time is null ? "" : Kcm.Api.KubeTime.Format(time.Value);
}

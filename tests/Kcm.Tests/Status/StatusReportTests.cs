using Kcm.Api.Coordination.V1;
using Kcm.Status;

namespace Kcm.Tests.Status;

/// <summary>What `status` prints from a lease and the instances' pages.</summary>
public sealed class StatusReportTests
{
    private static readonly DateTimeOffset Now = new(2026, 12, 6, 8, 0, 0, TimeSpan.Zero);

    private const string LeaderPage = """
        # HELP leader_election_master_status x
        # TYPE leader_election_master_status gauge
        leader_election_master_status{name="kube-controller-manager"} 1
        process_start_time_seconds 1796543730
        process_resident_memory_bytes 1.048576e+08
        rest_client_requests_total{code="200",host="10.0.0.10:6443",method="GET"} 90
        rest_client_requests_total{code="409",host="10.0.0.10:6443",method="PUT"} 4
        rest_client_requests_total{code="<error>",host="10.0.0.10:6443",method="GET"} 6
        workqueue_depth{name="deployment"} 7
        workqueue_adds_total{name="deployment"} 130
        workqueue_retries_total{name="deployment"} 3
        workqueue_depth{name="replicaset"} 0
        workqueue_adds_total{name="replicaset"} 10
        kcm_controller_last_sync_error_timestamp_seconds{error="default/web: pods \"web-1\" is forbidden: exceeded quota",name="deployment"} 1796543970
        """;

    [Fact]
    public void Render_LeaderAndStandby_ShowsLeaseInstancesAndQueues()
    {
        var lease = new Lease
        {
            Spec = new LeaseSpec
            {
                HolderIdentity = "m1_0b6f", LeaseDurationSeconds = 15, LeaseTransitions = 3,
                AcquireTime = Now.AddMinutes(-5), RenewTime = Now.AddSeconds(-1.5),
            },
        };
        var leader = new Scrape(new Uri("https://10.0.0.1:10257"), Now, "ok", PrometheusText.Parse(LeaderPage), null);
        var before = leader with { At = Now.AddSeconds(-2), Metrics = PrometheusText.Parse(LeaderPage.Replace("adds_total{name=\"deployment\"} 130", "adds_total{name=\"deployment\"} 100", StringComparison.Ordinal)) };
        var standby = new Scrape(new Uri("https://10.0.0.2:10257"), Now, "500: leaderElection failed: reason withheld",
            PrometheusText.Parse("leader_election_master_status{name=\"kube-controller-manager\"} 0\n"), null);
        var down = new Scrape(new Uri("https://10.0.0.3:10257"), Now, "unreachable", null, "Connection refused");
        var data = new StatusData("kube-system", "kube-controller-manager", lease, null, [leader, standby, down],
            new Dictionary<Uri, Scrape> { [leader.Url] = leader }, leader, before);

        var text = StatusReport.Render(data, Now);

        Assert.Contains("  holder:       m1_0b6f\n", text);
        Assert.Contains("  transitions:  3\n", text);
        Assert.Contains("(5m0s ago)", text);
        Assert.Contains("(1.5s ago) (lease 15s)\n", text);
        Assert.Matches(@"https://10\.0\.0\.1:10257 +ok +yes +4m30s +100 MiB +100 +10\n", text);
        Assert.Matches(@"https://10\.0\.0\.2:10257 +500: leaderElection failed: reason withheld +no ", text);
        Assert.Matches(@"https://10\.0\.0\.3:10257 +unreachable +\? ", text);
        Assert.Contains("  https://10.0.0.3:10257: Connection refused\n", text);
        Assert.Contains("Controllers on the leader (https://10.0.0.1:10257)", text);
        Assert.Matches(@"\n +deployment +7 +15\.0 +130 +3 +30s ago: default/web: pods ""web-1"" is forbidden: exceeded quota\n", text);
        Assert.Matches(@"\n +replicaset +0 +0\.0 +10 +0 +-\n", text);
    }

    [Fact]
    public void Render_LeaseExpiredNobodyLeading_SaysSo()
    {
        var lease = new Lease { Spec = new LeaseSpec { HolderIdentity = "m1_0b6f", LeaseDurationSeconds = 15, RenewTime = Now.AddSeconds(-40) } };
        var data = new StatusData("kube-system", "kube-controller-manager", lease, null, [], new Dictionary<Uri, Scrape>(), null, null);

        var text = StatusReport.Render(data, Now);

        Assert.Contains("(40s ago) (lease 15s)  EXPIRED: no leader", text);
        Assert.Contains("none to ask: pass --instances", text);
        Assert.Contains("No instance that answered reports itself leading", text);
    }

    [Fact]
    public void Parse_EscapedLabelsAndSpecialValues_ReadAsWritten()
    {
        var samples = PrometheusText.Parse("# HELP a b\nm{a=\"x\\\"y\\\\z\",b=\"1,2\"} +Inf\nn 3.5e2\nbroken{a=\"x} 1\n");
        Assert.Equal(2, samples.Count);
        Assert.Equal("x\"y\\z", samples[0].Label("a"));
        Assert.Equal("1,2", samples[0].Label("b"));
        Assert.Equal(double.PositiveInfinity, samples[0].Value);
        Assert.Equal(350, samples[1].Value);
    }
}

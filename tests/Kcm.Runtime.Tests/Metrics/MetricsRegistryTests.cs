using Kcm.Runtime.Metrics;

namespace Kcm.Runtime.Tests.Metrics;

public class MetricsRegistryTests
{
    [Fact]
    public void Render_CounterGaugeHistogram_TextFormat()
    {
        var registry = new MetricsRegistry();
        var requests = registry.Counter("rest_client_requests_total", "Requests.", "code", "host", "method");
        requests.Inc("200", "127.0.0.1:6443", "GET");
        requests.Add(2, "409", "127.0.0.1:6443", "PUT");
        registry.Gauge("leader_election_master_status", "Leading.", "name").Set(1, "kube-controller-manager");
        var h = registry.Histogram("workqueue_work_duration_seconds", "Work.", [0.1, 1], "name");
        h.Observe(0.05, "deployment");
        h.Observe(0.5, "deployment");
        h.Observe(5, "deployment");

        var text = registry.Render();

        Assert.Contains("# TYPE rest_client_requests_total counter\n", text);
        Assert.Contains("rest_client_requests_total{code=\"200\",host=\"127.0.0.1:6443\",method=\"GET\"} 1\n", text);
        Assert.Contains("rest_client_requests_total{code=\"409\",host=\"127.0.0.1:6443\",method=\"PUT\"} 2\n", text);
        Assert.Contains("leader_election_master_status{name=\"kube-controller-manager\"} 1\n", text);
        Assert.Contains("workqueue_work_duration_seconds_bucket{name=\"deployment\",le=\"0.1\"} 1\n", text);
        Assert.Contains("workqueue_work_duration_seconds_bucket{name=\"deployment\",le=\"1\"} 2\n", text);
        Assert.Contains("workqueue_work_duration_seconds_bucket{name=\"deployment\",le=\"+Inf\"} 3\n", text);
        Assert.Contains("workqueue_work_duration_seconds_sum{name=\"deployment\"} 5.55\n", text);
        Assert.Contains("workqueue_work_duration_seconds_count{name=\"deployment\"} 3\n", text);
    }

    [Fact]
    public void Render_UnlabelledHistogramNeverObserved_ExportedEmpty()
    {
        var registry = new MetricsRegistry();
        registry.Histogram("ttl_after_finished_controller_job_deletion_duration_seconds", "Deletion.", [0.1, 0.2]);

        var text = registry.Render();

        Assert.Contains("ttl_after_finished_controller_job_deletion_duration_seconds_bucket{le=\"0.1\"} 0\n", text);
        Assert.Contains("ttl_after_finished_controller_job_deletion_duration_seconds_count 0\n", text);
    }

    [Fact]
    public void Render_LabelValues_AreEscaped()
    {
        var registry = new MetricsRegistry();
        registry.Counter("odd_total", "Line one\nline \\two", "v").Inc("a\"b\\c\nd");
        var text = registry.Render();
        Assert.Contains("# HELP odd_total Line one\\nline \\\\two\n", text);
        Assert.Contains("odd_total{v=\"a\\\"b\\\\c\\nd\"} 1\n", text);
    }

    [Fact]
    public void Register_SameNameTwice_SharesTheFamily_DifferentTypeThrows()
    {
        var registry = new MetricsRegistry();
        var a = registry.Counter("x_total", "X.");
        Assert.Same(a, registry.Counter("x_total", "X."));
        Assert.Throws<InvalidOperationException>(() => registry.Gauge("x_total", "X."));
    }

    [Theory]
    [InlineData("9lives")]
    [InlineData("has-dash")]
    [InlineData("")]
    public void Register_InvalidName_Throws(string name)
        => Assert.Throws<ArgumentException>(() => new MetricsRegistry().Counter(name, "bad"));

    [Fact]
    public void Counter_WrongLabelCount_Throws()
    {
        var c = new MetricsRegistry().Counter("c_total", "C.", "a", "b");
        Assert.Throws<ArgumentException>(() => c.Inc("only-one"));
    }

    [Fact(Timeout = 60_000)]
    public async Task Render_EveryFamilyWeExport_PassesPromtool()
    {
        var registry = new MetricsRegistry();
        ProcessMetrics.Register(registry);
        var rest = new RestClientMetrics(registry);
        rest.RequestCompleted("200", "GET", "10.0.0.1:6443");
        rest.RequestLatency("GET", "10.0.0.1:6443", TimeSpan.FromMilliseconds(12));
        rest.RateLimiterLatency("GET", "10.0.0.1:6443", TimeSpan.Zero);

        var problems = await Kcm.Testing.Promtool.CheckAsync(registry.Render());

        Assert.True(problems.Length == 0, problems);
    }

    [Fact]
    public void Render_BucketsAndValues_FormattedAsGo()
    {
        var registry = new MetricsRegistry();
        var h = registry.Histogram("workqueue_queue_duration_seconds", "Wait.", Histogram.ExponentialBuckets(10e-9, 10, 10), "name");
        for (var i = 0; i < 1_234_567; i += 1_000) h.Observe(20, "q");
        registry.Counter("big_total", "Big.").Add(1_234_567);
        registry.Gauge("start_seconds", "Start.").Set(1796540557.6);

        var text = registry.Render();

        Assert.Contains("workqueue_queue_duration_seconds_bucket{name=\"q\",le=\"1e-08\"} 0\n", text);
        Assert.Contains("workqueue_queue_duration_seconds_bucket{name=\"q\",le=\"9.999999999999999e-06\"} 0\n", text);
        Assert.Contains("workqueue_queue_duration_seconds_bucket{name=\"q\",le=\"0.001\"} 0\n", text);
        Assert.Contains("workqueue_queue_duration_seconds_bucket{name=\"q\",le=\"10\"} 0\n", text);
        Assert.Contains("workqueue_queue_duration_seconds_bucket{name=\"q\",le=\"+Inf\"} 1235\n", text);
        Assert.Contains("big_total 1.234567e+06\n", text);
        Assert.Contains("start_seconds 1.7965405576e+09\n", text);
    }

    [Fact]
    public void Render_LabelledFamilyWithoutSeries_IsLeftOut()
    {
        var registry = new MetricsRegistry();
        registry.Counter("job_controller_job_syncs_total", "Syncs.", "action");

        Assert.Equal("", registry.Render());
        Assert.Equal(["job_controller_job_syncs_total"], registry.Families.Select(f => f.Name));
    }

    [Theory]
    [InlineData(0.1, "0.1")]
    [InlineData(1e-8, "1e-08")]
    [InlineData(123456, "123456")]
    [InlineData(1000000, "1e+06")]
    [InlineData(2.592e6, "2.592e+06")]
    [InlineData(0.0001, "0.0001")]
    [InlineData(0.00001, "1e-05")]
    [InlineData(-2.5, "-2.5")]
    [InlineData(1e21, "1e+21")]
    [InlineData(0.002038761, "0.002038761")]
    public void GoFloat_Format_MatchesStrconvG(double value, string expected) => Assert.Equal(expected, Kcm.Api.Codecs.GoFloat.Format(value));
}

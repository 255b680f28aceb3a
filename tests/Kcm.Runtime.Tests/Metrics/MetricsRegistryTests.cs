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
}

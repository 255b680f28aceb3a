using System.Diagnostics;
using System.Text.Json;
using System.Text.RegularExpressions;
using Kcm.Runtime.Metrics;

namespace Kcm.Tests.Deploy;

/// <summary>deploy/: the alert rules pass promtool (syntax and their unit tests); every query names metrics we export.</summary>
public sealed partial class DeployFilesTests
{
    private static readonly string Deploy = Path.Combine(RepositoryRoot(), "deploy");

    [Fact(Timeout = 60_000)]
    public async Task AlertRules_PromtoolCheckRules_Succeeds()
    {
        var (exit, output) = await PromtoolAsync("check", "rules", Path.Combine(Deploy, "prometheus", "kube-controller-manager-alerts.yml"));
        Assert.True(exit == 0, output);
        Assert.Contains("SUCCESS: 6 rules found", output);
    }

    [Fact(Timeout = 60_000)]
    public async Task AlertRules_PromtoolTestRules_AlertsFireAsExpected()
    {
        var (exit, output) = await PromtoolAsync("test", "rules", Path.Combine(Deploy, "prometheus", "kube-controller-manager-alerts.test.yml"));
        Assert.True(exit == 0, output);
    }

    [Fact]
    public void Dashboard_EveryQuery_NamesOnlyExportedMetrics()
    {
        using var dashboard = JsonDocument.Parse(File.ReadAllText(Path.Combine(Deploy, "grafana", "kube-controller-manager-dashboard.json")));
        Assert.Equal("kcm-overview", dashboard.RootElement.GetProperty("uid").GetString());
        var expressions = dashboard.RootElement.GetProperty("panels").EnumerateArray()
            .Where(p => p.TryGetProperty("targets", out _))
            .SelectMany(p => p.GetProperty("targets").EnumerateArray().Select(t => t.GetProperty("expr").GetString()!))
            .ToList();
        Assert.True(expressions.Count >= 20, $"only {expressions.Count} queries");
        AssertExported(expressions);
    }

    [Fact]
    public void AlertRules_EveryExpression_NamesOnlyExportedMetrics()
        => AssertExported([File.ReadAllText(Path.Combine(Deploy, "prometheus", "kube-controller-manager-alerts.yml"))]);

    private static void AssertExported(IEnumerable<string> expressions)
    {
        var exported = ExportedNames();
        var used = expressions.SelectMany(e => MetricName().Matches(e).Select(m => m.Groups[1].Value)).ToHashSet();
        Assert.NotEmpty(used);
        Assert.All(used, name => Assert.True(exported.Contains(name) || name == "up", $"{name} is not a metric this build exports"));
    }

    private static HashSet<string> ExportedNames()
    {
        var registry = new MetricsRegistry();
        _ = new WorkQueueMetricsProvider(registry);
        _ = new RestClientMetrics(registry);
        _ = new LeaderElectionMetrics(registry);
        ProcessMetrics.Register(registry);
        // Registered families, not rendered ones: labelled families show in /metrics only once they have a series.
        var names = new HashSet<string>();
        foreach (var family in registry.Families)
        {
            names.Add(family.Name);
            if (family.Type == "histogram") names.UnionWith([family.Name + "_bucket", family.Name + "_sum", family.Name + "_count"]);
        }
        return names;
    }

    private static async Task<(int Exit, string Output)> PromtoolAsync(params string[] args)
    {
        var info = new ProcessStartInfo("promtool") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args) info.ArgumentList.Add(a);
        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        return (process.ExitCode, await stdout + await stderr);
    }

    private static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Kcm.sln"))) return dir.FullName;
        }
        throw new InvalidOperationException("Kcm.sln not found above " + AppContext.BaseDirectory);
    }

    // A metric selector: a name followed by its label matchers.
    [GeneratedRegex(@"\b([a-z_:][a-z0-9_:]*)\{")]
    private static partial Regex MetricName();
}

using Kcm.Api;
using Kcm.Api.Apps.V1;
using Kcm.Api.Core.V1;
using Kcm.Api.Meta.V1;
using Kcm.Api.Scheduling.V1;
using Kcm.Client;
using Kcm.Client.Errors;
using Kcm.Controllers.ResourceQuotas;
using Kcm.Controllers.Tests.Support;
using Kcm.Controllers.Tests.Workloads;
using Kcm.Testing;

namespace Kcm.Controllers.Tests.ResourceQuotas;

/// <summary>The test server (embedded, or the real one KCM_TEST_KUBECONFIG names) with the resourcequota controller as the manager starts it.</summary>
public sealed class ResourceQuotaFixture : IAsyncLifetime
{
    private ControllerTestHost? _host;

    public WorkloadServer Server { get; } = new();

    public ControllerTestHost Host => _host ?? throw new InvalidOperationException("not initialized");

    public async Task InitializeAsync()
    {
        await Server.InitializeAsync();
        _host = new ControllerTestHost(Server, DebugFileLoggerProvider.FromEnvironment(), unthrottled: true);
        // The default 5m sync period: anything faster than that in these tests is the replenishment fast path.
        var run = ResourceQuotaDescriptor.Value.Start(_host.Context, new ResourceQuotaControllerOptions())
            ?? throw new InvalidOperationException("the resourcequota controller declined to start");
        // As the tokens controller does: secrets are then counted from this typed informer, deployments (and the
        // rest) from metadata informers of the quota monitor's own.
        _host.Context.Informers.InformerFor<Secret>();
        _host.Start(run);
    }

    public async Task DisposeAsync()
    {
        if (_host is not null) await _host.DisposeAsync();
        await Server.DisposeAsync();
    }
}

/// <summary>
/// Quota end to end: admission charges creates (both servers refuse over-quota objects with the same message),
/// the controller fills in new quotas, gives back what deletions free, and corrects drift at its full resync.
/// </summary>
public sealed class ResourceQuotaIntegrationTests(ResourceQuotaFixture fixture) : IClassFixture<ResourceQuotaFixture>
{
    private KubeApiClient Client => fixture.Host.Client;

    [Fact(Timeout = 120_000)]
    public async Task Usage_FollowsCreatesAndDeletes()
    {
        var ns = await TestNamespaces.CreateAsync(Client, "quota");
        await CreateQuotaAsync(ns, "q", new() { ["pods"] = "5", ["requests.cpu"] = "2", ["secrets"] = "10", ["count/deployments.apps"] = "2" });
        var initial = await WaitForUsedAsync(ns, "q", u => u.Count == 4);
        // Secrets, not configmaps: a root-ca-cert-publisher of another test may add kube-root-ca.crt to the namespace
        // at any moment, which admission charges. Whatever secrets the namespace came with count as the base.
        var baseSecrets = long.Parse(initial["secrets"]);
        Assert.Equal(("0", "0", "0"), (initial["pods"], initial["requests.cpu"], initial["count/deployments.apps"]));

        await Client.CreateAsync(Pod("web", cpu: "300m"), ns);
        await Client.CreateAsync(Pod("worker", cpu: "1200m"), ns);
        await Client.CreateAsync(new Secret { Metadata = new ObjectMeta { Name = "settings" } }, ns);
        await Client.CreateAsync(Deployment("api"), ns);
        // Admission charges each create; a recount the controller started from a cache that had not yet seen the
        // second pod may overwrite that for a moment (as upstream's can), so the usage is awaited.
        await WaitForUsedAsync(ns, "q", u => (u["pods"], u["requests.cpu"], u["secrets"], u["count/deployments.apps"]) == ("2", "1500m", (baseSecrets + 1).ToString(), "1"));

        await Client.DeleteAsync<Pod>(ns, "worker", new DeleteOptions { GracePeriodSeconds = 0 });
        await Client.DeleteAsync<Secret>(ns, "settings");
        await Client.DeleteAsync<Deployment>(ns, "api");
        // Well before the 5m resync: the deletions replenish the quota.
        await WaitForUsedAsync(ns, "q", u => u["pods"] == "1" && u["requests.cpu"] == "300m" && u["secrets"] == baseSecrets.ToString() && u["count/deployments.apps"] == "0");
    }

    [Fact(Timeout = 120_000)]
    public async Task Admission_OverQuotaPods_RefusedWithUpstreamMessages()
    {
        var ns = await TestNamespaces.CreateAsync(Client, "quotaadm");
        await CreateQuotaAsync(ns, "compute", new() { ["pods"] = "1", ["requests.cpu"] = "1", ["limits.memory"] = "1Gi" });
        await WaitForUsedAsync(ns, "compute", u => u.Count == 3);
        using var kubectl = new KubectlScope(fixture.Server.AdminKubeconfigPath);
        // kube-apiserver's quota admission judges by its informer's copy of the quota, which may not yet have the status
        // the controller wrote (then nothing is limited): a server-side dry run of a bare pod is refused once it has.
        await Eventually.TrueAsync("quota admission to have the controller's status", async () =>
            (await kubectl.Runner.RunWithInputAsync(PodYaml("probe", null, null), "create", "--dry-run=server", "-n", ns, "-f", "-")).Stderr
                .Contains("must specify", StringComparison.Ordinal));

        var bare = await kubectl.Runner.RunWithInputAsync(PodYaml("bare", null, null), "create", "-n", ns, "-f", "-");
        Assert.NotEqual(0, bare.ExitCode);
        Assert.Contains("pods \"bare\" is forbidden: failed quota: compute: must specify limits.memory for: bare; requests.cpu for: bare", bare.Stderr);

        var first = await kubectl.Runner.RunWithInputAsync(PodYaml("first", "500m", "512Mi"), "create", "-n", ns, "-f", "-");
        Assert.Equal(0, first.ExitCode);

        var second = await kubectl.Runner.RunWithInputAsync(PodYaml("second", "700m", "600Mi"), "create", "-n", ns, "-f", "-");
        Assert.NotEqual(0, second.ExitCode);
        Assert.Contains("Error from server (Forbidden)", second.Stderr);
        Assert.Contains("pods \"second\" is forbidden: exceeded quota: compute, requested: limits.memory=600Mi,pods=1,requests.cpu=700m, "
            + "used: limits.memory=512Mi,pods=1,requests.cpu=500m, limited: limits.memory=1Gi,pods=1,requests.cpu=1", second.Stderr);
        var used = await UsedAsync(ns, "compute");
        Assert.Equal(("1", "500m", "512Mi"), (used["pods"], used["requests.cpu"], used["limits.memory"]));
    }

    [Fact(Timeout = 120_000)]
    public async Task Scopes_ControllerCountsEachQuotasPods()
    {
        var ns = await TestNamespaces.CreateAsync(Client, "quotascope");
        var priority = $"quota-high-{Guid.NewGuid().ToString("N")[..6]}";
        // The real server's Priority admission needs the class to exist.
        await Client.CreateAsync(new PriorityClass { Metadata = new ObjectMeta { Name = priority }, Value = 1000 });
        try
        {
            // Pods first, quotas after: the usage comes from the controller, not from admission.
            await Client.CreateAsync(Pod("besteffort", cpu: null), ns);
            await Client.CreateAsync(Pod("burstable", cpu: "250m"), ns);
            var deadline = Pod("batch", cpu: "250m");
            deadline.Spec!.ActiveDeadlineSeconds = 600;
            await Client.CreateAsync(deadline, ns);
            var important = Pod("important", cpu: null);
            important.Spec!.PriorityClassName = priority;
            await Client.CreateAsync(important, ns);

            await CreateQuotaAsync(ns, "besteffort", new() { ["pods"] = "10" }, s => s.Scopes = ["BestEffort"]);
            await CreateQuotaAsync(ns, "notbesteffort", new() { ["pods"] = "10", ["requests.cpu"] = "4" }, s => s.Scopes = ["NotBestEffort"]);
            await CreateQuotaAsync(ns, "terminating", new() { ["pods"] = "10" }, s => s.Scopes = ["Terminating"]);
            await CreateQuotaAsync(ns, "notterminating", new() { ["pods"] = "10" }, s => s.Scopes = ["NotTerminating"]);
            await CreateQuotaAsync(ns, "priority", new() { ["pods"] = "10" }, s => s.ScopeSelector = new ScopeSelector
            {
                MatchExpressions = [new ScopedResourceSelectorRequirement { ScopeName = "PriorityClass", Operator = "In", Values = [priority] }],
            });

            Assert.Equal("2", (await WaitForUsedAsync(ns, "besteffort", u => u.Count == 1))["pods"]);
            var notBestEffort = await WaitForUsedAsync(ns, "notbesteffort", u => u.Count == 2);
            Assert.Equal(("2", "500m"), (notBestEffort["pods"], notBestEffort["requests.cpu"]));
            Assert.Equal("1", (await WaitForUsedAsync(ns, "terminating", u => u.Count == 1))["pods"]);
            Assert.Equal("3", (await WaitForUsedAsync(ns, "notterminating", u => u.Count == 1))["pods"]);
            Assert.Equal("1", (await WaitForUsedAsync(ns, "priority", u => u.Count == 1))["pods"]);

            // A pod that finished frees its scope's quota at once (the update is a replenishment event).
            var burstable = await Client.GetAsync<Pod>(ns, "burstable");
            burstable.Status = new PodStatus { Phase = "Succeeded" };
            await Client.UpdateStatusAsync(burstable);
            await WaitForUsedAsync(ns, "notbesteffort", u => u["pods"] == "1" && u["requests.cpu"] == "250m");
        }
        finally
        {
            await Client.DeleteAsync<PriorityClass>(null, priority);
        }
    }

    [Fact(Timeout = 120_000)]
    public async Task Resync_UsageOverwrittenBehindTheControllersBack_Corrected()
    {
        // Its own controller with a short sync period; the class's controller (5m) ignores status-only changes.
        await using var host = new ControllerTestHost(fixture.Server, DebugFileLoggerProvider.FromEnvironment(), unthrottled: true);
        host.Start(ResourceQuotaDescriptor.Value.Start(host.Context, new ResourceQuotaControllerOptions { ResyncPeriod = TimeSpan.FromSeconds(2) })!);
        var ns = await TestNamespaces.CreateAsync(Client, "quotaresync");
        await CreateQuotaAsync(ns, "q", new() { ["pods"] = "5", ["secrets"] = "5" });
        await Client.CreateAsync(Pod("a", cpu: null), ns);
        var used = await WaitForUsedAsync(ns, "q", u => u.Count == 2 && u["pods"] == "1");
        var secrets = used["secrets"];

        // No event tells the controllers about this: only the full resync puts it right.
        var quota = await Client.GetAsync<ResourceQuota>(ns, "q");
        quota.Status!.Used!["pods"] = Quantity.Parse("4");
        await Client.UpdateStatusAsync(quota);

        await WaitForUsedAsync(ns, "q", u => u["pods"] == "1" && u["secrets"] == secrets);
    }

    private async Task CreateQuotaAsync(string ns, string name, Dictionary<string, string> hard, Action<ResourceQuotaSpec>? configure = null)
    {
        var spec = new ResourceQuotaSpec { Hard = hard.ToDictionary(e => e.Key, e => Quantity.Parse(e.Value)) };
        configure?.Invoke(spec);
        await Client.CreateAsync(new ResourceQuota { Metadata = new ObjectMeta { Name = name }, Spec = spec }, ns);
    }

    private async Task<Dictionary<string, string>> UsedAsync(string ns, string name)
        => ((await Client.GetAsync<ResourceQuota>(ns, name)).Status?.Used ?? []).ToDictionary(e => e.Key, e => e.Value.ToString());

    private Task<Dictionary<string, string>> WaitForUsedAsync(string ns, string name, Func<Dictionary<string, string>, bool> condition)
        => Eventually.GetAsync($"quota {ns}/{name} usage", async () =>
        {
            var used = await UsedAsync(ns, name);
            return condition(used) ? used : null;
        });

    private static Pod Pod(string name, string? cpu) => new()
    {
        Metadata = new ObjectMeta { Name = name },
        Spec = new PodSpec
        {
            Containers = [new Container
            {
                Name = "c",
                Image = "registry.k8s.io/pause:3.9",
                Resources = cpu is null ? null : new ResourceRequirements { Requests = new() { ["cpu"] = Quantity.Parse(cpu) } },
            }],
        },
    };

    private static Deployment Deployment(string name) => new()
    {
        Metadata = new ObjectMeta { Name = name },
        Spec = new DeploymentSpec
        {
            Replicas = 0,
            Selector = new LabelSelector { MatchLabels = new() { ["app"] = name } },
            Template = new PodTemplateSpec
            {
                Metadata = new ObjectMeta { Labels = new() { ["app"] = name } },
                Spec = new PodSpec { Containers = [new Container { Name = "c", Image = "registry.k8s.io/pause:3.9" }] },
            },
        },
    };

    private static string PodYaml(string name, string? cpu, string? memoryLimit)
    {
        var resources = cpu is null ? "" : $$"""
                resources:
                  requests: {cpu: {{cpu}}}
                  limits: {memory: {{memoryLimit}}}
            """;
        return $"""
            apiVersion: v1
            kind: Pod
            metadata:
              name: {name}
            spec:
              containers:
              - name: {name}
                image: registry.k8s.io/pause:3.9
            {resources}
            """;
    }
}

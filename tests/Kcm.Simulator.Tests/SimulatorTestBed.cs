using Kcm.Api.Core.V1;
using Kcm.Api.Meta.V1;
using Kcm.Client;
using Kcm.Client.Errors;
using Kcm.Testing;

namespace Kcm.Simulator.Tests;

/// <summary>
/// One test's simulator with its own node names and namespace (which it alone serves), so tests sharing one real
/// cluster (KCM_TEST_KUBECONFIG) do not see each other's pods. Disposal deletes the nodes, their leases and the namespace.
/// </summary>
internal sealed class SimulatorTestBed : IAsyncDisposable
{
    // Shorter than the tests' own timeout, so a stuck wait fails with what it waited for.
    public static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);

    private SimulatorTestBed(KubeApiClient client, NodeSimulator simulator, string ns, string prefix)
    {
        Client = client;
        Simulator = simulator;
        Namespace = ns;
        NodePrefix = prefix;
    }

    public KubeApiClient Client { get; }

    public NodeSimulator Simulator { get; }

    public string Namespace { get; }

    public string NodePrefix { get; }

    public string Node(int index) => NodePrefix + index;

    public static async Task<SimulatorTestBed> StartAsync(EmbeddedServerFixture fixture, Func<SimulatorOptions, SimulatorOptions>? configure = null)
    {
        var id = Guid.NewGuid().ToString("N")[..8];
        var ns = "sim-" + id;
        var prefix = $"sim{id}-node-";
        var client = KubeApiClient.FromKubeconfig(fixture.AdminKubeconfigPath);
        await client.CreateAsync(new Namespace { Metadata = new ObjectMeta { Name = ns } });
        try
        {
            // A real kube-apiserver admits pods only when their service account exists (no controller manager creates it here).
            await client.CreateAsync(new ServiceAccount { Metadata = new ObjectMeta { Name = "default" } }, ns);
        }
        catch (AlreadyExistsException)
        {
        }
        var options = new SimulatorOptions
        {
            NodeNamePrefix = prefix,
            Namespaces = new HashSet<string> { ns },
            PodReadyDelay = TimeSpan.FromMilliseconds(200),
            DeleteNodesOnStop = true,
        };
        options = configure?.Invoke(options) ?? options;
        using var timeout = new CancellationTokenSource(Wait);
        var simulator = await NodeSimulator.StartAsync(fixture.AdminKubeconfigPath, options, null, timeout.Token);
        return new SimulatorTestBed(client, simulator, ns, prefix);
    }

    public static Pod NewPod(string name, Action<PodSpec>? configure = null)
    {
        var pod = new Pod
        {
            Metadata = new ObjectMeta { Name = name },
            Spec = new PodSpec { Containers = [new Container { Name = "web", Image = "nginx:1.25" }] },
        };
        configure?.Invoke(pod.Spec);
        return pod;
    }

    public Task<Pod> CreatePodAsync(string name, Action<PodSpec>? configure = null) => Client.CreateAsync(NewPod(name, configure), Namespace);

    public Task<Pod> GetPodAsync(string name) => Client.GetAsync<Pod>(Namespace, name);

    public Task<Pod> RunningAsync(string name) => Eventually.GetAsync($"pod {name} Running", async () =>
    {
        var pod = await GetPodAsync(name);
        return pod.Status?.Phase == "Running" ? pod : null;
    }, Wait);

    public Task<Pod> BoundAsync(string name) => Eventually.GetAsync($"pod {name} bound", async () =>
    {
        var pod = await GetPodAsync(name);
        return string.IsNullOrEmpty(pod.Spec?.NodeName) ? null : pod;
    }, Wait);

    public Task GoneAsync(string name) => Eventually.TrueAsync($"pod {name} gone", async () =>
    {
        try
        {
            await GetPodAsync(name);
            return false;
        }
        catch (NotFoundException)
        {
            return true;
        }
    }, Wait);

    public async ValueTask DisposeAsync()
    {
        await Simulator.DisposeAsync();
        try
        {
            await Client.DeleteCollectionAsync<Pod>(Namespace, options: new DeleteOptions { GracePeriodSeconds = 0 });
            await Client.DeleteAsync<Namespace>(null, Namespace);
        }
        catch (KubeApiException)
        {
            // Best effort: leftovers in a uniquely named namespace harm no other test.
        }
        Client.Dispose();
    }
}

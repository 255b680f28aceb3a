using Kcm.Commands;
using Kcm.Manager;
using Kcm.Options;

namespace Kcm.Tests.Manager;

public sealed class ControllerRegistryTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("kcm-registry-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void Initializers_TokenAndServiceAccountControllers_Registered()
    {
        foreach (var name in new[] { "bootstrapsigner", "tokencleaner", "serviceaccount", "serviceaccount-token", "root-ca-cert-publisher" })
        {
            Assert.True(KnownControllers.IsKnown(name), name);
            Assert.NotNull(ControllerRegistry.Find(name));
        }
        // Upstream starts the tokens controller before every other controller.
        Assert.Equal("serviceaccount-token", KnownControllers.All[0].Name);
    }

    // The client (ServiceAccount) name each v1.26 controller asks its ClientBuilder for (cmd/kube-controller-manager/app),
    // for every controller.
    private static readonly IReadOnlyDictionary<string, string> UpstreamServiceAccounts = new Dictionary<string, string>
    {
        ["serviceaccount-token"] = "tokens-controller", ["endpoint"] = "endpoint-controller",
        ["endpointslice"] = "endpointslice-controller", ["endpointslicemirroring"] = "endpointslicemirroring-controller",
        ["replicationcontroller"] = "replication-controller", ["podgc"] = "pod-garbage-collector",
        ["resourcequota"] = "resourcequota-controller", ["namespace"] = "namespace-controller",
        ["serviceaccount"] = "service-account-controller", ["garbagecollector"] = "generic-garbage-collector",
        ["daemonset"] = "daemon-set-controller", ["job"] = "job-controller", ["deployment"] = "deployment-controller",
        ["replicaset"] = "replicaset-controller", ["horizontalpodautoscaling"] = "horizontal-pod-autoscaler",
        ["disruption"] = "disruption-controller", ["statefulset"] = "statefulset-controller", ["cronjob"] = "cronjob-controller",
        ["csrsigning"] = "certificate-controller", ["csrapproving"] = "certificate-controller", ["csrcleaner"] = "certificate-controller",
        ["ttl"] = "ttl-controller", ["bootstrapsigner"] = "bootstrap-signer", ["tokencleaner"] = "token-cleaner",
        ["nodeipam"] = "node-controller", ["nodelifecycle"] = "node-controller", ["service"] = "service-controller",
        ["route"] = "route-controller", ["cloud-node-lifecycle"] = "node-controller", ["persistentvolume-binder"] = "persistent-volume-binder",
        ["attachdetach"] = "attachdetach-controller", ["persistentvolume-expander"] = "expand-controller",
        ["clusterrole-aggregation"] = "clusterrole-aggregation-controller", ["pvc-protection"] = "pvc-protection-controller",
        ["pv-protection"] = "pv-protection-controller", ["ttl-after-finished"] = "ttl-after-finished-controller",
        ["root-ca-cert-publisher"] = "root-ca-cert-publisher", ["ephemeral-volume"] = "ephemeral-volume-controller",
    };

    [Fact]
    public void All_Controllers_DescriptorCarriesUpstreamServiceAccount()
    {
        foreach (var controller in ControllerRegistry.All)
        {
            var name = controller.Descriptor.Name;
            Assert.True(UpstreamServiceAccounts.TryGetValue(name, out var expected), $"{name} is not a v1.26 controller with a client of its own");
            Assert.Equal((name, expected), (name, controller.Descriptor.ClientName));
        }
    }

    [Fact]
    public void All_Names_UniqueAndKnownControllersDerivedFromThem()
    {
        var names = ControllerRegistry.All.Select(c => c.Descriptor.Name).ToList();

        Assert.Equal(names.Count, names.Distinct().Count());
        Assert.Equal(names, KnownControllers.All.Select(c => c.Name));
        // Every v1.26 controller known by default is listed.
        Assert.Equal(UpstreamServiceAccounts.Keys.Order(), names.Order());
    }

    [Fact(Timeout = 30_000)]
    public async Task RunAsync_BadServiceAccountKeyFile_OneLineErrorBeforeStart()
    {
        var key = Path.Combine(_dir, "sa.key");
        await File.WriteAllTextAsync(key, "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n");
        var stdout = new StringWriter();
        var stderr = new StringWriter();

        var code = await new ControllerManagerCommand().RunAsync(
            [$"--service-account-private-key-file={key}"], stdout, stderr);

        Assert.Equal(1, code);
        var lines = stderr.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Single(lines, l => l.EndsWith($"\"command failed\" err=\"error reading key for service account token controller: {key}: data does not contain a valid RSA or ECDSA private key\"", StringComparison.Ordinal));
    }

    [Fact]
    public void ValidateInputs_BadKeyButTokensControllerDisabled_NoError()
    {
        var key = Path.Combine(_dir, "sa.key");
        File.WriteAllText(key, "garbage");
        var options = KubeControllerManagerOptions.Parse([$"--service-account-private-key-file={key}", "--controllers=*,-serviceaccount-token"]);

        Assert.Empty(ControllerRegistry.ValidateInputs(options));
    }

    [Fact]
    public void ValidateInputs_BadRootCaFile_OneLineError()
    {
        var ca = Path.Combine(_dir, "ca.pem");
        File.WriteAllText(ca, "garbage");
        var options = KubeControllerManagerOptions.Parse([$"--root-ca-file={ca}"]);

        Assert.Equal([$"error parsing root-ca-file at {ca}: data does not contain any valid RSA or ECDSA certificates"], ControllerRegistry.ValidateInputs(options));
    }
}

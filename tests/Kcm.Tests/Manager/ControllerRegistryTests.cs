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
            Assert.True(ControllerRegistry.Find(name)?.IsImplemented, name);
        }
        // Upstream starts the tokens controller before every other controller.
        Assert.Equal("serviceaccount-token", KnownControllers.All[0].Name);
    }

    [Theory]
    [InlineData("deployment", "deployment-controller")]
    [InlineData("replicaset", "replicaset-controller")]
    [InlineData("replicationcontroller", "replication-controller")]
    [InlineData("garbagecollector", "generic-garbage-collector")]
    [InlineData("namespace", "namespace-controller")]
    [InlineData("podgc", "pod-garbage-collector")]
    [InlineData("serviceaccount", "service-account-controller")]
    [InlineData("serviceaccount-token", "tokens-controller")]
    [InlineData("csrsigning", "certificate-controller")]
    [InlineData("ttl", "ttl-controller")]
    [InlineData("bootstrapsigner", "bootstrap-signer")]
    [InlineData("tokencleaner", "token-cleaner")]
    [InlineData("root-ca-cert-publisher", "root-ca-cert-publisher")]
    public void All_ImplementedController_DescriptorCarriesUpstreamServiceAccount(string name, string serviceAccount)
    {
        Assert.Equal(serviceAccount, ControllerRegistry.Find(name)?.Descriptor.ClientName);
    }

    [Fact]
    public void All_Names_UniqueAndKnownControllersDerivedFromThem()
    {
        var names = ControllerRegistry.All.Select(c => c.Descriptor.Name).ToList();

        Assert.Equal(names.Count, names.Distinct().Count());
        Assert.Equal(names, KnownControllers.All.Select(c => c.Name));
        Assert.Equal(15, ControllerRegistry.All.Count(c => c.IsImplemented));
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
        Assert.Contains($"Error: error reading key for service account token controller: {key}: data does not contain a valid RSA or ECDSA private key", lines);
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

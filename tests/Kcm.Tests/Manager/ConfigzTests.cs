using System.Text.Json;
using System.Text.Json.Nodes;
using Kcm.Manager;
using Kcm.Options;
using Kcm.Serving;

namespace Kcm.Tests.Manager;

public class ConfigzTests
{
    [Fact]
    public void Build_SameFlagsAsUpstream_IsUpstreamsDocument()
    {
        // Upstream/configz-v1.26.3.json is what upstream's /configz served (curl with the admin certificate) when started with these flags.
        var options = KubeControllerManagerOptions.Parse([
            "--kubeconfig=/tmp/k8s-dropin/admin.kubeconfig", "--authentication-kubeconfig=/tmp/k8s-dropin/admin.kubeconfig",
            "--authorization-kubeconfig=/tmp/k8s-dropin/admin.kubeconfig", "--secure-port=10357", "--bind-address=127.0.0.1",
            "--cluster-signing-cert-file=/tmp/k8s-dropin/ca.pem", "--cluster-signing-key-file=/tmp/k8s-dropin/ca-key.pem",
            "--root-ca-file=/tmp/k8s-dropin/ca.pem", "--service-account-private-key-file=/tmp/k8s-dropin/sa.key",
            "--use-service-account-credentials=true", "--controllers=*,bootstrapsigner,tokencleaner", "--v=2"]);
        var upstream = JsonNode.Parse(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Upstream", "configz-v1.26.3.json")))!;

        var ours = JsonNode.Parse(JsonSerializer.Serialize(Configz.Build(options), ConfigzJson.Default.Object))!;

        Assert.Equal(upstream.ToJsonString(), ours.ToJsonString());
    }

    [Fact]
    public void Build_DualStackServiceRange_IsSplitIntoPrimaryAndSecondary()
    {
        var options = KubeControllerManagerOptions.Parse(["--service-cluster-ip-range=10.0.0.0/16,fd00::/108", "--volume-host-cidr-denylist=10.1.0.0/16"]);
        var doc = JsonNode.Parse(JsonSerializer.Serialize(Configz.Build(options), ConfigzJson.Default.Object))![Configz.Group]!;

        Assert.Equal("10.0.0.0/16", (string?)doc["NodeIPAMController"]!["ServiceCIDR"]);
        Assert.Equal("fd00::/108", (string?)doc["NodeIPAMController"]!["SecondaryServiceCIDR"]);
        Assert.Equal("[\"10.1.0.0/16\"]", doc["PersistentVolumeBinderController"]!["VolumeHostCIDRDenylist"]!.ToJsonString());
    }
}

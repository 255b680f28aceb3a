using Kcm.Api.Core.V1;
using Kcm.Api.Meta.V1;
using Kcm.Client;
using Kcm.Client.Errors;
using Kcm.Testing;

namespace Kcm.ApiServer.Tests;

public sealed class BindingTests(EmbeddedServerFixture fixture) : IClassFixture<EmbeddedServerFixture>
{
    [Fact(Timeout = 20_000)]
    public async Task Bind_UnscheduledPod_SetsNodeNameAndPodScheduled_SecondBindConflicts()
    {
        using var client = KubeApiClient.FromKubeconfig(fixture.AdminKubeconfigPath);
        var ns = await TestNamespaces.CreateAsync(client, "bind");
        var pod = await client.CreateAsync(new Pod
        {
            Metadata = new ObjectMeta { Name = "bind-me" },
            Spec = new PodSpec { Containers = [new Container { Name = "c", Image = "busybox" }] },
        }, ns);
        Binding Binding(string node) => new()
        {
            Metadata = new ObjectMeta { Name = "bind-me", Namespace = ns, Uid = pod.Metadata!.Uid, Annotations = new Dictionary<string, string> { ["scheduler/hint"] = "x" } },
            Target = new ObjectReference { Kind = "Node", Name = node },
        };

        await client.BindAsync(Binding("node-a"));

        var bound = await client.GetAsync<Pod>(ns, "bind-me");
        Assert.Equal("node-a", bound.Spec!.NodeName);
        Assert.Equal("x", bound.Metadata!.Annotations!["scheduler/hint"]);
        Assert.Contains(bound.Status!.Conditions!, c => c.Type == "PodScheduled" && c.Status == "True");
        var conflict = await Assert.ThrowsAsync<ConflictException>(() => client.BindAsync(Binding("node-b")));
        Assert.Contains("is already assigned to node \"node-a\"", conflict.Message);
    }

    // Upstream's binding REST returns the validation errors unwrapped, so they surface as a 500 with a bare message.
    [EmbeddedDiffersFact("answers a binding without target.name with 422 Invalid; upstream answers 500 \"target.name: Required value\"", Timeout = 20_000)]
    public async Task Bind_WithoutTargetName_InternalError()
    {
        using var client = KubeApiClient.FromKubeconfig(fixture.AdminKubeconfigPath);
        var ns = await TestNamespaces.CreateAsync(client, "bind");
        await client.CreateAsync(new Pod
        {
            Metadata = new ObjectMeta { Name = "bind-invalid" },
            Spec = new PodSpec { Containers = [new Container { Name = "c", Image = "busybox" }] },
        }, ns);

        var error = await Assert.ThrowsAsync<InternalErrorException>(() => client.BindAsync(new Binding
        {
            Metadata = new ObjectMeta { Name = "bind-invalid", Namespace = ns },
            Target = new ObjectReference { Kind = "Node" },
        }));
        Assert.Equal(500, error.StatusCode);
        Assert.Equal("target.name: Required value", error.Status.Message);
    }
}

using System.Net;
using Kcm.Testing;
using static Kcm.ApiServer.Tests.Auth.AuthHttp;
using static Kcm.ApiServer.Tests.Http;

namespace Kcm.ApiServer.Tests.Auth;

[Collection(AuthCollection.Name)]
public sealed class BootstrapPolicyTests(AuthServerFixture fixture)
{
    private const string Rbac = "/apis/rbac.authorization.k8s.io/v1";
    private readonly HttpClient _admin = fixture.HttpClient;

    [Fact(Timeout = 30000)]
    public async Task ControllerManager_BoundToItsUser()
    {
        var (code, body) = await GetAsync(_admin, $"{Rbac}/clusterrolebindings/system:kube-controller-manager");
        Assert.Equal(HttpStatusCode.OK, code);
        Assert.Equal("system:kube-controller-manager", Str(body!["roleRef"]!["name"]));
        Assert.Equal("User", Str(body["subjects"]![0]!["kind"]));
        Assert.Equal("system:kube-controller-manager", Str(body["subjects"]![0]!["name"]));
        Assert.True((await SubjectAccessReviewAsync(_admin, "system:kube-controller-manager", [], "create", "secrets", "kube-system"))["allowed"]!.GetValue<bool>());
        Assert.True((await SubjectAccessReviewAsync(_admin, "system:kube-controller-manager", [], "get", "leases", "kube-system", "coordination.k8s.io", "kube-controller-manager"))["allowed"]!.GetValue<bool>());
    }

    [Fact(Timeout = 30000)]
    public async Task NodeBootstrapRoles_Exist()
    {
        foreach (var name in (string[])["system:node-bootstrapper", "system:certificates.k8s.io:certificatesigningrequests:nodeclient",
                     "system:certificates.k8s.io:certificatesigningrequests:selfnodeclient", "system:kubelet-api-admin", "system:node",
                     "system:controller:certificate-controller", "cluster-admin", "system:basic-user"])
        {
            Assert.Equal(HttpStatusCode.OK, (await GetAsync(_admin, $"{Rbac}/clusterroles/{name}")).Code);
        }
        Assert.Equal(HttpStatusCode.OK, (await GetAsync(_admin, $"{Rbac}/namespaces/kube-system/roles/system:controller:token-cleaner")).Code);
        Assert.Equal(HttpStatusCode.OK, (await GetAsync(_admin, $"{Rbac}/namespaces/kube-public/rolebindings/system:controller:bootstrap-signer")).Code);
        var (_, binding) = await GetAsync(_admin, $"{Rbac}/clusterrolebindings/system:controller:certificate-controller");
        Assert.Equal("ServiceAccount", Str(binding!["subjects"]![0]!["kind"]));
        Assert.Equal("kube-system", Str(binding["subjects"]![0]!["namespace"]));
        // The default policy alone lets no one create CSRs. (Not asked for system:bootstrappers: the deployment guide binds
        // that group, and a test class of the controllers suite does so on a shared cluster.)
        Assert.False((await SubjectAccessReviewAsync(_admin, "system:bootstrap:abc", ["system:bootstrappers:kubeadm:default-node-token", "system:authenticated"], "create",
            "certificatesigningrequests", group: "certificates.k8s.io"))["allowed"]!.GetValue<bool>());
    }

    [EmbeddedOnlyFact("on a shared real cluster a controller manager may already have filled the aggregated roles", Timeout = 30000)]
    public async Task AggregatedRoles_CreatedAsShellsForTheController()
    {
        // As kube-apiserver's RBAC hook: the aggregationRule only; the clusterrole-aggregation controller fills the rules.
        foreach (var name in (string[])["admin", "edit", "view"])
        {
            var (code, role) = await GetAsync(_admin, $"{Rbac}/clusterroles/{name}");
            Assert.Equal(HttpStatusCode.OK, code);
            Assert.NotNull(role!["aggregationRule"]?["clusterRoleSelectors"]?[0]?["matchLabels"]);
            Assert.Empty(role["rules"]?.AsArray() ?? []);
        }
    }
}

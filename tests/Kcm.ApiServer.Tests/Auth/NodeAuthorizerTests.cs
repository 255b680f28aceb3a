using Kcm.Testing;
using static Kcm.ApiServer.Tests.Auth.AuthHttp;
using static Kcm.ApiServer.Tests.Http;

namespace Kcm.ApiServer.Tests.Auth;

[Collection(AuthCollection.Name)]
public sealed class NodeAuthorizerTests(AuthServerFixture fixture)
{
    private static readonly string[] NodeGroups = ["system:nodes", "system:authenticated"];
    private readonly HttpClient _admin = fixture.HttpClient;

    [Fact(Timeout = 30000)]
    public async Task Node_SecretOfPodOnNode_AllowedOthersNot()
    {
        var ns = await CreateNamespaceAsync(_admin);
        await CreateAsync(_admin, $"/api/v1/namespaces/{ns}/pods",
            """{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},"spec":{"nodeName":"n1","containers":[{"name":"c","image":"busybox","envFrom":[{"secretRef":{"name":"creds"}}]}]}}""");

        // The node authorizer's graph follows pods through an informer on a real apiserver.
        await Eventually.TrueAsync("the pod's node may read its secret",
            async () => (await SubjectAccessReviewAsync(_admin, "system:node:n1", NodeGroups, "get", "secrets", ns, name: "creds"))["allowed"]!.GetValue<bool>());
        var other = await SubjectAccessReviewAsync(_admin, "system:node:n2", NodeGroups, "get", "secrets", ns, name: "creds");
        Assert.False(other["allowed"]!.GetValue<bool>());
        Assert.Equal("no relationship found between node 'n2' and this object", Str(other["reason"]));
        Assert.False((await SubjectAccessReviewAsync(_admin, "system:node:n1", NodeGroups, "get", "secrets", ns, name: "unrelated"))["allowed"]!.GetValue<bool>());
        // Non-graph resources follow the system:node rules.
        Assert.True((await SubjectAccessReviewAsync(_admin, "system:node:n1", NodeGroups, "create", "nodes"))["allowed"]!.GetValue<bool>());
        Assert.False((await SubjectAccessReviewAsync(_admin, "system:node:n1", NodeGroups, "delete", "namespaces"))["allowed"]!.GetValue<bool>());
    }
}

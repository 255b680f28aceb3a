using System.Net;
using static Kcm.ApiServer.Tests.Http;

namespace Kcm.ApiServer.Tests;

/// <summary>Generic registry rules as upstream v1.26.3 applies them: create-on-update, admission order.</summary>
[Collection(ServerCollection.Name)]
public sealed class StoreSemanticsTests(ApiServerFixture fixture)
{
    private readonly HttpClient _client = ClusterHttp.For(fixture);

    private static string Lease(string name, string extraMeta = "")
        => "{\"apiVersion\":\"coordination.k8s.io/v1\",\"kind\":\"Lease\",\"metadata\":{\"name\":\"" + name + "\"" + extraMeta
           + "},\"spec\":{\"holderIdentity\":\"a\"}}";

    [Fact(Timeout = 30000)]
    public async Task Put_MissingLease_CreatesIt()
    {
        var ns = await ClusterHttp.CreateNamespaceAsync(_client);
        var path = $"/apis/coordination.k8s.io/v1/namespaces/{ns}/leases/l";
        // A resourceVersion in the body does not stop the create.
        var (code, created) = await SendAsync(_client, HttpMethod.Put, path, Lease("l", ",\"resourceVersion\":\"5\""));
        Assert.Equal(HttpStatusCode.Created, code);
        Assert.NotEqual("5", Str(created!["metadata"]!["resourceVersion"]));
        Assert.NotEqual("", Str(created["metadata"]!["uid"]));

        var (again, updated) = await SendAsync(_client, HttpMethod.Put, path, created.ToJsonString());
        Assert.Equal(HttpStatusCode.OK, again);
        Assert.Equal(Str(created["metadata"]!["uid"]), Str(updated!["metadata"]!["uid"]));
    }

    [Fact(Timeout = 30000)]
    public async Task Put_MissingLeaseDryRun_AnswersCreatedButStoresNothing()
    {
        var ns = await ClusterHttp.CreateNamespaceAsync(_client);
        var path = $"/apis/coordination.k8s.io/v1/namespaces/{ns}/leases/l";
        var (code, created) = await SendAsync(_client, HttpMethod.Put, path + "?dryRun=All", Lease("l"));
        Assert.Equal(HttpStatusCode.Created, code);
        Assert.Null(created!["metadata"]!["resourceVersion"]);
        Assert.Equal(HttpStatusCode.NotFound, (await GetAsync(_client, path)).Code);
    }

    [Theory(Timeout = 30000)]
    [InlineData("/api/v1/namespaces/{0}/configmaps/c", """{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c"}}""", "configmaps \"c\" not found")]
    [InlineData("/apis/apps/v1/namespaces/{0}/deployments/d", """{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"d"}}""", "deployments.apps \"d\" not found")]
    public async Task Put_MissingObjectOfKindWithoutCreateOnUpdate_NotFound(string pathFormat, string body, string message)
    {
        var ns = await ClusterHttp.CreateNamespaceAsync(_client);
        var (code, status) = await SendAsync(_client, HttpMethod.Put, string.Format(pathFormat, ns), body);
        Assert.Equal(HttpStatusCode.NotFound, code);
        Assert.Equal(message, Str(status!["message"]));
    }

    [Fact(Timeout = 30000)]
    public async Task Patch_MissingLease_NotFound()
    {
        var ns = await ClusterHttp.CreateNamespaceAsync(_client);
        var (code, status) = await SendAsync(_client, HttpMethod.Patch, $"/apis/coordination.k8s.io/v1/namespaces/{ns}/leases/l",
            """{"spec":{"holderIdentity":"b"}}""", "application/merge-patch+json");
        Assert.Equal(HttpStatusCode.NotFound, code);
        Assert.Equal("leases.coordination.k8s.io \"l\" not found", Str(status!["message"]));
    }

    [Theory(Timeout = 30000)]
    [InlineData("/api/v1/namespaces/{0}/configmaps", """{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"Bad_Name"}}""")]
    [InlineData("/api/v1/namespaces/{0}/configmaps", """{"apiVersion":"v1","kind":"ConfigMap","metadata":{}}""")]
    [InlineData("/apis/coordination.k8s.io/v1/namespaces/{0}/leases", """{"apiVersion":"coordination.k8s.io/v1","kind":"Lease","metadata":{"name":"l"},"spec":{"leaseDurationSeconds":-1}}""")]
    public async Task Create_InvalidObjectInMissingNamespace_NamespaceNotFound(string pathFormat, string body)
    {
        var ns = "missing-" + Guid.NewGuid().ToString("N")[..10];
        var (code, status) = await PostAsync(_client, string.Format(pathFormat, ns), body);
        Assert.Equal(HttpStatusCode.NotFound, code);
        Assert.Equal($"namespaces \"{ns}\" not found", Str(status!["message"]));
    }

    [Fact(Timeout = 30000)]
    public async Task Put_LeaseInMissingNamespace_NamespaceNotFound()
    {
        var ns = "missing-" + Guid.NewGuid().ToString("N")[..10];
        var (code, status) = await SendAsync(_client, HttpMethod.Put, $"/apis/coordination.k8s.io/v1/namespaces/{ns}/leases/l", Lease("l"));
        Assert.Equal(HttpStatusCode.NotFound, code);
        Assert.Equal($"namespaces \"{ns}\" not found", Str(status!["message"]));
    }
}

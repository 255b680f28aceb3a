using System.Net;
using Kcm.Testing;
using static Kcm.ApiServer.Tests.Http;

namespace Kcm.ApiServer.Tests;

[Collection(ServerCollection.Name)]
public sealed class ErrorAndSecurityTests(ApiServerFixture fixture)
{
    private readonly HttpClient _client = fixture.HttpClient;

    [Fact(Timeout = 30000)]
    public async Task Create_MalformedJson_BadRequestAndServerStillServes()
    {
        var (code, body) = await PostAsync(_client, "/api/v1/namespaces/default/configmaps", "{not json");
        Assert.Equal(HttpStatusCode.BadRequest, code);
        Assert.Equal("BadRequest", Str(body!["reason"]));
        Assert.StartsWith("the object provided is unrecognized (must be of type ConfigMap): couldn't get version/kind; json parse error: ", Str(body["message"]));
        Assert.Equal(HttpStatusCode.OK, (await GetAsync(_client, "/api/v1/namespaces/default")).Code);
    }

    [Fact(Timeout = 30000)]
    public async Task Create_BodyOver3MiB_RequestEntityTooLarge()
    {
        var big = "{\"metadata\":{\"name\":\"big\"},\"data\":{\"x\":\"" + new string('a', 3 * 1024 * 1024) + "\"}}";
        var (code, body) = await PostAsync(_client, "/api/v1/namespaces/default/configmaps", big);
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, code);
        Assert.Equal("RequestEntityTooLarge", Str(body!["reason"]));
        Assert.Equal("Request entity too large: limit is 3145728", Str(body["message"]));
    }

    [Fact(Timeout = 30000)]
    public async Task Request_WithoutClientCertificate_Unauthorized()
    {
        using var anonymous = fixture.NewHttpClient(withCredentials: false);
        var (code, body) = await GetAsync(anonymous, "/api/v1/namespaces");
        Assert.Equal(HttpStatusCode.Unauthorized, code);
        Assert.Equal(Canon("""{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"Unauthorized","reason":"Unauthorized","code":401}"""),
            body!.ToJsonString());
    }

    [Fact(Timeout = 30000)]
    public async Task Request_Http2_Served()
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/api/v1/namespaces/default") { Version = HttpVersion.Version20, VersionPolicy = HttpVersionPolicy.RequestVersionExact };
        using var response = await _client.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(HttpVersion.Version20, response.Version);
    }
}

using System.Net;
using System.Net.Http.Headers;
using Kcm.Testing;
using static Kcm.ApiServer.Tests.Http;

namespace Kcm.ApiServer.Tests.Auth;

public sealed class AnonymousTests(AnonymousServerFixture fixture) : IClassFixture<AnonymousServerFixture>
{
    [EmbeddedOnlyFact("the fixture starts the server with --anonymous-auth=true; CI's cluster runs with it off", Timeout = 30000)]
    public async Task NoCredentials_AnonymousEnabled_PublicInfoServedAndResourcesForbidden()
    {
        using var client = fixture.NewHttpClient(withCredentials: false);
        Assert.Equal(HttpStatusCode.OK, (await GetAsync(client, "/version")).Code);
        var (code, body) = await GetAsync(client, "/api/v1/pods");
        Assert.Equal(HttpStatusCode.Forbidden, code);
        Assert.Equal(Canon("""{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"pods is forbidden: User \"system:anonymous\" cannot list resource \"pods\" in API group \"\" at the cluster scope","reason":"Forbidden","details":{"kind":"pods"},"code":403}"""),
            body!.ToJsonString());
        (code, body) = await GetAsync(client, "/apis");
        Assert.Equal(HttpStatusCode.Forbidden, code);
        Assert.Equal("forbidden: User \"system:anonymous\" cannot get path \"/apis\"", Str(body!["message"]));
    }

    [EmbeddedOnlyFact("the fixture starts the server with --anonymous-auth=true; CI's cluster runs with it off", Timeout = 30000)]
    public async Task InvalidToken_AnonymousEnabled_Unauthorized()
    {
        using var client = fixture.NewHttpClient(withCredentials: false);
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", "bogus");
        Assert.Equal(HttpStatusCode.Unauthorized, (await GetAsync(client, "/version")).Code);
    }
}

using System.Net;
using System.Text.Json.Nodes;
using static Kcm.ApiServer.Tests.Http;

namespace Kcm.ApiServer.Tests;

[Collection(ServerCollection.Name)]
public sealed class MediaTypeTests(ApiServerFixture fixture)
{
    private readonly HttpClient _client = fixture.HttpClient;

    // kubectl's typed commands send protobuf (see Kubectl/); a truncated envelope is a 400 and stores nothing.
    [Fact(Timeout = 30000)]
    public async Task Create_TruncatedProtobufBody_400BadRequestAndNothingStored()
    {
        var ns = await CreateNamespaceAsync(_client);
        using var content = new ByteArrayContent([0x6b, 0x38, 0x73, 0x00, 0x0a, 0x0f]);
        content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/vnd.kubernetes.protobuf");
        var response = await _client.PostAsync($"/api/v1/namespaces/{ns}/configmaps", content);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var status = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
        Assert.Equal("BadRequest", Str(status["reason"]));
        // Upstream: "the object provided is unrecognized (must be of type ConfigMap): unexpected EOF (6b3873000a0f)"; the embedded server says only "unexpected EOF".
        Assert.Contains("unexpected EOF", Str(status["message"]));
        var (_, list) = await GetAsync(_client, $"/api/v1/namespaces/{ns}/configmaps");
        Assert.Empty(list!["items"]!.AsArray());
    }
}

using System.Net;
using System.Text.Json.Nodes;
using Kcm.Api.Apps.V1;
using Kcm.Client.Tests.Support;

namespace Kcm.Client.Tests;

/// <summary>
/// Fields a newer server sends that our types do not know survive a typed read-modify-write. A stub plays the newer
/// server: a v1.26 apiserver (and the embedded one) drops unknown fields of built-in kinds, so it cannot.
/// </summary>
public sealed class UnknownFieldsTests
{
    [Fact(Timeout = 30_000)]
    public async Task UnknownFields_SurviveTypedReadModifyWrite()
    {
        const string stored = """
            {"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"future","namespace":"ns","resourceVersion":"7","labels":{"a":"b"}},
             "spec":{"selector":{"matchLabels":{"a":"b"}},"futureSpecField":{"nested":[1,2,3]},
                     "template":{"metadata":{"labels":{"a":"b"}},"spec":{"containers":[{"name":"c","image":"nginx","futureContainerField":"x"}]}}}}
            """;
        var handler = new StubHandler()
            .Respond(HttpStatusCode.OK, stored)
            .Respond(r => StubHandler.Response(HttpStatusCode.OK, r.Body!));
        using var client = TestClients.Create(handler);

        var typed = await client.GetAsync<Deployment>("ns", "future");
        typed.Metadata!.Labels!["touched"] = "yes";
        await client.UpdateAsync(typed);

        var put = handler.Requests[1];
        Assert.Equal(HttpMethod.Put, put.Method);
        Assert.Equal("/apis/apps/v1/namespaces/ns/deployments/future", put.Uri.AbsolutePath);
        var sent = JsonNode.Parse(put.Body!)!;
        Assert.Equal("yes", sent["metadata"]!["labels"]!["touched"]!.GetValue<string>());
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse("""{"nested":[1,2,3]}"""), sent["spec"]!["futureSpecField"]));
        Assert.Equal("x", sent["spec"]!["template"]!["spec"]!["containers"]![0]!["futureContainerField"]!.GetValue<string>());
    }
}

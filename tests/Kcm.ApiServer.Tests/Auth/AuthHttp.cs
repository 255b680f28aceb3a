using System.Net;
using System.Text.Json.Nodes;
using static Kcm.ApiServer.Tests.Http;

namespace Kcm.ApiServer.Tests.Auth;

internal static class AuthHttp
{
    public static async Task<JsonNode> TokenReviewAsync(HttpClient admin, string token, params string[] audiences)
    {
        var spec = new JsonObject { ["token"] = token };
        if (audiences.Length > 0) spec["audiences"] = new JsonArray(audiences.Select(a => (JsonNode?)a).ToArray());
        var body = new JsonObject { ["apiVersion"] = "authentication.k8s.io/v1", ["kind"] = "TokenReview", ["spec"] = spec };
        var (code, response) = await PostAsync(admin, "/apis/authentication.k8s.io/v1/tokenreviews", body.ToJsonString());
        Assert.Equal(HttpStatusCode.Created, code);
        return response!["status"]!;
    }

    public static async Task<JsonNode> SubjectAccessReviewAsync(HttpClient admin, string user, string[] groups, string verb, string resource,
        string ns = "", string group = "", string name = "", string subresource = "")
    {
        var body = new JsonObject
        {
            ["apiVersion"] = "authorization.k8s.io/v1",
            ["kind"] = "SubjectAccessReview",
            ["spec"] = new JsonObject
            {
                ["user"] = user,
                ["groups"] = new JsonArray(groups.Select(g => (JsonNode?)g).ToArray()),
                ["resourceAttributes"] = new JsonObject
                {
                    ["verb"] = verb, ["resource"] = resource, ["namespace"] = ns, ["group"] = group, ["name"] = name, ["subresource"] = subresource,
                },
            },
        };
        var (code, response) = await PostAsync(admin, "/apis/authorization.k8s.io/v1/subjectaccessreviews", body.ToJsonString());
        Assert.Equal(HttpStatusCode.Created, code);
        return response!["status"]!;
    }

    public static async Task<string> CreateServiceAccountAsync(HttpClient admin, string ns, string name)
    {
        var (code, body) = await PostAsync(admin, $"/api/v1/namespaces/{ns}/serviceaccounts",
            $$$"""{"apiVersion":"v1","kind":"ServiceAccount","metadata":{"name":"{{{name}}}"}}""");
        Assert.Equal(HttpStatusCode.Created, code);
        return Str(body!["metadata"]!["uid"]);
    }

    public static async Task<JsonNode> RequestTokenAsync(HttpClient admin, string ns, string sa, string specJson = "{}")
    {
        var (code, body) = await PostAsync(admin, $"/api/v1/namespaces/{ns}/serviceaccounts/{sa}/token",
            $$"""{"apiVersion":"authentication.k8s.io/v1","kind":"TokenRequest","spec":{{specJson}}}""");
        Assert.True(code == HttpStatusCode.Created, body?.ToJsonString());
        return body!;
    }

    public static async Task CreateAsync(HttpClient admin, string path, string json)
    {
        var (code, body) = await PostAsync(admin, path, json);
        Assert.True(code == HttpStatusCode.Created, $"{code}: {body?.ToJsonString()}");
    }

    public static string[] Strings(JsonNode? node) => node is JsonArray a ? a.Select(Str).ToArray() : [];
}

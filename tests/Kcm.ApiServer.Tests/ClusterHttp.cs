using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using Kcm.Client.Config;
using Kcm.Client.Transport;
using Kcm.Testing;

namespace Kcm.ApiServer.Tests;

/// <summary>A raw HttpClient for whichever server the fixture points at (the embedded one, or the KCM_TEST_KUBECONFIG cluster).</summary>
internal static class ClusterHttp
{
    private static readonly ConcurrentDictionary<string, HttpClient> External = new();

    public static HttpClient For(EmbeddedServerFixture fixture)
    {
        if (!fixture.UsesExternalCluster) return fixture.HttpClient;
        return External.GetOrAdd(fixture.AdminKubeconfigPath, path =>
        {
            var config = KubeconfigLoader.LoadFromFile(path);
            return new HttpClient(KubeHttpHandlerFactory.Create(config)) { BaseAddress = config.Server, Timeout = TimeSpan.FromSeconds(60) };
        });
    }

    public sealed record Reply(HttpStatusCode Code, JsonNode? Body, string[] Warnings);

    /// <summary>Sends a request and keeps the Warning headers as well as the body.</summary>
    public static async Task<Reply> SendAsync(HttpClient client, HttpMethod method, string path, string? json = null,
        string contentType = "application/json")
    {
        using var request = new HttpRequestMessage(method, path);
        if (json is not null)
        {
            request.Content = new StringContent(json, Encoding.UTF8);
            request.Content.Headers.ContentType = new MediaTypeHeaderValue(contentType);
        }
        using var response = await client.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        var body = text.Length > 0 && text[0] == '{' ? JsonNode.Parse(text) : null;
        var warnings = response.Headers.TryGetValues("Warning", out var values) ? values.ToArray() : [];
        return new Reply(response.StatusCode, body, warnings);
    }

    /// <summary>A fresh namespace with its default ServiceAccount (the real server's admission needs it for pods).</summary>
    public static async Task<string> CreateNamespaceAsync(HttpClient client, bool withServiceAccount = false)
    {
        var ns = await Http.CreateNamespaceAsync(client);
        if (withServiceAccount)
        {
            var (code, _) = await Http.PostAsync(client, $"/api/v1/namespaces/{ns}/serviceaccounts",
                """{"apiVersion":"v1","kind":"ServiceAccount","metadata":{"name":"default"}}""");
            Assert.True(code is HttpStatusCode.Created or HttpStatusCode.Conflict, $"service account: {code}");
        }
        return ns;
    }
}

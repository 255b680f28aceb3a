using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;

namespace Kcm.ApiServer.Tests;

internal static class Http
{
    public static async Task<(HttpStatusCode Code, JsonNode? Body)> SendAsync(HttpClient client, HttpMethod method, string path,
        string? json = null, string contentType = "application/json", string? accept = null)
    {
        using var request = new HttpRequestMessage(method, path);
        if (accept is not null) request.Headers.TryAddWithoutValidation("Accept", accept);
        if (json is not null)
        {
            request.Content = new StringContent(json, Encoding.UTF8);
            request.Content.Headers.ContentType = new MediaTypeHeaderValue(contentType);
        }
        using var response = await client.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        JsonNode? body = null;
        if (text.Length > 0 && (text[0] == '{' || text[0] == '[')) body = JsonNode.Parse(text);
        return (response.StatusCode, body);
    }

    public static Task<(HttpStatusCode Code, JsonNode? Body)> GetAsync(HttpClient c, string path, string? accept = null)
        => SendAsync(c, HttpMethod.Get, path, accept: accept);

    public static Task<(HttpStatusCode Code, JsonNode? Body)> PostAsync(HttpClient c, string path, string json) => SendAsync(c, HttpMethod.Post, path, json);

    public static Task<(HttpStatusCode Code, JsonNode? Body)> PutAsync(HttpClient c, string path, JsonNode json) => SendAsync(c, HttpMethod.Put, path, json.ToJsonString());

    public static Task<(HttpStatusCode Code, JsonNode? Body)> DeleteAsync(HttpClient c, string path, string? json = null) => SendAsync(c, HttpMethod.Delete, path, json);

    /// <summary>The expected JSON re-encoded the way the actual body is printed, so comparisons keep member order.</summary>
    public static string Canon(string json) => JsonNode.Parse(json)!.ToJsonString();

    public static string Str(JsonNode? node) => node?.GetValue<string>() ?? "";

    /// <summary>A fresh namespace with its `default` ServiceAccount, which a real apiserver's admission requires before any pod.</summary>
    public static async Task<string> CreateNamespaceAsync(HttpClient c)
    {
        var name = "t-" + Guid.NewGuid().ToString("N")[..10];
        var (code, _) = await PostAsync(c, "/api/v1/namespaces", "{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":\"" + (name) + "\"}}");
        Assert.Equal(HttpStatusCode.Created, code);
        var (saCode, _) = await PostAsync(c, $"/api/v1/namespaces/{name}/serviceaccounts", """{"apiVersion":"v1","kind":"ServiceAccount","metadata":{"name":"default"}}""");
        Assert.True(saCode is HttpStatusCode.Created or HttpStatusCode.Conflict, $"{saCode}"); // Conflict: a serviceaccount controller was quicker
        return name;
    }

    /// <summary>Reads newline-delimited watch events until <paramref name="count"/> arrived or the stream ends.</summary>
    public static async Task<List<JsonNode>> ReadWatchAsync(HttpClient client, string path, int count, TimeSpan timeout, string? accept = null)
    {
        using var cts = new CancellationTokenSource(timeout);
        using var request = new HttpRequestMessage(HttpMethod.Get, path);
        if (accept is not null) request.Headers.TryAddWithoutValidation("Accept", accept);
        using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cts.Token);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        await using var stream = await response.Content.ReadAsStreamAsync(cts.Token);
        using var reader = new StreamReader(stream);
        var events = new List<JsonNode>();
        try
        {
            while (events.Count < count)
            {
                var line = await reader.ReadLineAsync(cts.Token);
                if (line is null) break;
                if (line.Length > 0) events.Add(JsonNode.Parse(line)!);
            }
        }
        catch (OperationCanceledException)
        {
        }
        return events;
    }
}

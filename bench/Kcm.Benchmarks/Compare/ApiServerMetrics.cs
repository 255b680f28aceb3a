using System.Collections.Concurrent;
using System.Globalization;
using Kcm.Client.Config;
using Kcm.Client.Transport;

namespace Kcm.Benchmarks.Compare;

/// <summary>
/// Requests the apiserver served, from its apiserver_request_total counter, by "VERB resource[/subresource]": writes and
/// reads (GET, LIST; watches are counted when they end, so they are left out). The counter has no client label, so the
/// harness counts its own (and the simulator's) requests on the client side and the controller manager's share is the
/// difference.
/// </summary>
internal sealed class ApiServerMetrics : IDisposable
{
    private static readonly HashSet<string> WriteVerbs = ["POST", "PUT", "PATCH", "DELETE", "DELETECOLLECTION", "APPLY"];
    private static readonly HashSet<string> ReadVerbs = ["GET", "LIST"];
    private readonly HttpClient _http;

    public ApiServerMetrics(string kubeconfig)
    {
        var config = KubeconfigLoader.LoadFromFile(kubeconfig);
        _http = new HttpClient(KubeHttpHandlerFactory.Create(config)) { BaseAddress = config.Server, Timeout = TimeSpan.FromSeconds(30) };
    }

    /// <summary>Whether a "VERB resource" key counts a write.</summary>
    public static bool IsWrite(string key) => WriteVerbs.Contains(key[..key.IndexOf(' ')]);

    public async Task<Dictionary<string, long>> RequestsAsync(CancellationToken ct)
    {
        var text = await _http.GetStringAsync("/metrics", ct);
        var requests = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var line in text.Split('\n'))
        {
            if (!line.StartsWith("apiserver_request_total{", StringComparison.Ordinal)) continue;
            var close = line.LastIndexOf('}');
            var labels = ParseLabels(line[24..close]);
            var verb = labels.GetValueOrDefault("verb", "");
            if (!WriteVerbs.Contains(verb) && !ReadVerbs.Contains(verb)) continue;
            // Non-resource paths (/metrics, /healthz) are the harness's own probes.
            var resource = labels.GetValueOrDefault("resource", "");
            if (resource.Length == 0) continue;
            var sub = labels.GetValueOrDefault("subresource", "");
            var key = $"{verb} {resource}{(sub.Length > 0 ? "/" + sub : "")}";
            var value = (long)double.Parse(line[(close + 1)..].Trim(), CultureInfo.InvariantCulture);
            requests[key] = requests.GetValueOrDefault(key) + value;
        }
        return requests;
    }

    private static Dictionary<string, string> ParseLabels(string text)
    {
        var labels = new Dictionary<string, string>(StringComparer.Ordinal);
        var i = 0;
        while (i < text.Length)
        {
            var eq = text.IndexOf('=', i);
            if (eq < 0) break;
            var name = text[i..eq].TrimStart(',');
            var end = eq + 2;
            while (end < text.Length && !(text[end] == '"' && text[end - 1] != '\\')) end++;
            labels[name] = text[(eq + 2)..end];
            i = end + 1;
        }
        return labels;
    }

    public void Dispose() => _http.Dispose();
}

/// <summary>Counts the requests that pass through a client (watches aside), by the same "VERB resource[/subresource]" keys.</summary>
internal sealed class CountingHandler(HttpMessageHandler inner) : DelegatingHandler(inner)
{
    private readonly ConcurrentDictionary<string, long> _requests = new(StringComparer.Ordinal);

    public IReadOnlyDictionary<string, long> Snapshot() => new Dictionary<string, long>(_requests);

    protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken ct)
    {
        var method = request.Method.Method;
        if (request.RequestUri is { } uri && Verb(method, request, uri) is { } verb)
        {
            _requests.AddOrUpdate($"{verb} {ResourceOf(uri.AbsolutePath)}", 1, (_, n) => n + 1);
        }
        return base.SendAsync(request, ct);
    }

    /// <summary>The apiserver's verb label: PATCH with an apply body is APPLY; a GET is GET, LIST or WATCH (null: not counted).</summary>
    private static string? Verb(string method, HttpRequestMessage request, Uri uri) => method switch
    {
        "PATCH" when request.Content?.Headers.ContentType?.MediaType == "application/apply-patch+yaml" => "APPLY",
        "POST" or "PUT" or "PATCH" or "DELETE" => method,
        "GET" when uri.Query.Contains("watch=true", StringComparison.Ordinal) || uri.Query.Contains("watch=1", StringComparison.Ordinal) => null,
        "GET" => NamesObject(uri.AbsolutePath) ? "GET" : "LIST",
        _ => null,
    };

    /// <summary>/api/v1/namespaces/ns/pods/name[/sub] and /api/v1/nodes/name name one object; .../pods and /api/v1/nodes do not.</summary>
    private static bool NamesObject(string path) => Rest(path).Length >= 2;

    private static string[] Rest(string path)
    {
        var parts = path.Trim('/').Split('/');
        var rest = parts.Length > 0 && parts[0] == "api" ? parts[2..] : parts.Length > 2 ? parts[3..] : [];
        if (rest.Length >= 2 && rest[0] == "namespaces" && rest.Length > 2) rest = rest[2..];
        return rest;
    }

    /// <summary>/api/v1/namespaces/ns/pods/name/status → pods/status; /apis/g/v/deployments → deployments.</summary>
    internal static string ResourceOf(string path)
    {
        var rest = Rest(path);
        return rest.Length switch
        {
            0 => "",
            1 or 2 => rest[0],
            _ => rest[0] + "/" + rest[2],
        };
    }
}

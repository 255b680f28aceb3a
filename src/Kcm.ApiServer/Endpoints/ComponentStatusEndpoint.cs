using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using System.Text.Json.Nodes;
using Kcm.ApiServer.Errors;
using Kcm.ApiServer.Printing;
using Kcm.ApiServer.Storage;
using Microsoft.AspNetCore.Http;

namespace Kcm.ApiServer.Endpoints;

/// <summary>
/// GET/LIST componentstatuses (deprecated since v1.19, still served by v1.26): nothing is stored; each request probes
/// every component's /healthz as upstream's componentstatus REST does (20 s timeout, TLS not verified) and reports one
/// Healthy condition: True on 2xx with the body as message, False with the HTTP or dial error otherwise.
/// This server has no etcd; "etcd-0" stands for its in-memory store and answers as a healthy etcd does.
/// </summary>
public sealed class ComponentStatusEndpoint : IDisposable
{
    private const string DeprecationWarning = "299 - \"v1 ComponentStatus is deprecated in v1.19+\"";
    private const string EtcdName = "etcd-0";
    private const string EtcdHealthBody = "{\"health\":\"true\"}";
    private const int MaxBodyBytes = 10 * 1024;
    private static readonly TimeSpan ProbeTimeout = TimeSpan.FromSeconds(20);

    private readonly IReadOnlyList<KeyValuePair<string, Uri>> _targets;
    private readonly HttpClient _client;

    public ComponentStatusEndpoint(IEnumerable<KeyValuePair<string, Uri>> targets)
    {
        _targets = [.. targets];
        var handler = new SocketsHttpHandler
        {
            AllowAutoRedirect = true,
            UseProxy = false,
            // Upstream probes the components' serving certificates without verifying them.
            SslOptions = { RemoteCertificateValidationCallback = (_, _, _, _) => true },
        };
        _client = new HttpClient(handler) { Timeout = Timeout.InfiniteTimeSpan };
        _client.DefaultRequestHeaders.UserAgent.ParseAdd("kube-probe/1.26");
    }

    public static bool Handles(ResourceRequest req) => req.Group.Length == 0 && req.Resource == "componentstatuses";

    public async Task<bool> TryHandleAsync(HttpContext ctx, ResourceRequest req, string verb)
    {
        if (!Handles(req)) return false;
        if (verb is not ("get" or "list")) throw ApiException.MethodNotAllowed();
        var conversion = ResponseConversion.Negotiate(ctx);
        ctx.Response.Headers.Append("Warning", DeprecationWarning);
        if (verb == "get")
        {
            var status = await ProbeAsync(req.Name, ctx.RequestAborted)
                ?? throw new ApiException(500, "", $"Component not found: {req.Name}");
            if (conversion.Kind == ConversionKind.Table)
            {
                await WriteTableAsync(ctx, conversion, [status]);
                return true;
            }
            await ResponseWriter.WriteJsonAsync(ctx, 200, Render(status));
            return true;
        }
        var probes = await Task.WhenAll(_targets.Select(t => t.Key).Append(EtcdName).Select(n => ProbeAsync(n, ctx.RequestAborted)));
        var filter = ResourceHandler.BuildFilter(ctx.Request.Query, req);
        var selected = probes.OfType<JsonObject>().Where(s => filter.Matches(ToStored(s))).ToList();
        if (conversion.Kind == ConversionKind.Table)
        {
            await WriteTableAsync(ctx, conversion, selected);
            return true;
        }
        await ResponseWriter.WriteJsonAsync(ctx, 200, ResponseWriter.Render(w =>
        {
            w.WriteStartObject();
            w.WriteString("kind", "ComponentStatusList");
            w.WriteString("apiVersion", "v1");
            w.WriteStartObject("metadata");
            w.WriteEndObject();
            w.WriteStartArray("items");
            foreach (var s in selected)
            {
                var item = (JsonObject)s.DeepClone();
                item.Remove("kind");
                item.Remove("apiVersion");
                item.WriteTo(w);
            }
            w.WriteEndArray();
            w.WriteEndObject();
        }));
        return true;
    }

    private static Task WriteTableAsync(HttpContext ctx, ResponseConversion conversion, IReadOnlyList<JsonObject> statuses)
        => ResponseWriter.WriteJsonAsync(ctx, 200, TableWriter.Render(conversion.Version, "", "componentstatuses",
            statuses.Select(ToStored).ToList(), "", null, null, DateTimeOffset.UtcNow, ctx.Request.Query["includeObject"].ToString() == "Object"));

    private static StoredObject ToStored(JsonObject status)
        => ObjectEncoder.Encode(status, "ComponentStatus", "v1", "", status["metadata"]!["name"]!.GetValue<string>(), "",
            _ => new Dictionary<string, string>());

    private static byte[] Render(JsonObject status) => ResponseWriter.Render(w => status.WriteTo(w));

    /// <summary>The ComponentStatus of one component, or null when there is no such component.</summary>
    public async Task<JsonObject?> ProbeAsync(string name, CancellationToken ct)
    {
        if (name == EtcdName) return Status(name, "True", EtcdHealthBody, "");
        var target = _targets.FirstOrDefault(t => t.Key == name).Value;
        if (target is null) return null;
        var (result, message) = await ProbeUrlAsync(target, ct);
        return Status(name, result, message, "");
    }

    private async Task<(string Status, string Message)> ProbeUrlAsync(Uri url, CancellationToken ct)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(ProbeTimeout);
        try
        {
            using var response = await _client.GetAsync(url, HttpCompletionOption.ResponseHeadersRead, timeout.Token);
            var code = (int)response.StatusCode;
            if (code is >= 200 and < 400)
            {
                var body = await ReadAtMostAsync(response, timeout.Token);
                // A redirect left unfollowed counts as a warning upstream, which maps to Unknown.
                return code >= 300 ? ("Unknown", $"Probe terminated redirects, Response body: {body}") : ("True", body);
            }
            return ("False", $"HTTP probe failed with statuscode: {code}");
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            return ("False", $"Get \"{url}\": context deadline exceeded (Client.Timeout exceeded while awaiting headers)");
        }
        catch (HttpRequestException e)
        {
            return ("False", $"Get \"{url}\": {GoStyleError(url, e)}");
        }
    }

    private static string GoStyleError(Uri url, HttpRequestException e)
    {
        if (e.InnerException is SocketException socket)
        {
            var endpoint = $"{url.Host}:{url.Port}";
            return socket.SocketErrorCode switch
            {
                SocketError.ConnectionRefused => $"dial tcp {endpoint}: connect: connection refused",
                SocketError.HostNotFound => $"dial tcp: lookup {url.Host}: no such host",
                _ => $"dial tcp {endpoint}: {socket.Message}",
            };
        }
        return e.InnerException?.Message ?? e.Message;
    }

    private static async Task<string> ReadAtMostAsync(HttpResponseMessage response, CancellationToken ct)
    {
        await using var stream = await response.Content.ReadAsStreamAsync(ct);
        var buffer = new byte[MaxBodyBytes];
        var total = 0;
        int read;
        while (total < buffer.Length && (read = await stream.ReadAsync(buffer.AsMemory(total), ct)) > 0) total += read;
        return System.Text.Encoding.UTF8.GetString(buffer, 0, total);
    }

    private static JsonObject Status(string name, string status, string message, string error)
    {
        var condition = new JsonObject { ["type"] = "Healthy", ["status"] = status };
        if (message.Length > 0) condition["message"] = message;
        if (error.Length > 0) condition["error"] = error;
        return new JsonObject
        {
            ["kind"] = "ComponentStatus",
            ["apiVersion"] = "v1",
            ["metadata"] = new JsonObject { ["name"] = name, ["creationTimestamp"] = null },
            ["conditions"] = new JsonArray(condition),
        };
    }

    public void Dispose() => _client.Dispose();
}

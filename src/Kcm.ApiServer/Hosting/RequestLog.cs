using System.Collections.Concurrent;
using Kcm.ApiServer.Endpoints;
using Microsoft.AspNetCore.Http;

namespace Kcm.ApiServer.Hosting;

/// <summary>One row of the request log: how many requests of this shape were answered with this code.</summary>
/// <param name="Component">The user agent's product (before the first '/'), e.g. "kube-controller-manager".</param>
/// <param name="Client">
/// The suffix client-go's per-controller clients append to the user agent (after its last '/'), e.g.
/// "replicaset-controller"; empty for a user agent of the plain "product/version (os/arch) kubernetes/commit" shape.
/// </param>
public sealed record RequestCount(string Component, string Client, string Verb, string Group, string Resource, string Subresource, int Code, long Count);

/// <summary>
/// Counts requests by component, verb, resource and response code, as the real server's apiserver_request_total
/// does; benchmarks read it to learn exactly which writes a controller manager issued.
/// </summary>
public sealed class RequestLog
{
    private readonly ConcurrentDictionary<(string Component, string Client, string Verb, string Group, string Resource, string Subresource, int Code), long> _counts = new();

    internal async Task InvokeAsync(HttpContext ctx, RequestDelegate next)
    {
        try
        {
            await next(ctx);
        }
        finally
        {
            Record(ctx);
        }
    }

    private void Record(HttpContext ctx)
    {
        var segments = (ctx.Request.Path.Value ?? "/").Split('/', StringSplitOptions.RemoveEmptyEntries);
        ResourceRequest? req;
        try
        {
            req = ResourceRequest.Parse(segments);
        }
        catch (Errors.ApiException)
        {
            req = null;
        }
        var userAgent = ctx.Request.Headers.UserAgent.ToString();
        var parts = userAgent.Split('/');
        var component = parts[0];
        var client = parts.Length > 4 ? parts[^1] : "";
        var watch = req is { WatchPath: true } || ctx.Request.Query["watch"].ToString() is "true" or "1";
        var verb = ctx.Request.Method switch
        {
            "GET" when watch => "WATCH",
            "GET" when req is { Name.Length: 0 } => "LIST",
            "DELETE" when req is { Name.Length: 0 } => "DELETECOLLECTION",
            var m => m,
        };
        var key = (component, client, verb, req?.Group ?? "", req?.Resource ?? "", req?.Subresource ?? "", ctx.Response.StatusCode);
        _counts.AddOrUpdate(key, 1, (_, n) => n + 1);
    }

    public IReadOnlyList<RequestCount> Snapshot()
        => [.. _counts.Select(kv => new RequestCount(kv.Key.Component, kv.Key.Client, kv.Key.Verb, kv.Key.Group, kv.Key.Resource, kv.Key.Subresource, kv.Key.Code, kv.Value))];

    public void Reset() => _counts.Clear();
}

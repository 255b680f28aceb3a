using System.Collections.Concurrent;
using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json.Nodes;
using Kcm.ApiServer.Authentication;
using Kcm.ApiServer.Authorization;
using Kcm.ApiServer.Errors;
using Kcm.ApiServer.Storage;
using Microsoft.AspNetCore.Http;

namespace Kcm.ApiServer.Endpoints;

/// <summary>
/// kube-aggregator's proxy, reduced to what aggregated APIs such as metrics.k8s.io need: an APIService with a
/// <c>spec.service</c> takes over /apis/&lt;group&gt;/&lt;version&gt;/...; requests there are authorized like any
/// other, then forwarded to the Service's endpoint (as with --enable-aggregator-routing=true) over TLS checked
/// against the APIService's caBundle for the name &lt;service&gt;.&lt;namespace&gt;.svc, carrying the user in the
/// front-proxy headers X-Remote-User/X-Remote-Group. /apis and /apis/&lt;group&gt; list the aggregated groups.
/// </summary>
public sealed class AggregatedApiProxy(ObjectStore store, IAuthorizer authorizer, DiscoveryDocuments discovery)
{
    private static readonly HashSet<string> HopHeaders = new(StringComparer.OrdinalIgnoreCase)
    {
        "Connection", "Keep-Alive", "Transfer-Encoding", "Upgrade", "Proxy-Connection", "TE", "Trailer", "Content-Length",
    };

    private readonly ConcurrentDictionary<string, HttpClient> _clients = new(StringComparer.Ordinal);

    /// <summary>Serves the request when it belongs to an aggregated API; false otherwise.</summary>
    public async Task<bool> TryHandleAsync(HttpContext ctx, string[] segments, UserInfo user, byte[]? body)
    {
        if (segments.Length == 0 || segments[0] != "apis") return false;
        var services = AggregatedServices();
        if (services.Count == 0) return false;
        if (segments.Length == 1)
        {
            await AuthorizeAsync(ctx, user, NonResource(ctx, user));
            await ResponseWriter.WriteJsonAsync(ctx, 200, MergedGroupList(services));
            return true;
        }
        var group = segments[1];
        var versions = services.Where(s => s.Group == group).ToList();
        if (versions.Count == 0) return false;
        if (segments.Length == 2)
        {
            await AuthorizeAsync(ctx, user, NonResource(ctx, user));
            await ResponseWriter.WriteJsonAsync(ctx, 200, System.Text.Encoding.UTF8.GetBytes(GroupDocument(group, versions).ToJsonString()));
            return true;
        }
        var service = versions.FirstOrDefault(s => s.Version == segments[2]);
        if (service is null) return false;
        await AuthorizeAsync(ctx, user, segments.Length == 3 ? NonResource(ctx, user) : Resource(ctx, user, segments));
        await ProxyAsync(ctx, service, user, body);
        return true;
    }

    private sealed record AggregatedService(string Group, string Version, int GroupPriority, int VersionPriority, string Namespace, string Name, int Port,
        byte[]? CaBundle, bool InsecureSkipTlsVerify);

    // Parsed once per change of the APIService collection (its item dictionary is immutable).
    private sealed record Parsed(object Items, List<AggregatedService> Services);

    private Parsed? _parsed;

    private List<AggregatedService> AggregatedServices()
    {
        var items = store.Find("apiregistration.k8s.io", "apiservices")?.Items;
        var parsed = Volatile.Read(ref _parsed);
        if (items is null || items.IsEmpty) return [];
        if (parsed is not null && ReferenceEquals(parsed.Items, items)) return parsed.Services;
        var result = new List<AggregatedService>();
        foreach (var stored in items.Values)
        {
            if (JsonNode.Parse(stored.Json)?["spec"] is not JsonObject spec || spec["service"] is not JsonObject svc) continue;
            var ca = spec["caBundle"]?.GetValue<string>() is { Length: > 0 } b64 ? Convert.FromBase64String(b64) : null;
            result.Add(new AggregatedService(
                spec["group"]?.GetValue<string>() ?? "", spec["version"]?.GetValue<string>() ?? "",
                spec["groupPriorityMinimum"]?.GetValue<int>() ?? 0, spec["versionPriority"]?.GetValue<int>() ?? 0,
                svc["namespace"]?.GetValue<string>() ?? "", svc["name"]?.GetValue<string>() ?? "", svc["port"]?.GetValue<int>() ?? 443,
                ca, spec["insecureSkipTLSVerify"]?.GetValue<bool>() ?? false));
        }
        Volatile.Write(ref _parsed, new Parsed(items, result));
        return result;
    }

    private byte[] MergedGroupList(List<AggregatedService> services)
    {
        var list = JsonNode.Parse(discovery.ApiGroupList)!.AsObject();
        var groups = list["groups"] as JsonArray ?? [];
        foreach (var group in services.GroupBy(s => s.Group).OrderByDescending(g => g.Max(s => s.GroupPriority)))
        {
            if (groups.Any(g => g?["name"]?.GetValue<string>() == group.Key)) continue;
            var doc = GroupDocument(group.Key, [.. group]);
            doc.Remove("kind");
            doc.Remove("apiVersion");
            groups.Add((JsonNode)doc);
        }
        list["groups"] = groups;
        return System.Text.Encoding.UTF8.GetBytes(list.ToJsonString());
    }

    private static JsonObject GroupDocument(string group, List<AggregatedService> versions)
    {
        var ordered = versions.OrderByDescending(v => v.VersionPriority).ThenBy(v => v.Version, StringComparer.Ordinal).ToList();
        JsonObject Version(AggregatedService v) => new() { ["groupVersion"] = $"{group}/{v.Version}", ["version"] = v.Version };
        return new JsonObject
        {
            ["kind"] = "APIGroup",
            ["apiVersion"] = "v1",
            ["name"] = group,
            ["versions"] = new JsonArray([.. ordered.Select(Version)]),
            ["preferredVersion"] = Version(ordered[0]),
        };
    }

    private static AuthorizationAttributes NonResource(HttpContext ctx, UserInfo user)
        => new(user, ctx.Request.Method is "GET" or "HEAD" ? "get" : ctx.Request.Method.ToLowerInvariant(), false, ctx.Request.Path.Value ?? "/", "", "", "", "", "", "");

    /// <summary>/apis/g/v/[namespaces/ns/]resource[/name[/subresource]], as upstream's RequestInfoFactory reads it.</summary>
    private static AuthorizationAttributes Resource(HttpContext ctx, UserInfo user, string[] segments)
    {
        var rest = segments[3..];
        var ns = "";
        if (rest.Length >= 2 && rest[0] == "namespaces" && rest.Length > 2)
        {
            ns = rest[1];
            rest = rest[2..];
        }
        var resource = rest.ElementAtOrDefault(0) ?? "";
        var name = rest.ElementAtOrDefault(1) ?? "";
        var subresource = rest.ElementAtOrDefault(2) ?? "";
        var verb = ctx.Request.Method switch
        {
            "GET" or "HEAD" => name.Length > 0 ? "get" : ctx.Request.Query["watch"].ToString() is "true" or "1" ? "watch" : "list",
            "POST" => "create",
            "PUT" => "update",
            "PATCH" => "patch",
            "DELETE" => name.Length > 0 ? "delete" : "deletecollection",
            _ => ctx.Request.Method.ToLowerInvariant(),
        };
        return new AuthorizationAttributes(user, verb, true, ctx.Request.Path.Value ?? "/", segments[1], segments[2], resource, subresource, ns, name);
    }

    private async Task AuthorizeAsync(HttpContext ctx, UserInfo user, AuthorizationAttributes attributes)
    {
        var decision = await authorizer.AuthorizeAsync(attributes, ctx.RequestAborted);
        if (decision.Decision == AuthorizationDecision.Allow) return;
        if (!attributes.IsResourceRequest)
        {
            throw new ApiException(403, "Forbidden", $"forbidden: User \"{user.Name}\" cannot get path \"{ctx.Request.Path.Value}\"", emptyDetails: true);
        }
        var scope = attributes.Namespace.Length > 0 ? $"in the namespace \"{attributes.Namespace}\"" : "at the cluster scope";
        var resource = attributes.Subresource.Length > 0 ? $"{attributes.Resource}/{attributes.Subresource}" : attributes.Resource;
        throw new ApiException(403, "Forbidden",
            $"{attributes.Resource}.{attributes.ApiGroup}{(attributes.Name.Length > 0 ? $" \"{attributes.Name}\"" : "")} is forbidden: User \"{user.Name}\" cannot {attributes.Verb} resource \"{resource}\" in API group \"{attributes.ApiGroup}\" {scope}",
            attributes.Name.Length > 0 ? attributes.Name : null, attributes.ApiGroup, attributes.Resource);
    }

    private async Task ProxyAsync(HttpContext ctx, AggregatedService service, UserInfo user, byte[]? body)
    {
        var (host, port) = ResolveEndpoint(service);
        var serverName = $"{service.Name}.{service.Namespace}.svc";
        var client = _clients.GetOrAdd($"{serverName}|{Convert.ToBase64String(service.CaBundle ?? [])}|{service.InsecureSkipTlsVerify}", _ => NewClient(service, serverName));
        var target = new UriBuilder("https", host, port) { Path = ctx.Request.Path.Value ?? "/", Query = ctx.Request.QueryString.Value ?? "" }.Uri;
        using var request = new HttpRequestMessage(new HttpMethod(ctx.Request.Method), target);
        foreach (var header in ctx.Request.Headers)
        {
            if (HopHeaders.Contains(header.Key) || header.Key.StartsWith("X-Remote-", StringComparison.OrdinalIgnoreCase)
                || header.Key is "Authorization" or "Host" || header.Key.StartsWith(':')) continue;
            request.Headers.TryAddWithoutValidation(header.Key, header.Value.ToArray());
        }
        request.Headers.TryAddWithoutValidation("X-Remote-User", user.Name);
        foreach (var group in user.Groups) request.Headers.TryAddWithoutValidation("X-Remote-Group", group);
        if (body is not null)
        {
            request.Content = new ByteArrayContent(body);
            if (ctx.Request.ContentType is { Length: > 0 } contentType) request.Content.Headers.TryAddWithoutValidation("Content-Type", contentType);
        }
        HttpResponseMessage response;
        try
        {
            response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, ctx.RequestAborted);
        }
        catch (HttpRequestException e)
        {
            throw new ApiException(503, "ServiceUnavailable", $"error trying to reach service: {e.Message}");
        }
        using (response)
        {
            ctx.Response.StatusCode = (int)response.StatusCode;
            foreach (var header in response.Headers.Concat(response.Content.Headers))
            {
                if (!HopHeaders.Contains(header.Key)) ctx.Response.Headers[header.Key] = header.Value.ToArray();
            }
            await response.Content.CopyToAsync(ctx.Response.Body, ctx.RequestAborted);
        }
    }

    /// <summary>The Service's port named by the APIService, mapped to the matching port of the first ready endpoint address.</summary>
    private (string Host, int Port) ResolveEndpoint(AggregatedService service)
    {
        var key = StoredObject.MakeKey(service.Namespace, service.Name);
        if (store.Find("", "services")?.Get(key) is not { } svc)
        {
            throw new ApiException(503, "ServiceUnavailable", $"service \"{service.Name}\" not found");
        }
        var servicePort = (JsonNode.Parse(svc.Json)?["spec"]?["ports"] as JsonArray ?? [])
            .OfType<JsonObject>().FirstOrDefault(p => (p["port"]?.GetValue<int>() ?? 0) == service.Port)
            ?? throw new ApiException(503, "ServiceUnavailable", $"no service port {service.Port} found for service \"{service.Name}\"");
        var portName = servicePort["name"]?.GetValue<string>() ?? "";
        var endpoints = store.Find("", "endpoints")?.Get(key) is { } stored ? JsonNode.Parse(stored.Json) : null;
        foreach (var subset in (endpoints?["subsets"] as JsonArray ?? []).OfType<JsonObject>())
        {
            var address = (subset["addresses"] as JsonArray ?? []).OfType<JsonObject>().Select(a => a["ip"]?.GetValue<string>()).FirstOrDefault(ip => ip is { Length: > 0 });
            var port = (subset["ports"] as JsonArray ?? []).OfType<JsonObject>().FirstOrDefault(p => (p["name"]?.GetValue<string>() ?? "") == portName);
            if (address is not null && port?["port"]?.GetValue<int>() is { } number)
            {
                return (address.Contains(':') ? $"[{address}]" : address, number);
            }
        }
        throw new ApiException(503, "ServiceUnavailable", $"no endpoints available for service \"{service.Name}\"");
    }

    private static HttpClient NewClient(AggregatedService service, string serverName)
    {
        var roots = new X509Certificate2Collection();
        if (service.CaBundle is { Length: > 0 } pem) roots.ImportFromPem(System.Text.Encoding.ASCII.GetString(pem));
        var handler = new SocketsHttpHandler
        {
            PooledConnectionLifetime = TimeSpan.FromMinutes(5),
            SslOptions = new SslClientAuthenticationOptions
            {
                TargetHost = serverName,
                RemoteCertificateValidationCallback = (_, certificate, _, errors) =>
                {
                    if (service.InsecureSkipTlsVerify) return true;
                    if (certificate is null || roots.Count == 0) return false;
                    // The endpoint is dialed by IP; the name checked is the Service's DNS name, as kube-aggregator does.
                    using var chain = new X509Chain();
                    chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
                    chain.ChainPolicy.CustomTrustStore.AddRange(roots);
                    chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
                    var leaf = certificate as X509Certificate2 ?? X509CertificateLoader.LoadCertificate(certificate.GetRawCertData());
                    return chain.Build(leaf) && leaf.MatchesHostname(serverName);
                },
            },
        };
        return new HttpClient(handler) { Timeout = TimeSpan.FromSeconds(30) };
    }
}

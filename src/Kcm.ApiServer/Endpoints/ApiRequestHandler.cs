using Kcm.ApiServer.Authentication;
using Kcm.ApiServer.Authorization;
using Kcm.ApiServer.Endpoints.OpenApi;
using Kcm.ApiServer.Errors;
using Kcm.Api.Protobuf;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Kcm.ApiServer.Endpoints;

/// <summary>
/// The request pipeline: body limit, authentication, non-resource paths (discovery, health, version),
/// then authorization and the resource verbs. Every failure is answered with a Status body.
/// </summary>
public sealed class ApiRequestHandler(
    IAuthenticator authenticator,
    IAuthorizer authorizer,
    DiscoveryDocuments discovery,
    ResourceHandler resources,
    Func<HttpContext, string> serverAddress,
    ILogger logger,
    AuthApis.AuthApiHandler? authApis = null,
    ComponentStatusEndpoint? componentStatuses = null,
    AggregatedApiProxy? aggregatedApis = null,
    CustomResources.CustomResourceRegistry? customResources = null)
{
    /// <summary>Upstream's limit for request bodies (3 MiB).</summary>
    public const long MaxRequestBodyBytes = 3 * 1024 * 1024;

    public async Task HandleAsync(HttpContext ctx)
    {
        try
        {
            await HandleCoreAsync(ctx);
        }
        catch (ApiException e)
        {
            if (!ctx.Response.HasStarted) await ResponseWriter.WriteErrorAsync(ctx, e);
        }
        catch (OperationCanceledException) when (ctx.RequestAborted.IsCancellationRequested)
        {
            // Client went away.
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            logger.LogError(e, "Unhandled error serving {Method} {Path}", ctx.Request.Method, ctx.Request.Path);
            if (!ctx.Response.HasStarted) await ResponseWriter.WriteErrorAsync(ctx, ApiException.InternalError(e.Message));
        }
    }

    private async Task HandleCoreAsync(HttpContext ctx)
    {
        var user = await authenticator.AuthenticateAsync(ctx, ctx.RequestAborted) ?? throw ApiException.Unauthorized();
        var body = await ReadBodyAsync(ctx);
        var path = ctx.Request.Path.Value ?? "/";
        var segments = path.Split('/', StringSplitOptions.RemoveEmptyEntries);
        var method = ctx.Request.Method;

        if (aggregatedApis is not null && await aggregatedApis.TryHandleAsync(ctx, segments, user, body)) return;
        if (await TryServeNonResourceAsync(ctx, segments, method, user)) return;

        var req = ResourceRequest.Parse(segments) ?? customResources?.Parse(segments) ?? throw ApiException.PathNotFound();
        var verb = VerbOf(ctx, req, method);
        var allowed = (req.SubresourceEntry ?? req.Entry).Verbs;
        if (!allowed.Contains(verb)) throw ApiException.MethodNotAllowed();
        await AuthorizeAsync(ctx, user, verb, req, path);
        if (authApis is not null && await authApis.TryHandleAsync(ctx, req, verb, body, user)) return;
        if (componentStatuses is not null && await componentStatuses.TryHandleAsync(ctx, req, verb)) return;
        await resources.HandleAsync(ctx, req, verb, body, user);
    }

    private static string VerbOf(HttpContext ctx, ResourceRequest req, string method)
    {
        var watchParam = ctx.Request.Query["watch"].ToString() is "true" or "1" or "t" or "True" or "TRUE";
        return method switch
        {
            "GET" when req.WatchPath || watchParam => req.Subresource.Length == 0 ? "watch" : throw ApiException.MethodNotAllowed(),
            "GET" => req.Name.Length > 0 ? "get" : "list",
            "POST" => "create",
            "PUT" when req.Name.Length > 0 => "update",
            "PATCH" when req.Name.Length > 0 => "patch",
            "DELETE" => req.Name.Length > 0 ? "delete" : "deletecollection",
            _ => throw ApiException.MethodNotAllowed(),
        };
    }

    private async Task AuthorizeAsync(HttpContext ctx, UserInfo user, string verb, ResourceRequest req, string path)
    {
        var name = req.Name;
        if (name.Length == 0 && verb is "list" or "watch")
        {
            // As upstream's RequestInfoFactory: a list/watch of exactly one name (fieldSelector metadata.name=X) is authorized for that name.
            name = NameFromFieldSelector(ctx.Request.Query["fieldSelector"].ToString());
        }
        var attributes = new AuthorizationAttributes(user, verb, true, path, req.Group, req.Version, req.Resource, req.Subresource,
            req.Namespace, name);
        var result = await authorizer.AuthorizeAsync(attributes, ctx.RequestAborted);
        if (result.Decision != AuthorizationDecision.Allow)
        {
            var scope = req.Namespace.Length > 0 ? $"in the namespace \"{req.Namespace}\"" : "at the cluster scope";
            var resource = req.Subresource.Length > 0 ? $"{req.Resource}/{req.Subresource}" : req.Resource;
            var message = $"{ApiException.Qualified(req.Group, req.Resource)}{(req.Name.Length > 0 ? $" \"{req.Name}\"" : "")} is forbidden: User \"{user.Name}\" cannot {verb} resource \"{resource}\" in API group \"{req.Group}\" {scope}";
            if (result.Reason.Length > 0) message += ": " + result.Reason;
            throw new ApiException(403, "Forbidden", message, req.Name.Length > 0 ? req.Name : null, req.Group.Length > 0 ? req.Group : null, req.Resource);
        }
    }

    private static string NameFromFieldSelector(string selector)
    {
        if (selector.Length == 0) return "";
        foreach (var term in selector.Split(','))
        {
            var t = term.Trim();
            foreach (var op in (string[])["==", "="])
            {
                if (!t.StartsWith("metadata.name" + op, StringComparison.Ordinal)) continue;
                var value = t[("metadata.name" + op).Length..];
                // Only a valid path segment counts (no "/" or "%", not "." or "..").
                return value.Length > 0 && value is not "." and not ".." && !value.Contains('/') && !value.Contains('%') ? value : "";
            }
        }
        return "";
    }

    // Rendered on first use: most clients (controllers, tests) never ask for OpenAPI.
    private readonly Lazy<OpenApiDocuments> _openApi = new(() => new OpenApiDocuments(DiscoveryDocuments.GitVersion));

    private const string OpenApiV2Protobuf = "application/com.github.proto-openapi.spec.v2@v1.0+protobuf";

    private async Task<bool> TryServeNonResourceAsync(HttpContext ctx, string[] segments, string method, UserInfo user)
    {
        byte[]? json = null;
        string? text = null;
        if (segments.Length >= 2 && segments[0] == "openapi")
        {
            json = (segments[1], segments.Length) switch
            {
                ("v2", 2) => AcceptsJson(ctx) ? _openApi.Value.V2 : throw ApiException.NotAcceptable(["application/json", OpenApiV2Protobuf]),
                ("v3", 2) => _openApi.Value.V3Root,
                ("v3", _) => _openApi.Value.V3(string.Join('/', segments.Skip(2))) ?? throw ApiException.PathNotFound(),
                _ => throw ApiException.PathNotFound(),
            };
        }
        else switch (segments.Length)
        {
            case 1 when segments[0] is "healthz" or "livez" or "readyz":
                text = "ok";
                break;
            case 1 when segments[0] == "version":
                json = discovery.Version;
                break;
            case 1 when segments[0] == "api":
                json = DiscoveryDocuments.ApiVersions(serverAddress(ctx));
                break;
            case 1 when segments[0] == "apis":
                json = discovery.ApiGroupList;
                break;
            case 2 when segments[0] == "api":
                json = segments[1] == "v1" ? discovery.CoreV1 : throw ApiException.PathNotFound();
                break;
            case 2 when segments[0] == "apis":
                json = discovery.Group(segments[1]) ?? throw ApiException.PathNotFound();
                break;
            case 3 when segments[0] == "apis":
                json = discovery.GroupVersion(segments[1], segments[2]) ?? throw ApiException.PathNotFound();
                break;
            case 0:
                throw ApiException.PathNotFound();
            default:
                return false;
        }
        if (method != "GET" && method != "HEAD") throw ApiException.MethodNotAllowed();
        var attributes = new AuthorizationAttributes(user, "get", false, ctx.Request.Path.Value ?? "/", "", "", "", "", "", "");
        var decision = await authorizer.AuthorizeAsync(attributes, ctx.RequestAborted);
        if (decision.Decision != AuthorizationDecision.Allow)
        {
            throw new ApiException(403, "Forbidden", $"forbidden: User \"{user.Name}\" cannot get path \"{ctx.Request.Path.Value}\"", emptyDetails: true);
        }
        if (text is not null) await ResponseWriter.WriteTextAsync(ctx, 200, text);
        else await ResponseWriter.WriteJsonAsync(ctx, 200, json!);
        return true;
    }

    /// <summary>Whether the Accept header allows a JSON answer (absent, */*, application/*, application/json).</summary>
    private static bool AcceptsJson(HttpContext ctx)
    {
        var accept = ctx.Request.Headers.Accept.ToString();
        if (accept.Length == 0) return true;
        foreach (var range in accept.Split(','))
        {
            var media = range.Split(';')[0].Trim().ToLowerInvariant();
            if (media is "*/*" or "application/*" or "application/json") return true;
        }
        return false;
    }

    private static async Task<byte[]?> ReadBodyAsync(HttpContext ctx)
    {
        var request = ctx.Request;
        if (request.ContentLength is > MaxRequestBodyBytes) throw ApiException.RequestEntityTooLarge(MaxRequestBodyBytes);
        if (request.ContentLength == 0 || request.Method is "GET" or "HEAD") return null;
        // JSON and protobuf bodies are understood (YAML is not implemented); say so as upstream does for
        // unknown formats rather than failing to parse. PATCH types are checked per handler.
        var mediaType = (request.ContentType ?? "").Split(';')[0].Trim().ToLowerInvariant();
        var protobuf = request.Method != "PATCH" && mediaType == ProtobufTranscoder.MediaType;
        if (request.Method != "PATCH" && !protobuf && mediaType is not ("" or "application/json" or "*/*"))
        {
            throw ApiException.UnsupportedMediaType(["application/json", ProtobufTranscoder.MediaType]);
        }
        var capacity = request.ContentLength is { } n ? (int)n : 4096;
        using var buffer = new MemoryStream(capacity);
        var chunk = new byte[Math.Min(capacity == 0 ? 4096 : capacity, 81920)];
        while (true)
        {
            var read = await request.Body.ReadAsync(chunk, ctx.RequestAborted);
            if (read == 0) break;
            if (buffer.Length + read > MaxRequestBodyBytes) throw ApiException.RequestEntityTooLarge(MaxRequestBodyBytes);
            buffer.Write(chunk, 0, read);
        }
        if (buffer.Length == 0) return null;
        if (!protobuf) return buffer.ToArray();
        // The rest of the server works on JSON: transcode once here so every write path accepts protobuf.
        try
        {
            var obj = ProtobufTranscoder.Decode(buffer.GetBuffer().AsSpan(0, (int)buffer.Length));
            return ResponseWriter.Render(w => obj.WriteTo(w));
        }
        catch (ProtobufDecodeException e)
        {
            throw ApiException.BadRequest(e.Message);
        }
    }

}

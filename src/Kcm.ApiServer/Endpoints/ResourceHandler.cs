using System.Text.Json.Nodes;
using Kcm.Api.Selectors;
using Kcm.ApiServer.Authentication;
using Kcm.ApiServer.Errors;
using Kcm.ApiServer.Registry;
using Kcm.ApiServer.Storage;
using Microsoft.AspNetCore.Http;

namespace Kcm.ApiServer.Endpoints;

/// <summary>
/// The generic REST verbs (upstream's endpoints/handlers): decode the request, call the <see cref="GenericStore"/>
/// that holds the storage rules, and negotiate and encode the answer.
/// </summary>
public sealed partial class ResourceHandler(GenericStore registry, TimeProvider time, WatchStreamer watch)
{
    public async Task HandleAsync(HttpContext ctx, ResourceRequest req, string verb, byte[]? body, UserInfo user)
    {
        var store = registry.StorageFor(req);
        // As upstream, an Accept header the server cannot answer is refused before anything is done.
        var conversion = ResponseConversion.Negotiate(ctx);
        switch (verb)
        {
            case "get":
                await GetAsync(ctx, req, conversion);
                break;
            case "list":
                await ListAsync(ctx, req, conversion);
                break;
            case "watch":
                await watch.ServeAsync(ctx, req, store, BuildFilter(ctx.Request.Query, req), conversion, ctx.RequestAborted);
                break;
            case "create" when req.Group.Length == 0 && req.Resource == "pods" && req.Subresource == "binding":
                req = req with { DryRun = RequestBodies.CheckWriteOptions(ctx.Request.Query, "CreateOptions") };
                await BindAsync(ctx, req, body, user);
                break;
            case "create" when req.Group.Length == 0 && req.Resource == "pods" && req.Subresource == "eviction":
                req = req with { DryRun = RequestBodies.CheckWriteOptions(ctx.Request.Query, "CreateOptions") };
                await EvictAsync(ctx, req, body, user);
                break;
            case "create":
                if (req.Subresource.Length > 0) throw ApiException.MethodNotAllowed();
                req = req with { DryRun = RequestBodies.CheckWriteOptions(ctx.Request.Query, "CreateOptions"), FieldManager = ManagerOf(ctx, "CreateOptions") };
                await WriteObjectAsync(ctx, 201, req, registry.Create(req, DecodeChecked(ctx, req, body), user));
                break;
            case "update":
                req = req with { DryRun = RequestBodies.CheckWriteOptions(ctx.Request.Query, "UpdateOptions"), FieldManager = ManagerOf(ctx, "UpdateOptions") };
                await UpdateAsync(ctx, req, DecodeChecked(ctx, req, body), user);
                break;
            case "patch":
                req = req with { DryRun = RequestBodies.CheckWriteOptions(ctx.Request.Query, "PatchOptions"), FieldManager = ManagerOf(ctx, "PatchOptions") };
                await PatchAsync(ctx, req, body, user);
                break;
            case "delete":
                await DeleteAsync(ctx, req, body, user);
                break;
            case "deletecollection":
                await DeleteCollectionAsync(ctx, req, body, user);
                break;
            default:
                throw ApiException.MethodNotAllowed();
        }
    }

    private static JsonObject DecodeChecked(HttpContext ctx, ResourceRequest req, byte[]? body)
        => RequestBodies.CheckFields(ctx, req, RequestBodies.ParseBody(body, req, out var duplicates), duplicates);

    /// <summary>One object as the response, cut down to PartialObjectMetadata when asked (upstream's transformResponseObject).</summary>
    private static Task WriteObjectAsync(HttpContext ctx, int statusCode, ResourceRequest req, StoredObject o, ResponseConversion conversion)
    {
        switch (conversion.Kind)
        {
            case ConversionKind.PartialObjectMetadata:
                return ResponseWriter.WriteJsonAsync(ctx, statusCode, PartialObjectMetadataWriter.Encode(o, conversion.Version));
            case ConversionKind.PartialObjectMetadataList:
                throw ResponseConversion.NotAList(conversion.Kind, req, isList: false);
            default:
                return ResponseWriter.WriteObjectAsync(ctx, statusCode, req.Custom ? CustomResources.CustomResourceObjects.ForRequest(req, o) : o);
        }
    }

    private static Task WriteObjectAsync(HttpContext ctx, int statusCode, ResourceRequest req, StoredObject o)
        => WriteObjectAsync(ctx, statusCode, req, o, ResponseConversion.Negotiate(ctx));

    internal static ObjectFilter BuildFilter(IQueryCollection query, ResourceRequest req)
    {
        var label = LabelSelector.Everything;
        var field = FieldSelector.Everything;
        var labelText = query["labelSelector"].ToString();
        var fieldText = query["fieldSelector"].ToString();
        try
        {
            if (labelText.Length > 0) label = LabelSelector.Parse(labelText);
            if (fieldText.Length > 0) field = FieldSelector.Parse(fieldText);
        }
        catch (SelectorParseException e)
        {
            throw ApiException.BadRequest(e.Message);
        }
        if (fieldText.Length > 0)
        {
            foreach (var r in field.Requirements)
            {
                // Custom resources register metadata.name/namespace only, so anything else is "not supported".
                if (req.Custom && r.Field is not "metadata.name" and not "metadata.namespace") throw ApiException.BadRequest($"field label not supported: {r.Field}");
                FieldLabels.Validate(req.Group, req.Resource, r.Field);
            }
        }
        return new ObjectFilter(req.Namespace, req.Name, label, field);
    }

    private static byte[] Encode(JsonObject obj) => ResponseWriter.Render(w => obj.WriteTo(w));
}

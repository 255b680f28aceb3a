using Kcm.ApiServer.Authentication;
using Kcm.ApiServer.Errors;
using Kcm.ApiServer.Registry;
using Kcm.ApiServer.Storage;
using Microsoft.AspNetCore.Http;

namespace Kcm.ApiServer.Endpoints;

/// <summary>delete and deletecollection (upstream handlers/delete.go): DeleteOptions in, the deleted object or a Status out.</summary>
public sealed partial class ResourceHandler
{
    private async Task DeleteAsync(HttpContext ctx, ResourceRequest req, byte[]? body, UserInfo user)
    {
        if (req.Subresource.Length > 0) throw ApiException.MethodNotAllowed();
        var rawOptions = RequestBodies.DeleteOptionsOf(body);
        var options = DeletionOptions.From(rawOptions, ctx.Request.Query);
        req = req with { DryRun = options.DryRun };
        var outcome = registry.Delete(req, options, rawOptions, user);
        var current = outcome.Previous;
        if (outcome.Kind == DeletionKind.Pending)
        {
            // Upstream answers 202 only when the client explicitly asked for cascading via orphanDependents=false.
            var code = options.OrphanDependents == false ? 202 : 200;
            await WriteObjectAsync(ctx, code, req, outcome.Object);
            return;
        }
        if (registry.StrategyFor(req.Entry).ReturnsDeletedObject)
        {
            await WriteObjectAsync(ctx, 200, req, outcome.Kind == DeletionKind.Removed ? current : outcome.Object);
            return;
        }
        await ResponseWriter.WriteJsonAsync(ctx, 200, ResponseWriter.Render(w =>
        {
            w.WriteStartObject();
            w.WriteString("kind", "Status");
            w.WriteString("apiVersion", "v1");
            w.WriteStartObject("metadata");
            w.WriteEndObject();
            w.WriteString("status", "Success");
            w.WriteStartObject("details");
            w.WriteString("name", req.Name);
            if (req.Group.Length > 0) w.WriteString("group", req.Group);
            w.WriteString("kind", req.Resource);
            w.WriteString("uid", current.Uid);
            w.WriteEndObject();
            w.WriteEndObject();
        }));
    }

    private async Task DeleteCollectionAsync(HttpContext ctx, ResourceRequest req, byte[]? body, UserInfo user)
    {
        var options = DeletionOptions.From(RequestBodies.DeleteOptionsOf(body), ctx.Request.Query);
        req = req with { DryRun = options.DryRun };
        var deleted = registry.DeleteCollection(req, BuildFilter(ctx.Request.Query, req), options, user);
        ctx.Response.StatusCode = 200;
        ctx.Response.ContentType = ResponseWriter.JsonContentType;
        var pipe = ctx.Response.BodyWriter;
        // An unstructured list (custom resources) carries an empty metadata.continue, as in ListAsync.
        var listMeta = req.Custom ? "{\"continue\":\"\"}" : "{}";
        ResponseWriter.Write(pipe, $"{{\"kind\":\"{req.Entry.Kind}List\",\"apiVersion\":\"{req.GroupVersion}\",\"metadata\":{listMeta},\"items\":[");
        for (var i = 0; i < deleted.Count; i++)
        {
            if (i > 0) ResponseWriter.Write(pipe, ","u8);
            if (req.Custom)
            {
                ResponseWriter.Write(pipe, CustomResources.CustomResourceObjects.ForRequest(req, deleted[i]).Json);
                continue;
            }
            ResponseWriter.Write(pipe, "{"u8);
            ResponseWriter.Write(pipe, deleted[i].ItemTail);
        }
        ResponseWriter.Write(pipe, "]}"u8);
        await pipe.FlushAsync(ctx.RequestAborted);
    }
}

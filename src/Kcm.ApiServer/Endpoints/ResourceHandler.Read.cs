using System.Globalization;
using Kcm.ApiServer.Errors;
using Kcm.ApiServer.Printing;
using Kcm.ApiServer.Registry;
using Kcm.ApiServer.Storage;
using Microsoft.AspNetCore.Http;

namespace Kcm.ApiServer.Endpoints;

/// <summary>get and list (upstream handlers/get.go): the object or list in the negotiated form (object, Table, metadata only).</summary>
public sealed partial class ResourceHandler
{
    private async Task GetAsync(HttpContext ctx, ResourceRequest req, ResponseConversion conversion)
    {
        if (req.Subresource == "scale")
        {
            await ResponseWriter.WriteJsonAsync(ctx, 200, Encode(registry.GetScale(req)));
            return;
        }
        var current = registry.Get(req);
        var strategy = registry.StrategyFor(req.Entry);
        if (req.Subresource is not "" and not "status" && !(req.Subresource == "approval" && CertificateSigningRequestStrategy.Handles(strategy)))
        {
            throw ApiException.MethodNotAllowed();
        }
        if (conversion.Kind == ConversionKind.Table)
        {
            await ResponseWriter.WriteJsonAsync(ctx, 200, TableWriter.Render(conversion.Version, req.Group, req.Resource, [current],
                current.ResourceVersion.ToString(CultureInfo.InvariantCulture), null, null, time.GetUtcNow(), IncludeObject(ctx), strategy.Custom));
            return;
        }
        await WriteObjectAsync(ctx, 200, req, current, conversion);
    }

    private async Task ListAsync(HttpContext ctx, ResourceRequest req, ResponseConversion conversion)
    {
        var query = ctx.Request.Query;
        var filter = BuildFilter(query, req);
        var limit = long.TryParse(query["limit"], NumberStyles.None, CultureInfo.InvariantCulture, out var l) ? l : 0;
        var options = new ListOptions(limit, query["resourceVersion"].ToString(), query["resourceVersionMatch"].ToString(), query["continue"].ToString());
        var (selected, listRv, continueToken, remaining) = registry.List(req, filter, options);
        switch (conversion.Kind)
        {
            case ConversionKind.Table:
                await ResponseWriter.WriteJsonAsync(ctx, 200, TableWriter.Render(conversion.Version, req.Group, req.Resource, selected,
                    listRv.ToString(CultureInfo.InvariantCulture), continueToken, continueToken is not null && filter.IsEverything ? remaining : null,
                    time.GetUtcNow(), IncludeObject(ctx), registry.StrategyFor(req.Entry).Custom));
                return;
            case ConversionKind.PartialObjectMetadata:
                throw ResponseConversion.NotAList(conversion.Kind, req, isList: true);
            case ConversionKind.PartialObjectMetadataList:
                ctx.Response.StatusCode = 200;
                ctx.Response.ContentType = ResponseWriter.JsonContentType;
                await PartialObjectMetadataWriter.WriteListAsync(ctx.Response.BodyWriter, conversion.Version, selected,
                    listRv.ToString(CultureInfo.InvariantCulture), continueToken, continueToken is not null && filter.IsEverything ? remaining : null,
                    ctx.RequestAborted);
                return;
        }

        var header = ResponseWriter.Render(w =>
        {
            w.WriteStartObject();
            w.WriteString("kind", req.Entry.Kind + "List");
            w.WriteString("apiVersion", req.GroupVersion);
            // An unstructured list (custom resources) always carries metadata.continue, empty on the last page.
            ResponseWriter.WriteListMeta(w, listRv.ToString(CultureInfo.InvariantCulture), req.Custom ? continueToken ?? "" : continueToken,
                continueToken is not null && filter.IsEverything ? remaining : null);
            w.WriteEndObject();
        });
        if (await ProtobufResponses.TryWriteListAsync(ctx, header, selected)) return;
        ctx.Response.StatusCode = 200;
        ctx.Response.ContentType = ResponseWriter.JsonContentType;
        var pipe = ctx.Response.BodyWriter;
        ResponseWriter.Write(pipe, header.AsSpan(0, header.Length - 1));
        ResponseWriter.Write(pipe, ",\"items\":["u8);
        for (var i = 0; i < selected.Count; i++)
        {
            if (i > 0) ResponseWriter.Write(pipe, ","u8);
            if (req.Custom)
            {
                // Unstructured list items keep their kind and apiVersion.
                ResponseWriter.Write(pipe, CustomResources.CustomResourceObjects.ForRequest(req, selected[i]).Json);
            }
            else
            {
                ResponseWriter.Write(pipe, "{"u8);
                ResponseWriter.Write(pipe, selected[i].ItemTail);
            }
            if (pipe.UnflushedBytes > 1 << 16) await pipe.FlushAsync(ctx.RequestAborted);
        }
        ResponseWriter.Write(pipe, "]}"u8);
        await pipe.FlushAsync(ctx.RequestAborted);
    }

    /// <summary>includeObject=Object puts whole objects in Table rows; the default is PartialObjectMetadata (None is treated alike).</summary>
    private static bool IncludeObject(HttpContext ctx) => ctx.Request.Query["includeObject"].ToString() == "Object";
}

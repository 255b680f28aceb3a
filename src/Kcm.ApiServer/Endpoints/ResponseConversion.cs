using Kcm.ApiServer.Errors;
using Microsoft.AspNetCore.Http;

namespace Kcm.ApiServer.Endpoints;

public enum ConversionKind
{
    None,
    Table,
    PartialObjectMetadata,
    PartialObjectMetadataList,
}

/// <summary>
/// What the Accept header asks the response to be turned into (upstream's MediaTypeOptions.Convert): nothing,
/// a meta.k8s.io Table (kubectl get), or PartialObjectMetadata / PartialObjectMetadataList (client-go's metadata client).
/// </summary>
public readonly record struct ResponseConversion(ConversionKind Kind, string Version)
{
    public static readonly ResponseConversion None = new(ConversionKind.None, "");

    private static readonly string[] AcceptedMediaTypes = ["application/json", "application/yaml", "application/vnd.kubernetes.protobuf"];

    public string ApiVersion => "meta.k8s.io/" + Version;

    /// <summary>
    /// The first alternative of the Accept header this server can answer. Conversions are written in JSON only, so
    /// other media types are passed over here (plain protobuf is <see cref="ProtobufResponses"/>' business); conversions outside meta.k8s.io v1/v1beta1 are passed over as upstream's endpoint
    /// restrictions do. A header made only of JSON conversions the server cannot do is answered with 406.
    /// </summary>
    public static ResponseConversion Negotiate(HttpContext ctx)
    {
        var accept = ctx.Request.Headers.Accept.ToString();
        if (accept.Length == 0) return None;
        var onlyRejectedConversions = false;
        foreach (var range in accept.Split(','))
        {
            var parts = range.Split(';');
            var media = parts[0].Trim().ToLowerInvariant();
            if (media is not ("application/json" or "*/*" or "application/*")) continue;
            string? @as = null, version = null, group = null;
            for (var i = 1; i < parts.Length; i++)
            {
                var kv = parts[i].Split('=', 2);
                if (kv.Length != 2) continue;
                switch (kv[0].Trim())
                {
                    case "as": @as = kv[1].Trim(); break;
                    case "v": version = kv[1].Trim(); break;
                    case "g": group = kv[1].Trim(); break;
                }
            }
            if (@as is null) return None;
            if (group == "meta.k8s.io" && version is "v1" or "v1beta1")
            {
                switch (@as)
                {
                    case "Table": return new ResponseConversion(ConversionKind.Table, version);
                    case "PartialObjectMetadata": return new ResponseConversion(ConversionKind.PartialObjectMetadata, version);
                    case "PartialObjectMetadataList": return new ResponseConversion(ConversionKind.PartialObjectMetadataList, version);
                }
            }
            onlyRejectedConversions = true;
        }
        // Other media types: plain protobuf is written by ProtobufResponses for built-in kinds; YAML is answered as JSON.
        return onlyRejectedConversions && !HasOtherMediaType(accept) ? throw ApiException.NotAcceptable(AcceptedMediaTypes) : None;
    }

    /// <summary>A single object asked for as a list (or the other way round): upstream's asPartialObjectMetadata(List) refusal.</summary>
    public static ApiException NotAList(ConversionKind kind, ResourceRequest req, bool isList)
    {
        var type = GoTypeName(req, isList);
        return kind == ConversionKind.PartialObjectMetadata
            ? new ApiException(406, "NotAcceptable", $"you requested PartialObjectMetadata, but the requested object is a list ({type})")
            : new ApiException(406, "NotAcceptable", $"you requested PartialObjectMetadataList, but the requested object is not a list ({type})");
    }

    private static bool HasOtherMediaType(string accept)
    {
        foreach (var range in accept.Split(','))
        {
            var media = range.Split(';')[0].Trim().ToLowerInvariant();
            if (media.Length > 0 && media is not ("application/json" or "*/*" or "application/*")) return true;
        }
        return false;
    }

    // Upstream prints the Go type of the internal object, e.g. *core.PodList or *apps.Deployment.
    private static string GoTypeName(ResourceRequest req, bool isList)
    {
        var package = req.Group.Length == 0 ? "core" : req.Group.Split('.')[0];
        return $"*{package}.{req.Entry.Kind}{(isList ? "List" : "")}";
    }
}

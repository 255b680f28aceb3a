namespace Kcm.Api.Schema;

public enum FieldShape { Scalar, Object, List, Map }

/// <summary>
/// What strategic merge patch and structural code need to know about one field of a definition:
/// its shape, the definition it refers to (for objects and the elements of lists and maps) and its
/// x-kubernetes patch and list metadata.
/// </summary>
public sealed record FieldSchema(
    FieldShape Shape,
    string? Ref,
    string? PatchStrategy = null,
    string? PatchMergeKey = null,
    string? ListType = null,
    IReadOnlyList<string>? ListMapKeys = null,
    string? MapType = null);

/// <summary>Per-definition field metadata generated from the OpenAPI document.</summary>
public static partial class TypeSchema
{
    /// <summary>Fields of an OpenAPI definition (e.g. "io.k8s.api.core.v1.PodSpec"); null when unknown.</summary>
    public static IReadOnlyDictionary<string, FieldSchema>? Fields(string definition)
        => Definitions.TryGetValue(definition, out var f) ? f : null;

    /// <summary>Required field names of a definition, as the OpenAPI document lists them.</summary>
    public static IReadOnlyList<string> Required(string definition)
        => RequiredFields.TryGetValue(definition, out var r) ? r : [];
}

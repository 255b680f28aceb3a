using System.Buffers.Binary;
using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Kcm.Api;
using Kcm.Api.Core.V1;
using Kcm.Controllers.Common;
using Kcm.Controllers.Common.GoSpew;

namespace Kcm.Controllers.Deployments;

/// <summary>
/// Pod-template identity for Deployments: the pod-template-hash a new ReplicaSet is named and labelled with, and
/// template equality that ignores that label (how upstream recognises a deployment's ReplicaSets, including ones
/// another controller manager created).
/// </summary>
public static class PodTemplates
{
    /// <summary>
    /// controller.ComputeHash: upstream's hash of the Go value (<see cref="PodTemplateHash"/>). A template holding
    /// a value whose Go state is not modelled (a non-zero timestamp, managed fields, a quantity beyond int64) falls
    /// back to FNV-32a over canonical JSON: stable, but not upstream's. Either way ReplicaSets are matched by
    /// <see cref="EqualIgnoreHash"/>, never by their hash.
    /// </summary>
    public static string ComputeHash(PodTemplateSpec template, int? collisionCount)
        => PodTemplateHash.TryCompute(template, collisionCount) ?? CanonicalHash(template, collisionCount);

    private static string CanonicalHash(PodTemplateSpec template, int? collisionCount)
    {
        var hash = Fnv32a.OffsetBasis;
        var canonical = Encoding.UTF8.GetBytes(CanonicalJson(template));
        hash = Fnv32a.Append(hash, canonical);
        if (collisionCount is { } count)
        {
            Span<byte> bytes = stackalloc byte[8];
            bytes.Clear();
            BinaryPrimitives.WriteUInt32LittleEndian(bytes, unchecked((uint)count));
            hash = Fnv32a.Append(hash, bytes);
        }
        return SafeEncoding.SafeEncodeString(hash.ToString(CultureInfo.InvariantCulture));
    }

    /// <summary>
    /// EqualIgnoreHash: templates equal once the pod-template-hash label is removed, with apimachinery's semantic
    /// equality (a nil and an empty list or map are equal; quantities compare by value, which the typed round trip
    /// canonicalises).
    /// </summary>
    public static bool EqualIgnoreHash(PodTemplateSpec? a, PodTemplateSpec? b)
        => string.Equals(CanonicalJson(a), CanonicalJson(b), StringComparison.Ordinal);

    // Every sync compares the deployment's template with each of its ReplicaSets'; cached objects are never mutated
    // (only the ignored hash label is set on fresh copies), so the canonical form is kept per template instance.
    private static readonly ConditionalWeakTable<PodTemplateSpec, string> CanonicalForms = new();

    private static string CanonicalJson(PodTemplateSpec? template)
        => template is null ? "null" : CanonicalForms.GetValue(template, t => Normalized(t)?.ToJsonString() ?? "null");

    private static JsonNode? Normalized(PodTemplateSpec? template)
    {
        if (template is null)
        {
            return null;
        }
        var node = KubeJson.ToNode(template);
        if (node?["metadata"]?["labels"] is JsonObject labels)
        {
            labels.Remove(DeploymentNames.DefaultUniqueLabelKey);
        }
        return Canonicalize(node);
    }

    // Drops nulls, empty strings, empty arrays and empty objects, and sorts object keys, so equal templates serialise identically.
    private static JsonNode? Canonicalize(JsonNode? node)
    {
        switch (node)
        {
            case JsonObject obj:
                var sorted = new JsonObject();
                foreach (var (key, value) in obj.OrderBy(p => p.Key, StringComparer.Ordinal))
                {
                    var child = Canonicalize(value);
                    if (child is not null)
                    {
                        sorted[key] = child;
                    }
                }
                return sorted.Count == 0 ? null : sorted;
            case JsonArray array:
                var items = new JsonArray();
                foreach (var item in array)
                {
                    items.Add(Canonicalize(item) ?? new JsonObject());
                }
                return items.Count == 0 ? null : items;
            case JsonValue value:
                // Go's zero-valued strings are omitted on the wire: "" and absent are the same value there.
                return value.GetValueKind() switch
                {
                    JsonValueKind.Null => null,
                    JsonValueKind.String when value.GetValue<string>().Length == 0 => null,
                    // A detached copy (a node has one parent); serialising it gives the same text.
                    _ => value.DeepClone(),
                };
            default:
                return null;
        }
    }

    private static class Fnv32a
    {
        public const uint OffsetBasis = 2166136261;
        private const uint Prime = 16777619;

        public static uint Append(uint hash, ReadOnlySpan<byte> data)
        {
            foreach (var b in data)
            {
                hash ^= b;
                hash = unchecked(hash * Prime);
            }
            return hash;
        }
    }
}

using System.Globalization;
using System.Numerics;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Kcm.Api;
using Kcm.Api.Apps.V1;
using Kcm.Api.Core.V1;
using Kcm.Api.Meta.V1;
using Kcm.Client;
using Microsoft.Extensions.Logging;
using LabelSelector = Kcm.Api.Selectors.LabelSelector;

namespace Kcm.Controllers.Common;

/// <summary>
/// ControllerRevisions as the DaemonSet and StatefulSet controllers keep them (upstream's pkg/controller/history and
/// the getPatch/Match pair both controllers carry): the revision data is a strategic merge patch that replaces
/// spec.template, encoded byte for byte as Go's encoding/json writes it, so a revision another controller manager
/// recorded is recognised as the current one and nothing rolls when the binary changes.
/// </summary>
public static class ControllerHistory
{
    /// <summary>history.ControllerRevisionHashLabel (StatefulSet revisions).</summary>
    public const string ControllerRevisionHashLabel = "controller.kubernetes.io/hash";

    /// <summary>
    /// getPatch: <c>{"spec":{"template":{...,"$patch":"replace"}}}</c> with every object's keys sorted, as Go marshals
    /// the map it decoded the typed object into. Go always writes a template's <c>metadata.creationTimestamp</c> (null)
    /// and each container's <c>resources</c> (a struct), which the typed round trip here drops when empty.
    /// </summary>
    public static byte[] TemplatePatch(PodTemplateSpec? template)
    {
        var node = template is null ? new JsonObject() : KubeJson.ToNode(template) as JsonObject ?? new JsonObject();
        if (node["metadata"] is not JsonObject metadata)
        {
            metadata = new JsonObject();
            node["metadata"] = metadata;
        }
        if (!metadata.ContainsKey("creationTimestamp"))
        {
            metadata["creationTimestamp"] = null;
        }
        if (node["spec"] is not JsonObject spec)
        {
            spec = new JsonObject();
            node["spec"] = spec;
        }
        if (!spec.ContainsKey("containers"))
        {
            spec["containers"] = null;
        }
        foreach (var list in new[] { "initContainers", "containers", "ephemeralContainers" })
        {
            foreach (var container in spec[list] as JsonArray ?? [])
            {
                if (container is JsonObject c && !c.ContainsKey("resources"))
                {
                    c["resources"] = new JsonObject();
                }
            }
        }
        node["$patch"] = "replace";
        return GoJson.Marshal(new JsonObject { ["spec"] = new JsonObject { ["template"] = node } });
    }

    /// <summary>Whether a revision records this template (upstream's Match: the recorded patch equals ours).</summary>
    public static bool Matches(PodTemplateSpec? template, ControllerRevision revision)
        => TemplatePatch(template).AsSpan().SequenceEqual(RevisionData(revision));

    /// <summary>The revision's data in Go's encoding (it is stored as Go wrote it; re-encoding undoes our client's round trip).</summary>
    public static byte[] RevisionData(ControllerRevision revision)
        => revision.Data is null ? [] : GoJson.Marshal(revision.Data);

    /// <summary>history.ControllerRevisionName: prefix-hash, the prefix cut to 223 bytes so the name fits 253.</summary>
    public static string ControllerRevisionName(string prefix, string hash)
        => $"{(prefix.Length > 223 ? prefix[..223] : prefix)}-{hash}";

    /// <summary>history.HashControllerRevision: FNV-1 (not 1a) over the data, then the probe's decimal digits, safe-encoded.</summary>
    public static string HashControllerRevision(ReadOnlySpan<byte> data, int? probe)
    {
        var hash = 2166136261u;
        void Write(ReadOnlySpan<byte> bytes)
        {
            foreach (var b in bytes)
            {
                hash = unchecked(hash * 16777619u);
                hash ^= b;
            }
        }
        Write(data);
        if (probe is { } p)
        {
            Write(Encoding.ASCII.GetBytes(p.ToString(CultureInfo.InvariantCulture)));
        }
        return SafeEncoding.SafeEncodeString(hash.ToString(CultureInfo.InvariantCulture));
    }

    /// <summary>history.NewControllerRevision: template labels plus the hash label, named parent-hash, owned by the parent.</summary>
    public static ControllerRevision NewControllerRevision(ObjectMeta parent, ResourceInfo parentKind, IReadOnlyDictionary<string, string>? templateLabels, byte[] data, long revision, int? collisionCount)
    {
        var hash = HashControllerRevision(data, collisionCount);
        var labels = templateLabels is null ? new Dictionary<string, string>() : new Dictionary<string, string>(templateLabels);
        labels[ControllerRevisionHashLabel] = hash;
        return new ControllerRevision
        {
            Metadata = new ObjectMeta
            {
                Name = ControllerRevisionName(parent.Name ?? "", hash),
                Namespace = parent.Namespace,
                Labels = labels,
                OwnerReferences = [ControllerRefs.NewControllerRef(parent, parentKind)],
            },
            Data = JsonNode.Parse(data),
            Revision = revision,
        };
    }

    /// <summary>history.SortControllerRevisions: by revision, then creation time, then name (stable).</summary>
    public static List<ControllerRevision> SortByRevision(IEnumerable<ControllerRevision> revisions)
        => revisions
            .OrderBy(r => r.Revision ?? 0)
            .ThenBy(r => r.Metadata?.CreationTimestamp ?? DateTimeOffset.MinValue)
            .ThenBy(r => r.Metadata?.Name ?? "", StringComparer.Ordinal)
            .ToList();

    /// <summary>history.EqualRevision: hash labels (when both parse) must agree, and the data must be equal.</summary>
    public static bool EqualRevision(ControllerRevision? lhs, ControllerRevision? rhs)
    {
        if (lhs is null || rhs is null)
        {
            return ReferenceEquals(lhs, rhs);
        }
        if (HashLabel(lhs) is { } l && HashLabel(rhs) is { } r && l != r)
        {
            return false;
        }
        return RevisionData(lhs).AsSpan().SequenceEqual(RevisionData(rhs));
    }

    /// <summary>history.FindEqualRevisions, in the given order.</summary>
    public static List<ControllerRevision> FindEqualRevisions(IEnumerable<ControllerRevision> revisions, ControllerRevision needle)
        => revisions.Where(r => EqualRevision(r, needle)).ToList();

    public static long MaxRevision(IEnumerable<ControllerRevision> revisions)
        => revisions.Select(r => r.Revision ?? 0).DefaultIfEmpty(0).Max() is var max && max > 0 ? max : 0;

    /// <summary>
    /// The revisions the parent owns after adopting matching orphans and releasing its revisions that stopped matching
    /// (ClaimControllerRevisions); <paramref name="revisions"/> are the namespace's revisions from the cache.
    /// </summary>
    public static Task<List<ControllerRevision>> ClaimAsync(
        ObjectMeta parent, ResourceInfo parentKind, LabelSelector selector, IReadOnlyList<ControllerRevision> revisions,
        Func<CancellationToken, Task> canAdopt, IControllerRevisionClient client, ILogger logger, CancellationToken cancellationToken)
    {
        var manager = new ControllerRefManager(parent, parentKind, selector, canAdopt, logger);
        return manager.ClaimAsync(revisions, null, (revision, patch, ct) => client.PatchAsync(revision.Metadata!.Namespace, revision.Metadata.Name!, patch, ct), cancellationToken);
    }

    private static uint? HashLabel(ControllerRevision revision)
        => revision.Metadata?.Labels?.TryGetValue(ControllerRevisionHashLabel, out var s) == true
           && int.TryParse(s, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var v) ? unchecked((uint)v) : null;
}

/// <summary>Writes to ControllerRevisions (a seam for unit tests).</summary>
public interface IControllerRevisionClient
{
    Task<ControllerRevision> CreateAsync(string? @namespace, ControllerRevision revision, CancellationToken cancellationToken);

    /// <summary>A fresh (uncached) read.</summary>
    Task<ControllerRevision> GetAsync(string? @namespace, string name, CancellationToken cancellationToken);

    Task<ControllerRevision> UpdateAsync(ControllerRevision revision, CancellationToken cancellationToken);

    Task DeleteAsync(string? @namespace, string name, CancellationToken cancellationToken);

    /// <summary>A strategic merge patch (adoption and release of controller references).</summary>
    Task PatchAsync(string? @namespace, string name, string patch, CancellationToken cancellationToken);
}

/// <summary>
/// Creates and updates send the revision's data as Go's bytes: the apiserver stores them verbatim and an upstream
/// controller manager compares them byte for byte, which our JSON writer's escaping would break.
/// </summary>
public sealed class ApiControllerRevisionClient(KubeApiClient client) : IControllerRevisionClient
{
    public Task<ControllerRevision> CreateAsync(string? @namespace, ControllerRevision revision, CancellationToken cancellationToken)
        => SendAsync(HttpMethod.Post, Path(@namespace ?? revision.Metadata?.Namespace, null), revision, cancellationToken);

    public Task<ControllerRevision> GetAsync(string? @namespace, string name, CancellationToken cancellationToken)
        => client.GetAsync<ControllerRevision>(@namespace, name, cancellationToken);

    public Task<ControllerRevision> UpdateAsync(ControllerRevision revision, CancellationToken cancellationToken)
        => SendAsync(HttpMethod.Put, Path(revision.Metadata?.Namespace, revision.Metadata?.Name), revision, cancellationToken);

    public Task DeleteAsync(string? @namespace, string name, CancellationToken cancellationToken)
        => client.DeleteAsync<ControllerRevision>(@namespace, name, cancellationToken: cancellationToken);

    public Task PatchAsync(string? @namespace, string name, string patch, CancellationToken cancellationToken)
        => client.PatchAsync<ControllerRevision>(@namespace, name, PatchType.StrategicMerge, patch, cancellationToken: cancellationToken);

    private async Task<ControllerRevision> SendAsync(HttpMethod method, string path, ControllerRevision revision, CancellationToken cancellationToken)
    {
        var response = await client.Rest.SendAsync(method, path, Encode(revision), "application/json", cancellationToken).ConfigureAwait(false);
        return KubeJson.Deserialize<ControllerRevision>(response) ?? throw new InvalidOperationException("empty ControllerRevision response");
    }

    /// <summary>The revision as JSON with its data spliced in as Go encodes it.</summary>
    internal static byte[] Encode(ControllerRevision revision)
    {
        var node = (JsonObject)KubeJson.ToNode(revision)!;
        node.Remove("data");
        node["apiVersion"] = ControllerRevision.Resource.ApiVersion;
        node["kind"] = ControllerRevision.Resource.Kind;
        var head = Encoding.UTF8.GetBytes(node.ToJsonString());
        if (revision.Data is null)
        {
            return head;
        }
        var data = GoJson.Marshal(revision.Data);
        var body = new List<byte>(head.Length + data.Length + 8);
        body.AddRange(head.AsSpan(0, head.Length - 1).ToArray());
        body.AddRange(Encoding.UTF8.GetBytes(",\"data\":"));
        body.AddRange(data);
        body.Add((byte)'}');
        return body.ToArray();
    }

    private static string Path(string? @namespace, string? name)
    {
        ArgumentException.ThrowIfNullOrEmpty(@namespace);
        var collection = $"/apis/apps/v1/namespaces/{Uri.EscapeDataString(@namespace)}/controllerrevisions";
        return name is null ? collection : $"{collection}/{Uri.EscapeDataString(name)}";
    }
}

/// <summary>
/// Go's encoding/json output for a value decoded into interface{}: object keys sorted bytewise, HTML characters and
/// U+2028/U+2029 escaped as \u00XX, numbers as float64 prints them. Revision data must match it byte for byte.
/// </summary>
public static class GoJson
{
    public static byte[] Marshal(JsonNode? node)
    {
        var sb = new StringBuilder();
        Write(sb, node);
        return Encoding.UTF8.GetBytes(sb.ToString());
    }

    private static void Write(StringBuilder sb, JsonNode? node)
    {
        switch (node)
        {
            case null:
                sb.Append("null");
                break;
            case JsonObject obj:
                sb.Append('{');
                var first = true;
                foreach (var (key, value) in obj.OrderBy(p => Encoding.UTF8.GetBytes(p.Key), Utf8Order.Instance))
                {
                    if (!first)
                    {
                        sb.Append(',');
                    }
                    first = false;
                    WriteString(sb, key);
                    sb.Append(':');
                    Write(sb, value);
                }
                sb.Append('}');
                break;
            case JsonArray array:
                sb.Append('[');
                for (var i = 0; i < array.Count; i++)
                {
                    if (i > 0)
                    {
                        sb.Append(',');
                    }
                    Write(sb, array[i]);
                }
                sb.Append(']');
                break;
            case JsonValue value:
                WriteValue(sb, value);
                break;
        }
    }

    private static void WriteValue(StringBuilder sb, JsonValue value)
    {
        switch (value.GetValueKind())
        {
            case JsonValueKind.String:
                WriteString(sb, value.GetValue<string>());
                break;
            case JsonValueKind.True:
                sb.Append("true");
                break;
            case JsonValueKind.False:
                sb.Append("false");
                break;
            case JsonValueKind.Number:
                sb.Append(Number(value.ToJsonString()));
                break;
            default:
                sb.Append("null");
                break;
        }
    }

    // Go decodes every number into a float64 and prints it with 'f' formatting between 1e-6 and 1e21.
    private static string Number(string raw)
    {
        var d = double.Parse(raw, NumberStyles.Float, CultureInfo.InvariantCulture);
        var abs = Math.Abs(d);
        if (d == Math.Floor(d) && abs < 1e21)
        {
            return new BigInteger(d).ToString(CultureInfo.InvariantCulture);
        }
        if (abs >= 1e-6 && abs < 1e21)
        {
            return ((decimal)d).ToString(CultureInfo.InvariantCulture);
        }
        // Go's exponent form: e-07, e+21 (at least two exponent digits).
        var e = d.ToString("R", CultureInfo.InvariantCulture).Replace("E", "e", StringComparison.Ordinal);
        var at = e.IndexOf('e', StringComparison.Ordinal);
        var mantissa = e[..at];
        var exponent = int.Parse(e[(at + 1)..], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture);
        return $"{mantissa}e{(exponent < 0 ? '-' : '+')}{Math.Abs(exponent):00}";
    }

    private static void WriteString(StringBuilder sb, string s)
    {
        const string hex = "0123456789abcdef";
        sb.Append('"');
        for (var i = 0; i < s.Length; i++)
        {
            var c = s[i];
            switch (c)
            {
                case '\\':
                    sb.Append("\\\\");
                    continue;
                case '"':
                    sb.Append("\\\"");
                    continue;
                case '\n':
                    sb.Append("\\n");
                    continue;
                case '\r':
                    sb.Append("\\r");
                    continue;
                case '\t':
                    sb.Append("\\t");
                    continue;
            }
            if (c < 0x20 || c is '<' or '>' or '&')
            {
                sb.Append("\\u00").Append(hex[c >> 4]).Append(hex[c & 0xF]);
            }
            else if (c is '\u2028' or '\u2029')
            {
                sb.Append("\\u202").Append(hex[c & 0xF]);
            }
            else if (char.IsHighSurrogate(c) && i + 1 < s.Length && char.IsLowSurrogate(s[i + 1]))
            {
                sb.Append(c).Append(s[++i]);
            }
            else if (char.IsSurrogate(c))
            {
                sb.Append("\\ufffd"); // Invalid UTF-8 in Go.
            }
            else
            {
                sb.Append(c);
            }
        }
        sb.Append('"');
    }

    private sealed class Utf8Order : IComparer<byte[]>
    {
        public static readonly Utf8Order Instance = new();

        public int Compare(byte[]? x, byte[]? y) => x.AsSpan().SequenceCompareTo(y);
    }
}

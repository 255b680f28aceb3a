using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace Kcm.Differ;

/// <summary>
/// Turns one run's objects into a form two runs can be compared in: everything a server or a clock chooses
/// (uids, resourceVersions, timestamps, generated name suffixes, managedFields, certificate serials and validity
/// instants) is replaced by a stable placeholder, and the run's namespace by "&lt;ns&gt;".
/// </summary>
public sealed partial class Normalizer
{
    private static readonly string[] DroppedMetadata = ["uid", "creationTimestamp", "managedFields", "selfLink"];
    private static readonly string[] DroppedEventFields = ["count", "firstTimestamp", "lastTimestamp", "eventTime", "reportingInstance", "series"];

    private readonly string _namespace;
    private readonly Dictionary<string, string> _replacements = new(StringComparer.Ordinal);

    /// <param name="namespace">The run's namespace.</param>
    /// <param name="objects">Every object of the run, to learn uids, generated names and known labels from.</param>
    /// <param name="knownLabels">Labels whose values are replaced by "&lt;label&gt;" everywhere.</param>
    public Normalizer(string @namespace, IReadOnlyList<JsonObject> objects, IEnumerable<string> knownLabels)
    {
        _namespace = @namespace;
        var labels = knownLabels.ToList();
        var prefixes = new HashSet<string>(StringComparer.Ordinal) { "kube-api-access-" };
        // A CronJob names its Jobs after their scheduled minute ("hello-29441295"), which differs between runs.
        var cronJobs = objects.Where(o => (string?)o["kind"] == "CronJob").Select(o => (string?)o["metadata"]?["name"]).OfType<string>().ToList();
        _scheduled = cronJobs.Count == 0
            ? null
            : new Regex($@"\b({string.Join("|", cronJobs.OrderByDescending(n => n.Length).Select(Regex.Escape))})-\d{{8,}}\b", RegexOptions.CultureInvariant);
        foreach (var obj in objects)
        {
            var meta = obj["metadata"] as JsonObject;
            var name = (string?)meta?["name"] ?? "";
            prefixes.Add(name + "-");
            // An event outlives its object: "Created pod: ttl-x7k2q" of a Job the TTL controller deleted.
            if ((string?)obj["involvedObject"]?["name"] is { Length: > 0 } involved) prefixes.Add(involved + "-");
            if ((string?)meta?["generateName"] is { Length: > 0 } prefix) prefixes.Add(prefix);
            var generateName = (string?)meta?["generateName"];
            var shownName = !string.IsNullOrEmpty(generateName) && name.StartsWith(generateName, StringComparison.Ordinal) && (string?)obj["kind"] != "Event"
                ? generateName + "<generated>"
                : name;
            if (_scheduled is not null && (string?)obj["kind"] != "Event") shownName = _scheduled.Replace(shownName, "$1-<scheduled>");
            if (shownName != name) _replacements[name] = shownName;
            if ((string?)meta?["uid"] is { Length: > 0 } uid) _replacements[uid] = $"<uid {obj["kind"]}/{shownName}>";
            foreach (var label in labels)
            {
                if ((string?)meta?["labels"]?[label] is { Length: > 0 } value) _replacements[value] = $"<{label}>";
            }
        }
        // Longest first, so a name is replaced before a shorter value it contains (a hash inside a generated name).
        _ordered = [.. _replacements.OrderByDescending(r => r.Key.Length)];
        // Names generated from a known prefix, also of objects gone by the snapshot ("Created pod: web-abc-x7k2q").
        _generated = new Regex($"({string.Join("|", prefixes.OrderByDescending(p => p.Length).Select(Regex.Escape))})[{GeneratedAlphabet}]{{5}}\\b", RegexOptions.CultureInvariant);
    }

    // apimachinery's SimpleNameGenerator alphabet (no vowels, no ambiguous characters).
    private const string GeneratedAlphabet = "bcdfghjklmnpqrstvwxz2456789";

    private readonly Regex _generated;

    private readonly Regex? _scheduled;

    private readonly List<KeyValuePair<string, string>> _ordered;

    /// <summary>Values a known label took in this run (to report when they differ between runs).</summary>
    public static SortedSet<string> LabelValues(IEnumerable<JsonObject> objects, string label)
        => [.. objects.Select(o => (string?)o["metadata"]?["labels"]?[label]).OfType<string>()];

    /// <summary>The key an object is compared under: Kind/name after normalisation.</summary>
    public string KeyOf(JsonObject obj) => $"{obj["kind"]}/{Text((string?)obj["metadata"]?["name"] ?? "")}";

    public JsonObject Normalize(JsonObject source)
    {
        var obj = (JsonObject)source.DeepClone();
        if (obj["metadata"] is JsonObject meta)
        {
            foreach (var field in DroppedMetadata) meta.Remove(field);
            if (meta["deletionTimestamp"] is not null) meta["deletionTimestamp"] = "<set>";
        }
        if ((string?)obj["kind"] == "Event")
        {
            foreach (var field in DroppedEventFields) obj.Remove(field);
            obj["metadata"] = new JsonObject { ["namespace"] = obj["metadata"]?["namespace"]?.DeepClone() };
            (obj["source"] as JsonObject)?.Remove("host");
        }
        if ((string?)obj["kind"] == "Secret" && obj["data"] is JsonObject data)
        {
            foreach (var key in data.Select(p => p.Key).ToList())
            {
                if ((string?)data[key] is { } encoded) data[key] = DecodeSecretValue(key, encoded);
            }
        }
        if (obj["status"]?["certificate"] is JsonValue certificate && (string?)certificate is { } pem)
        {
            obj["status"]!["certificate"] = DescribeCertificate(pem);
        }
        return (JsonObject)Rewrite(obj)!;
    }

    /// <summary>Sorts the lists at the dotted <paramref name="paths"/> by their items' JSON (see <see cref="Observation.Unordered"/>).</summary>
    public static JsonObject SortLists(JsonObject obj, IEnumerable<string> paths)
    {
        foreach (var path in paths)
        {
            var parts = path.Split('.');
            var parent = parts[..^1].Aggregate((JsonNode?)obj, (node, part) => node?[part]);
            if (parent is JsonObject o && o[parts[^1]] is JsonArray list)
            {
                var sorted = list.Select(item => item?.DeepClone()).OrderBy(item => item?.ToJsonString() ?? "", StringComparer.Ordinal).ToList();
                o[parts[^1]] = new JsonArray([.. sorted]);
            }
        }
        return obj;
    }

    // resourceVersions (also an event's involvedObject's) are the server's counters. In keys only the run's namespace
    // is replaced (a label key may name it); the other replacements are for values.
    private JsonNode? Rewrite(JsonNode? node) => node switch
    {
        JsonObject o => new JsonObject(o.Where(p => p.Key != "resourceVersion").Select(p => KeyValuePair.Create(NamespaceReplaced(p.Key), Rewrite(p.Value)))),
        JsonArray a => new JsonArray([.. a.Select(Rewrite)]),
        JsonValue v when v.TryGetValue<string>(out var s) => JsonValue.Create(Text(s)),
        _ => node?.DeepClone(),
    };

    private string NamespaceReplaced(string key) => _namespace.Length > 0 ? key.Replace(_namespace, "<ns>", StringComparison.Ordinal) : key;

    /// <summary>A string with the run's namespace, uids, generated names, known label values and times replaced.</summary>
    public string Text(string value)
    {
        if (Timestamp().IsMatch(value)) return "<time>";
        if (!_replacements.ContainsKey(value)) value = _generated.Replace(value, "$1<generated>");
        foreach (var (from, to) in _ordered)
        {
            if (value.Contains(from, StringComparison.Ordinal)) value = value.Replace(from, to, StringComparison.Ordinal);
        }
        if (_scheduled is not null) value = _scheduled.Replace(value, "$1-<scheduled>");
        if (_namespace.Length > 0) value = value.Replace(_namespace, "<ns>", StringComparison.Ordinal);
        return Uid().Replace(value, "<uid>");
    }

    /// <summary>
    /// A Secret value as text (the namespace in it can then be normalised), and a service-account token as its JOSE
    /// header and claims: the signature, over claims naming the run's namespace and uids, differs between runs.
    /// Binary values stay base64.
    /// </summary>
    internal static JsonNode DecodeSecretValue(string key, string base64)
    {
        byte[] bytes;
        try
        {
            bytes = Convert.FromBase64String(base64);
        }
        catch (FormatException)
        {
            return JsonValue.Create(base64);
        }
        string text;
        try
        {
            text = new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(bytes);
        }
        catch (DecoderFallbackException)
        {
            return JsonValue.Create(base64);
        }
        if (key == "token" && text.Split('.') is [var header, var claims, _]
            && DecodeJwtPart(header) is { } headerJson && DecodeJwtPart(claims) is { } claimsJson)
        {
            return new JsonObject { ["jwt header"] = headerJson, ["jwt claims"] = claimsJson };
        }
        return JsonValue.Create(text);
    }

    private static JsonNode? DecodeJwtPart(string part)
    {
        try
        {
            var padded = part.Replace('-', '+').Replace('_', '/').PadRight(part.Length + (4 - part.Length % 4) % 4, '=');
            return JsonNode.Parse(Convert.FromBase64String(padded));
        }
        catch (Exception e) when (e is FormatException or System.Text.Json.JsonException)
        {
            return null;
        }
    }

    /// <summary>What a certificate says, without its serial, signature and validity instants (its lifetime is kept).</summary>
    internal static JsonObject DescribeCertificate(string base64Pem)
    {
        string pem;
        try
        {
            pem = Encoding.ASCII.GetString(Convert.FromBase64String(base64Pem));
        }
        catch (FormatException)
        {
            pem = base64Pem; // already PEM text
        }
        using var cert = X509Certificate2.CreateFromPem(pem);
        var description = new JsonObject
        {
            ["subject"] = cert.Subject,
            ["issuer"] = cert.Issuer,
            ["publicKeyAlgorithm"] = cert.PublicKey.Oid.Value,
            ["lifetimeSeconds"] = (long)(cert.NotAfter - cert.NotBefore).TotalSeconds,
        };
        foreach (var extension in cert.Extensions)
        {
            description[$"extension {extension.Oid?.Value}"] = extension switch
            {
                X509KeyUsageExtension ku => $"{ku.KeyUsages} critical={ku.Critical}",
                X509EnhancedKeyUsageExtension eku => string.Join(",", eku.EnhancedKeyUsages.Cast<System.Security.Cryptography.Oid>().Select(o => o.Value)) + $" critical={eku.Critical}",
                X509BasicConstraintsExtension bc => $"ca={bc.CertificateAuthority} critical={bc.Critical}",
                X509SubjectAlternativeNameExtension san => string.Join(",", san.EnumerateDnsNames().Concat(san.EnumerateIPAddresses().Select(ip => ip.ToString()))) + $" critical={san.Critical}",
                _ => $"critical={extension.Critical}",
            };
        }
        return description;
    }

    [GeneratedRegex(@"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")]
    private static partial Regex Timestamp();

    [GeneratedRegex(@"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")]
    private static partial Regex Uid();
}

using System.Collections.Concurrent;
using System.Collections.Frozen;
using System.Text.Json;

namespace Kcm.Api.Protobuf;

internal enum ProtoKind
{
    Double, Float, Int64, UInt64, Int32, Bool, String, Message, Bytes, UInt32, SInt32, SInt64, Fixed64, Fixed32, SFixed32, SFixed64, Map,
}

/// <summary>
/// One field of a Kubernetes protobuf message (from upstream's generated.proto files). For maps,
/// <see cref="Message"/> names the value message (when the value is one) and the key/value kinds are given.
/// </summary>
internal sealed record ProtoField(int Number, string Name, ProtoKind Kind, bool Repeated, string? Message,
    ProtoKind MapKey = ProtoKind.String, ProtoKind MapValue = ProtoKind.String);

/// <summary>Messages whose JSON form is not an object of their fields.</summary>
internal enum ProtoSpecial { None, Time, MicroTime, Duration, Quantity, IntOrString, RawJson }

/// <summary>A field with its JSON name and how Go's JSON treats it (omitempty on a non-pointer scalar, inline embedding).</summary>
internal sealed record ProtoFieldInfo(ProtoField Field, JsonEncodedText Name, string JsonName, bool OmitEmpty, bool Inline, bool Served)
{
    private ProtoMessage? _messageType;

    /// <summary>The special JSON form of the field's message type (of a map's value message), if it has one.</summary>
    public ProtoSpecial Special { get; } = ProtoSchema.SpecialOf(Field.Message);

    /// <summary>The field's message type, looked up once (a name lookup per value was a measurable share of transcoding).</summary>
    public ProtoMessage? MessageType => _messageType ??= Field.Message is { } name ? ProtoSchema.Message(name) : null;
}

/// <summary>
/// A message compiled for transcoding: fields by number (an array, numbers are small), fields by JSON name
/// and in number order (protobuf's canonical order, as gogo writes them). A named slice type (authentication's
/// ExtraValue, …) is one repeated "items" field whose JSON is the bare list.
/// </summary>
internal sealed record ProtoMessage(string Name, ProtoFieldInfo?[] ByNumber, FrozenDictionary<string, ProtoFieldInfo> ByJsonName,
    ProtoFieldInfo[] InOrder, bool IsNamedSlice)
{
    public ProtoFieldInfo? Field(int number) => (uint)number < (uint)ByNumber.Length ? ByNumber[number] : null;
}

/// <summary>Field tables of the protobuf messages of the served group/versions.</summary>
internal static partial class ProtoSchema
{
    // Declared here, first, so that the tables below are built from it (initialisers run in textual order within a file).
    private static readonly Dictionary<string, ProtoField[]> Messages = CreateMessages();

    private static readonly FrozenDictionary<string, FrozenDictionary<int, ProtoField>> ByNumber =
        Messages.ToFrozenDictionary(m => m.Key, m => m.Value.ToFrozenDictionary(f => f.Number), StringComparer.Ordinal);

    // Proto field names mostly equal the JSON names; where they differ (upstream's "Webhooks", "uID") the
    // OpenAPI definition's field of the same name ignoring case is the JSON name.
    private static readonly FrozenDictionary<(string, int), string> JsonNames = BuildJsonNames();

    public static FrozenDictionary<int, ProtoField>? Fields(string message) => ByNumber.GetValueOrDefault(message);

    private static readonly FrozenSet<(string, int)> OmitEmpty = CreateOmitEmptyFields().ToFrozenSet();
    private static readonly FrozenSet<(string, int)> Inline = CreateInlineFields().ToFrozenSet();
    private static readonly ConcurrentDictionary<string, ProtoMessage?> Compiled = new(StringComparer.Ordinal);

    private const string Meta = "k8s.io.apimachinery.pkg.apis.meta.v1.";

    private static readonly FrozenDictionary<string, ProtoSpecial> Specials = new Dictionary<string, ProtoSpecial>(StringComparer.Ordinal)
    {
        [Meta + "Time"] = ProtoSpecial.Time,
        [Meta + "MicroTime"] = ProtoSpecial.MicroTime,
        [Meta + "Duration"] = ProtoSpecial.Duration,
        ["k8s.io.apimachinery.pkg.api.resource.Quantity"] = ProtoSpecial.Quantity,
        ["k8s.io.apimachinery.pkg.api.resource.QuantityValue"] = ProtoSpecial.Quantity,
        ["k8s.io.apimachinery.pkg.util.intstr.IntOrString"] = ProtoSpecial.IntOrString,
        ["k8s.io.apimachinery.pkg.runtime.RawExtension"] = ProtoSpecial.RawJson,
        [Meta + "FieldsV1"] = ProtoSpecial.RawJson,
    }.ToFrozenDictionary(StringComparer.Ordinal);

    public static ProtoSpecial SpecialOf(string? message) => message is null ? ProtoSpecial.None : Specials.GetValueOrDefault(message);

    /// <summary>The message's fields with what JSON needs of each, built once per message; null when unknown.</summary>
    public static ProtoMessage? Message(string message) => Compiled.GetOrAdd(message, static m => Compile(m));

    private static ProtoMessage? Compile(string message)
    {
        if (!Messages.TryGetValue(message, out var fields)) return null;
        var byNumber = new ProtoFieldInfo?[fields.Length == 0 ? 1 : fields.Max(f => f.Number) + 1];
        var byJson = new Dictionary<string, ProtoFieldInfo>(StringComparer.Ordinal);
        foreach (var f in fields)
        {
            var json = JsonName(message, f);
            var info = new ProtoFieldInfo(f, JsonEncodedText.Encode(json), json, OmitEmpty.Contains((message, f.Number)),
                Inline.Contains((message, f.Number)), IsServed(message, f));
            byNumber[f.Number] = info;
            if (!info.Inline) byJson[json] = info;
        }
        // Only lists of strings are named slice types (ExtraValue); DownwardAPIProjection's lone "items" is a real field.
        var named = fields.Length == 1 && fields[0] is { Number: 1, Repeated: true, Name: "items", Kind: ProtoKind.String };
        return new ProtoMessage(message, byNumber, byJson.ToFrozenDictionary(StringComparer.Ordinal),
            fields.OrderBy(f => f.Number).Select(f => byNumber[f.Number]!).ToArray(), named);
    }

    // Fields of newer releases that the served (v1.26) definition lacks: a v1.26 server's protobuf decoder skips
    // unknown field numbers, so these are dropped rather than reported by field validation.
    private static readonly FrozenSet<(string, int)> NotServed = BuildNotServed();

    public static string JsonName(string message, ProtoField field) => JsonNames.GetValueOrDefault((message, field.Number), field.Name);

    public static bool IsServed(string message, ProtoField field) => !NotServed.Contains((message, field.Number));

    private static FrozenSet<(string, int)> BuildNotServed()
    {
        var result = new HashSet<(string, int)>();
        // An inline struct (Volume's VolumeSource) has no JSON name of its own, yet it is served.
        var inline = CreateInlineFields().ToHashSet();
        foreach (var (message, fields) in Messages)
        {
            if (Kcm.Api.Schema.TypeSchema.Fields(DefinitionName(message)) is not { Count: > 0 } definition) continue;
            foreach (var field in fields)
            {
                if (!definition.ContainsKey(JsonName(message, field)) && !inline.Contains((message, field.Number))) result.Add((message, field.Number));
            }
        }
        return result.ToFrozenSet();
    }

    private static FrozenDictionary<(string, int), string> BuildJsonNames()
    {
        var names = new Dictionary<(string, int), string>();
        foreach (var (message, fields) in Messages)
        {
            var definition = Kcm.Api.Schema.TypeSchema.Fields(DefinitionName(message));
            foreach (var field in fields)
            {
                var json = definition?.Keys.FirstOrDefault(k => string.Equals(k, field.Name, StringComparison.OrdinalIgnoreCase));
                if (json is null && char.IsUpper(field.Name[0])) json = char.ToLowerInvariant(field.Name[0]) + field.Name[1..];
                if (json is not null && json != field.Name) names[(message, field.Number)] = json;
            }
        }
        return names.ToFrozenDictionary();
    }

    /// <summary>
    /// The message for an apiVersion/kind: "apps/v1" Deployment → k8s.io.api.apps.v1.Deployment;
    /// group "rbac.authorization.k8s.io" → package rbac; meta kinds (DeleteOptions, Status) fall back to meta/v1.
    /// </summary>
    public static string? MessageFor(string apiVersion, string kind)
    {
        var slash = apiVersion.IndexOf('/');
        var group = slash < 0 ? "" : apiVersion[..slash];
        var version = slash < 0 ? apiVersion : apiVersion[(slash + 1)..];
        var package = group.Length == 0 ? "core" : group.Split('.')[0];
        var name = $"k8s.io.api.{package}.{version}.{kind}";
        if (ByNumber.ContainsKey(name)) return name;
        var meta = "k8s.io.apimachinery.pkg.apis.meta.v1." + kind;
        return ByNumber.ContainsKey(meta) ? meta : null;
    }

    /// <summary>"k8s.io.api.core.v1.Pod" → the OpenAPI definition "io.k8s.api.core.v1.Pod".</summary>
    public static string DefinitionName(string message) => message.StartsWith("k8s.io.", StringComparison.Ordinal) ? "io.k8s." + message["k8s.io.".Length..] : message;
}

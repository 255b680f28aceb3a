using System.Buffers;
using System.Text.Json;
using Kcm.Api.Catalog;
using Kcm.ApiServer.Storage;

namespace Kcm.ApiServer.Endpoints;

/// <summary>Discovery documents rendered once from the catalog, in the field order a v1.26 server writes.</summary>
public sealed class DiscoveryDocuments
{
    private readonly Dictionary<string, byte[]> _groupVersions = new(StringComparer.Ordinal);
    private readonly Dictionary<string, byte[]> _groups = new(StringComparer.Ordinal);

    public DiscoveryDocuments()
    {
        _apiGroupList = Render(WriteGroupList);
        foreach (var g in ApiCatalog.Groups)
        {
            _groups[g.Name] = Render(w => WriteGroup(w, g, withTypeMeta: true));
            foreach (var v in g.Versions)
            {
                _groupVersions[$"{g.Name}/{v}"] = Render(w => WriteResourceList(w, g.Name, v, legacy: false));
            }
        }
        CoreV1 = Render(w => WriteResourceList(w, "", "v1", legacy: true));
        Version = Render(WriteVersion);
    }

    public const string GitVersion = "v1.26.3";

    private readonly byte[] _apiGroupList;

    /// <summary>Groups served from CustomResourceDefinitions, listed after the built-in ones.</summary>
    public IDiscoveryExtension? Extension { get; set; }

    public byte[] ApiGroupList => Extension?.GroupList(_apiGroupList) ?? _apiGroupList;
    public byte[] CoreV1 { get; }
    public byte[] Version { get; }

    public byte[]? Group(string name) => _groups.GetValueOrDefault(name) ?? Extension?.Group(name);

    public byte[]? GroupVersion(string group, string version)
        => _groupVersions.GetValueOrDefault($"{group}/{version}") ?? Extension?.GroupVersion(group, version);

    public static byte[] ApiVersions(string serverAddress) => Render(w =>
    {
        w.WriteStartObject();
        w.WriteString("kind", "APIVersions");
        w.WriteStartArray("versions");
        foreach (var v in ApiCatalog.CoreVersions) w.WriteStringValue(v);
        w.WriteEndArray();
        w.WriteStartArray("serverAddressByClientCIDRs");
        w.WriteStartObject();
        w.WriteString("clientCIDR", "0.0.0.0/0");
        w.WriteString("serverAddress", serverAddress);
        w.WriteEndObject();
        w.WriteEndArray();
        w.WriteEndObject();
    });

    private static byte[] Render(Action<Utf8JsonWriter> write)
    {
        var buffer = new ArrayBufferWriter<byte>(4096);
        using (var w = new Utf8JsonWriter(buffer, ObjectEncoder.WriterOptions)) write(w);
        return buffer.WrittenSpan.ToArray();
    }

    private static void WriteGroupList(Utf8JsonWriter w)
    {
        w.WriteStartObject();
        w.WriteString("kind", "APIGroupList");
        w.WriteString("apiVersion", "v1");
        w.WriteStartArray("groups");
        foreach (var g in ApiCatalog.Groups) WriteGroup(w, g, withTypeMeta: false);
        w.WriteEndArray();
        w.WriteEndObject();
    }

    private static void WriteGroup(Utf8JsonWriter w, ApiGroupEntry g, bool withTypeMeta)
    {
        w.WriteStartObject();
        if (withTypeMeta)
        {
            w.WriteString("kind", "APIGroup");
            w.WriteString("apiVersion", "v1");
        }
        w.WriteString("name", g.Name);
        w.WriteStartArray("versions");
        foreach (var v in g.Versions) WriteGroupVersion(w, g.Name, v);
        w.WriteEndArray();
        w.WritePropertyName("preferredVersion");
        WriteGroupVersion(w, g.Name, g.PreferredVersion);
        w.WriteEndObject();
    }

    private static void WriteGroupVersion(Utf8JsonWriter w, string group, string version)
    {
        w.WriteStartObject();
        w.WriteString("groupVersion", $"{group}/{version}");
        w.WriteString("version", version);
        w.WriteEndObject();
    }

    private static void WriteResourceList(Utf8JsonWriter w, string group, string version, bool legacy)
    {
        w.WriteStartObject();
        w.WriteString("kind", "APIResourceList");
        // The legacy /api/v1 document carries no apiVersion; group documents do.
        if (!legacy) w.WriteString("apiVersion", "v1");
        w.WriteString("groupVersion", group.Length == 0 ? version : $"{group}/{version}");
        w.WriteStartArray("resources");
        foreach (var r in ApiCatalog.Resources)
        {
            if (r.Group != group || r.Version != version) continue;
            WriteResource(w, r, singularName: "");
        }
        w.WriteEndArray();
        w.WriteEndObject();
    }

    /// <summary>One APIResource of a resource list (built-in kinds leave singularName empty, as kube-apiserver does).</summary>
    internal static void WriteResource(Utf8JsonWriter w, ApiResourceEntry r, string singularName)
    {
        w.WriteStartObject();
        w.WriteString("name", r.Name);
        w.WriteString("singularName", singularName);
        w.WriteBoolean("namespaced", r.Namespaced);
        if (r.KindGroup is not null) w.WriteString("group", r.KindGroup);
        if (r.KindVersion is not null) w.WriteString("version", r.KindVersion);
        w.WriteString("kind", r.Kind);
        WriteStrings(w, "verbs", r.Verbs, always: true);
        WriteStrings(w, "shortNames", r.ShortNames, always: false);
        WriteStrings(w, "categories", r.Categories, always: false);
        if (r.StorageVersionHash is not null) w.WriteString("storageVersionHash", r.StorageVersionHash);
        w.WriteEndObject();
    }

    private static void WriteStrings(Utf8JsonWriter w, string name, IReadOnlyList<string> values, bool always)
    {
        if (values.Count == 0 && !always) return;
        w.WriteStartArray(name);
        foreach (var v in values) w.WriteStringValue(v);
        w.WriteEndArray();
    }

    private static void WriteVersion(Utf8JsonWriter w)
    {
        w.WriteStartObject();
        w.WriteString("major", "1");
        w.WriteString("minor", "26");
        w.WriteString("gitVersion", GitVersion);
        w.WriteString("gitCommit", "9e644106593f3f4aa98f8a84b23db5fa378900bd");
        w.WriteString("gitTreeState", "clean");
        w.WriteString("buildDate", "2023-03-15T13:33:11Z");
        w.WriteString("goVersion", "go1.19.7");
        w.WriteString("compiler", "gc");
        w.WriteString("platform", $"linux/{(System.Runtime.InteropServices.RuntimeInformation.OSArchitecture == System.Runtime.InteropServices.Architecture.Arm64 ? "arm64" : "amd64")}");
        w.WriteEndObject();
    }
}

/// <summary>Discovery documents of groups that appear at run time (custom resources); null when the group is unknown.</summary>
public interface IDiscoveryExtension
{
    /// <summary>The APIGroupList with the extension's groups appended, or null when it has none.</summary>
    byte[]? GroupList(byte[] builtIn);

    byte[]? Group(string name);

    byte[]? GroupVersion(string group, string version);
}

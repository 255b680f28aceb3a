using System.Buffers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Kcm.Api.Catalog;
using Kcm.ApiServer.Endpoints;
using Kcm.ApiServer.Registry;
using Kcm.ApiServer.Storage;

namespace Kcm.ApiServer.CustomResources;

/// <summary>
/// The custom resources currently served: one set of catalog-like entries (resource, /status, /scale) per served version
/// of every Established CRD, their strategies and stores, and their discovery documents. Replaced as a whole on change.
/// </summary>
public sealed class CustomResourceRegistry : IDiscoveryExtension
{
    private static readonly string[] ResourceVerbs = ["delete", "deletecollection", "get", "list", "patch", "create", "update", "watch"];
    private static readonly string[] SubresourceVerbs = ["get", "patch", "update"];

    private readonly GenericStore _registry;
    private Snapshot _current = Snapshot.Empty;

    public CustomResourceRegistry(GenericStore registry) => _registry = registry;

    private sealed record Snapshot(
        Dictionary<(string Group, string Version, string Name), ApiResourceEntry> Entries,
        Dictionary<string, byte[]> Groups,
        Dictionary<string, byte[]> GroupVersions,
        List<JsonObject> GroupListItems,
        HashSet<ApiResourceEntry> Custom)
    {
        public static readonly Snapshot Empty = new([], [], [], [], []);
    }

    public ApiResourceEntry? Find(string group, string version, string name)
        => Volatile.Read(ref _current).Entries.GetValueOrDefault((group, version, name));

    public ResourceRequest? Parse(string[] segments) => ResourceRequest.Parse(segments, Find) is { } r ? r with { Custom = true } : null;

    /// <summary>Whether the entry belongs to a custom resource (objects are then rewritten to the requested version).</summary>
    public bool IsCustom(ApiResourceEntry entry) => Volatile.Read(ref _current).Custom.Contains(entry);

    /// <summary>Serves exactly these CRDs (Established, names accepted); keeps entries of unchanged versions.</summary>
    public void Refresh(IEnumerable<CustomResourceDefinitionInfo> definitions)
    {
        var previous = Volatile.Read(ref _current);
        var entries = new Dictionary<(string, string, string), ApiResourceEntry>();
        var byGroup = new SortedDictionary<string, List<(CustomResourceVersion Version, CustomResourceDefinitionInfo Crd)>>(StringComparer.Ordinal);
        foreach (var crd in definitions)
        {
            var names = crd.Accepted;
            var storage = crd.StorageVersion;
            if (names.Plural.Length == 0 || storage is null) continue;
            foreach (var version in crd.Versions.Where(v => v.Served))
            {
                var hash = StorageVersionHash(crd.Group, storage.Name, names.Kind);
                var main = new ApiResourceEntry(crd.Group, version.Name, names.Plural, crd.Namespaced, names.Kind, null, null,
                    ResourceVerbs, names.ShortNames, names.Categories, hash);
                main = Reuse(previous, main);
                entries[(crd.Group, version.Name, names.Plural)] = main;
                _registry.AddStrategy(ResourceStrategy.ForCustom(main, version));
                _registry.Objects.GetOrAdd(crd.Group, names.Plural);
                if (version.HasStatus)
                {
                    var status = Reuse(previous, new ApiResourceEntry(crd.Group, version.Name, names.Plural + "/status", crd.Namespaced, names.Kind,
                        null, null, SubresourceVerbs, [], [], null));
                    entries[(crd.Group, version.Name, status.Name)] = status;
                }
                if (version.Scale is not null)
                {
                    var scale = Reuse(previous, new ApiResourceEntry(crd.Group, version.Name, names.Plural + "/scale", crd.Namespaced, "Scale",
                        "autoscaling", "v1", SubresourceVerbs, [], [], null));
                    entries[(crd.Group, version.Name, scale.Name)] = scale;
                }
                if (!byGroup.TryGetValue(crd.Group, out var list)) byGroup[crd.Group] = list = [];
                list.Add((version, crd));
            }
        }

        var groups = new Dictionary<string, byte[]>(StringComparer.Ordinal);
        var groupVersions = new Dictionary<string, byte[]>(StringComparer.Ordinal);
        var groupList = new List<JsonObject>();
        foreach (var (group, served) in byGroup)
        {
            var versions = served.Select(s => s.Version.Name).Distinct().OrderBy(v => v, KubeVersionComparer.Instance).ToList();
            var document = GroupDocument(group, versions);
            groups[group] = Encoding.UTF8.GetBytes(document.ToJsonString());
            document.Remove("kind");
            document.Remove("apiVersion");
            groupList.Add(document);
            foreach (var v in versions)
            {
                var resources = served.Where(s => s.Version.Name == v).OrderBy(s => s.Crd.Accepted.Plural, StringComparer.Ordinal).ToList();
                groupVersions[$"{group}/{v}"] = Render(w => WriteResourceList(w, group, v, resources, entries));
            }
        }
        var custom = entries.Values.ToHashSet();
        Volatile.Write(ref _current, new Snapshot(entries, groups, groupVersions, groupList, custom));
    }

    private static ApiResourceEntry Reuse(Snapshot previous, ApiResourceEntry entry)
        => previous.Entries.TryGetValue((entry.Group, entry.Version, entry.Name), out var old) && Same(old, entry) ? old : entry;

    private static bool Same(ApiResourceEntry a, ApiResourceEntry b)
        => a.Namespaced == b.Namespaced && a.Kind == b.Kind && a.StorageVersionHash == b.StorageVersionHash
            && a.ShortNames.SequenceEqual(b.ShortNames) && a.Categories.SequenceEqual(b.Categories);

    /// <summary>Upstream discovery.StorageVersionHash: the first 8 bytes of sha256("group/version/kind"), base64.</summary>
    public static string StorageVersionHash(string group, string version, string kind)
        => Convert.ToBase64String(SHA256.HashData(Encoding.UTF8.GetBytes($"{group}/{version}/{kind}")).AsSpan(0, 8));

    public byte[]? GroupList(byte[] builtIn)
    {
        var items = Volatile.Read(ref _current).GroupListItems;
        if (items.Count == 0) return null;
        var list = JsonNode.Parse(builtIn)!.AsObject();
        var groups = list["groups"] as JsonArray ?? [];
        // CRD groups get upstream's lowest group priority (1000), so they follow the built-in ones in name order.
        foreach (var g in items) groups.Add(g.DeepClone());
        list["groups"] = groups;
        return Encoding.UTF8.GetBytes(list.ToJsonString());
    }

    public byte[]? Group(string name) => Volatile.Read(ref _current).Groups.GetValueOrDefault(name);

    public byte[]? GroupVersion(string group, string version) => Volatile.Read(ref _current).GroupVersions.GetValueOrDefault($"{group}/{version}");

    private static JsonObject GroupDocument(string group, List<string> versions)
    {
        JsonObject Version(string v) => new() { ["groupVersion"] = $"{group}/{v}", ["version"] = v };
        return new JsonObject
        {
            ["kind"] = "APIGroup",
            ["apiVersion"] = "v1",
            ["name"] = group,
            ["versions"] = new JsonArray([.. versions.Select(v => (JsonNode)Version(v))]),
            ["preferredVersion"] = Version(versions[0]),
        };
    }

    private static void WriteResourceList(Utf8JsonWriter w, string group, string version,
        List<(CustomResourceVersion Version, CustomResourceDefinitionInfo Crd)> resources, Dictionary<(string, string, string), ApiResourceEntry> entries)
    {
        w.WriteStartObject();
        w.WriteString("kind", "APIResourceList");
        w.WriteString("apiVersion", "v1");
        w.WriteString("groupVersion", $"{group}/{version}");
        w.WriteStartArray("resources");
        foreach (var (v, crd) in resources)
        {
            var plural = crd.Accepted.Plural;
            foreach (var name in (string[])[plural, plural + "/status", plural + "/scale"])
            {
                if (!entries.TryGetValue((group, version, name), out var e)) continue;
                DiscoveryDocuments.WriteResource(w, e, e.IsSubresource ? "" : crd.Accepted.Singular);
            }
        }
        w.WriteEndArray();
        w.WriteEndObject();
    }

    private static byte[] Render(Action<Utf8JsonWriter> write)
    {
        var buffer = new ArrayBufferWriter<byte>(1024);
        using (var w = new Utf8JsonWriter(buffer, ObjectEncoder.WriterOptions)) write(w);
        return buffer.WrittenSpan.ToArray();
    }
}

using System.Buffers.Text;

namespace Kcm.ApiServer.Storage;

/// <summary>
/// One immutable stored version of an object: its exact JSON (kind and apiVersion first, so list items can
/// be written without them) plus what selectors need. The resourceVersion string's position is kept so a
/// new revision can be spliced in without re-serializing.
/// </summary>
public sealed class StoredObject
{
    public StoredObject(string key, string @namespace, string name, string uid, long resourceVersion, byte[] json,
        int itemStart, int rvStart, int rvLength, IReadOnlyDictionary<string, string>? labels, IReadOnlyDictionary<string, string> fields)
    {
        Key = key;
        Namespace = @namespace;
        Name = name;
        Uid = uid;
        ResourceVersion = resourceVersion;
        Json = json;
        ItemStart = itemStart;
        RvStart = rvStart;
        RvLength = rvLength;
        Labels = labels;
        Fields = fields;
    }

    /// <summary>"namespace/name" or "name": ordinal order of keys is the list order, as etcd key order upstream.</summary>
    public string Key { get; }
    public string Namespace { get; }
    public string Name { get; }
    public string Uid { get; }
    public long ResourceVersion { get; }
    public byte[] Json { get; }
    public IReadOnlyDictionary<string, string>? Labels { get; }
    public IReadOnlyDictionary<string, string> Fields { get; }

    /// <summary>Index of the first member after kind/apiVersion; the list-item form is "{" + Json[ItemStart..].</summary>
    internal int ItemStart { get; }
    internal int RvStart { get; }
    internal int RvLength { get; }

    public ReadOnlySpan<byte> ItemTail => Json.AsSpan(ItemStart);

    public static string MakeKey(string @namespace, string name) => @namespace.Length == 0 ? name : $"{@namespace}/{name}";

    /// <summary>The same object with metadata.resourceVersion replaced (used on commit and for DELETED events).</summary>
    public StoredObject WithResourceVersion(long rv)
    {
        Span<byte> digits = stackalloc byte[20];
        Utf8Formatter.TryFormat(rv, digits, out var n);
        var json = new byte[Json.Length - RvLength + n];
        Json.AsSpan(0, RvStart).CopyTo(json);
        digits[..n].CopyTo(json.AsSpan(RvStart));
        Json.AsSpan(RvStart + RvLength).CopyTo(json.AsSpan(RvStart + n));
        var shift = n - RvLength;
        var itemStart = ItemStart > RvStart ? ItemStart + shift : ItemStart;
        return new StoredObject(Key, Namespace, Name, Uid, rv, json, itemStart, RvStart, n, Labels, Fields);
    }

    /// <summary>The same object without metadata.resourceVersion, for answers about versions never committed (dry-run create).</summary>
    public StoredObject WithoutResourceVersion()
    {
        // The placeholder is always preceded by another metadata member (name), so its leading comma goes with it.
        ReadOnlySpan<byte> member = ",\"resourceVersion\":\""u8;
        var start = RvStart - member.Length;
        if (start < 0 || !Json.AsSpan(start, member.Length).SequenceEqual(member)) return this;
        var end = RvStart + RvLength + 1;
        var json = new byte[Json.Length - (end - start)];
        Json.AsSpan(0, start).CopyTo(json);
        Json.AsSpan(end).CopyTo(json.AsSpan(start));
        return new StoredObject(Key, Namespace, Name, Uid, 0, json, ItemStart, start, 0, Labels, Fields);
    }

    /// <summary>True when both versions hold the same content apart from their resourceVersion.</summary>
    public bool SameContentAs(StoredObject other)
    {
        return Json.AsSpan(0, RvStart).SequenceEqual(other.Json.AsSpan(0, other.RvStart))
            && Json.AsSpan(RvStart + RvLength).SequenceEqual(other.Json.AsSpan(other.RvStart + other.RvLength));
    }
}

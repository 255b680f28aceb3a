using Kcm.Api;

namespace Kcm.Runtime.Informers;

/// <summary>
/// An object's cache and work-queue key: "namespace/name", or "name" for cluster-scoped objects
/// (client-go's MetaNamespaceKeyFunc). An empty namespace is stored as null.
/// </summary>
public readonly record struct ObjectKey
{
    public ObjectKey(string? @namespace, string name)
    {
        Namespace = string.IsNullOrEmpty(@namespace) ? null : @namespace;
        Name = name;
    }

    public string? Namespace { get; }

    public string Name { get; }

    public static ObjectKey Of(IKubernetesObject obj)
        => new(obj.Metadata?.Namespace, obj.Metadata?.Name ?? throw new ArgumentException("the object has no metadata.name", nameof(obj)));

    public static ObjectKey Parse(string key)
        => TryParse(key, out var parsed) ? parsed : throw new FormatException($"unexpected key format: \"{key}\"");

    public static bool TryParse(string? key, out ObjectKey result)
    {
        result = default;
        if (string.IsNullOrEmpty(key))
        {
            return false;
        }
        var slash = key.IndexOf('/');
        if (slash < 0)
        {
            result = new ObjectKey(null, key);
            return true;
        }
        var name = key[(slash + 1)..];
        if (name.Length == 0 || name.Contains('/'))
        {
            return false;
        }
        result = new ObjectKey(key[..slash], name);
        return true;
    }

    public override string ToString() => Namespace is null ? Name : $"{Namespace}/{Name}";
}

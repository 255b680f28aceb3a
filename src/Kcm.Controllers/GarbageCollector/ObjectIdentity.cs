using Kcm.Controllers.Common;

namespace Kcm.Controllers.GarbageCollector;

/// <summary>
/// Upstream's objectReference: an owner reference's coordinates plus the namespace the object lives in (or, for
/// a virtual owner, the namespace of the dependent that referred to it). An empty namespace is stored as null.
/// </summary>
public sealed record ObjectIdentity
{
    public ObjectIdentity(string apiVersion, string kind, string? @namespace, string name, string uid)
    {
        ApiVersion = apiVersion;
        Kind = kind;
        Namespace = string.IsNullOrEmpty(@namespace) ? null : @namespace;
        Name = name;
        Uid = uid;
    }

    public string ApiVersion { get; }

    public string Kind { get; }

    public string? Namespace { get; }

    public string Name { get; }

    public string Uid { get; }

    public bool IsNamespaced => Namespace is not null;

    public static ObjectIdentity OfOwner(OwnerRef owner, string? @namespace) => new(owner.ApiVersion, owner.Kind, @namespace, owner.Name, owner.Uid);

    public ObjectIdentity WithNamespace(string? @namespace) => new(ApiVersion, Kind, @namespace, Name, Uid);

    /// <summary>Upstream ownerReferenceMatchesCoordinates.</summary>
    public bool MatchesCoordinates(OwnerRef owner)
        => owner.Uid == Uid && owner.Name == Name && owner.Kind == Kind && owner.ApiVersion == ApiVersion;

    public override string ToString() => $"[{ApiVersion}/{Kind}, namespace: {Namespace}, name: {Name}, uid: {Uid}]";
}

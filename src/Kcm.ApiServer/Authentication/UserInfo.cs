namespace Kcm.ApiServer.Authentication;

/// <summary>The authenticated caller, as user.Info upstream (name, uid, groups, extra).</summary>
public sealed record UserInfo(string Name, string Uid, IReadOnlyList<string> Groups, IReadOnlyDictionary<string, IReadOnlyList<string>> Extra)
{
    public const string AuthenticatedGroup = "system:authenticated";
    public const string UnauthenticatedGroup = "system:unauthenticated";
    public const string AnonymousUser = "system:anonymous";
    public const string MastersGroup = "system:masters";

    public static readonly IReadOnlyDictionary<string, IReadOnlyList<string>> NoExtra = new Dictionary<string, IReadOnlyList<string>>();

    /// <summary>Adds system:authenticated as upstream's AuthenticatedGroupAdder does for every non-anonymous user.</summary>
    public UserInfo WithAuthenticatedGroup()
    {
        if (Name == AnonymousUser || Groups.Contains(AuthenticatedGroup) || Groups.Contains(UnauthenticatedGroup)) return this;
        return this with { Groups = [.. Groups, AuthenticatedGroup] };
    }
}

namespace Kcm.ApiServer.Authentication;

/// <summary>The authenticated caller, as user.Info upstream (name, uid, groups, extra).</summary>
public sealed record UserInfo(string Name, string Uid, IReadOnlyList<string> Groups, IReadOnlyDictionary<string, IReadOnlyList<string>> Extra)
{
    public const string AuthenticatedGroup = "system:authenticated";
}

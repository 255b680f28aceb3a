namespace Kcm.Serving;

/// <summary>Who made a request to the secure port, as delegated authentication established it.</summary>
public sealed record RequestUser(string Name, IReadOnlyList<string> Groups, string? Uid = null)
{
    public const string Masters = "system:masters";
}

namespace Kcm.Client.Watch;

public enum WatchEventType
{
    Added,
    Modified,
    Deleted,
    Bookmark,
    Error,
}

/// <summary>One decoded watch event. ERROR events are not yielded: they surface as a typed <see cref="Errors.KubeApiException"/>.</summary>
public sealed record WatchEvent<T>(WatchEventType Type, T Object);

public static class WatchEventTypes
{
    public static bool TryParse(string? text, out WatchEventType type)
    {
        switch (text)
        {
            case "ADDED": type = WatchEventType.Added; return true;
            case "MODIFIED": type = WatchEventType.Modified; return true;
            case "DELETED": type = WatchEventType.Deleted; return true;
            case "BOOKMARK": type = WatchEventType.Bookmark; return true;
            case "ERROR": type = WatchEventType.Error; return true;
            default: type = default; return false;
        }
    }

    public static string ToWire(WatchEventType type) => type switch
    {
        WatchEventType.Added => "ADDED",
        WatchEventType.Modified => "MODIFIED",
        WatchEventType.Deleted => "DELETED",
        WatchEventType.Bookmark => "BOOKMARK",
        _ => "ERROR",
    };
}

namespace Kcm.ApiServer.Storage;

public enum WatchEventType
{
    Added,
    Modified,
    Deleted,
    Bookmark,
}

/// <summary>A change as the watch cache keeps it: the new state (for DELETED, the last state at the delete revision) and the previous one.</summary>
public sealed record WatchEvent(WatchEventType Type, long ResourceVersion, StoredObject? Object, StoredObject? Previous);

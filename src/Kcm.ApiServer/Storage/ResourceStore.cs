using System.Collections.Immutable;
using Kcm.ApiServer.Errors;

namespace Kcm.ApiServer.Storage;

/// <summary>
/// Objects of one resource (pods, deployments.apps...) with its own lock, event window and watchers,
/// like one upstream cacher. Revisions come from the store-wide counter, taken under this lock so the
/// window stays in revision order. Objects are built (serialized) by callers before the lock is taken.
/// </summary>
public sealed class ResourceStore
{
    private readonly object _gate = new();
    private readonly RevisionCounter _revisions;
    private readonly WatchEvent?[] _window;
    private readonly int _watcherCapacity;
    private readonly List<Watcher> _watchers = [];
    private ImmutableSortedDictionary<string, StoredObject> _items = ImmutableSortedDictionary.Create<string, StoredObject>(StringComparer.Ordinal);
    private int _windowStart;
    private int _windowCount;
    // Watches and continue tokens from a revision below this one can no longer be served (upstream: oldest-1).
    private long _tooOldBelow;

    internal ResourceStore(string group, string resource, RevisionCounter revisions, int windowSize, int watcherCapacity)
    {
        Group = group;
        Resource = resource;
        _revisions = revisions;
        _window = new WatchEvent?[Math.Max(1, windowSize)];
        _watcherCapacity = watcherCapacity;
        _tooOldBelow = revisions.Current;
    }

    public string Group { get; }
    public string Resource { get; }

    public ImmutableSortedDictionary<string, StoredObject> Items => Volatile.Read(ref _items);

    public StoredObject? Get(string key) => Items.TryGetValue(key, out var o) ? o : null;

    public int Count => Items.Count;

    /// <summary>Commits a new object; <paramref name="candidate"/> carries a placeholder revision.</summary>
    public StoredObject Create(StoredObject candidate)
    {
        lock (_gate)
        {
            if (_items.ContainsKey(candidate.Key)) throw ApiException.AlreadyExists(Group, Resource, candidate.Name);
            var stored = candidate.WithResourceVersion(_revisions.Next());
            Volatile.Write(ref _items, _items.Add(stored.Key, stored));
            AppendLocked(new WatchEvent(WatchEventType.Added, stored.ResourceVersion, stored, null));
            return stored;
        }
    }

    /// <summary>
    /// Replaces <paramref name="expected"/> with <paramref name="candidate"/> if it is still the current
    /// version (optimistic, like etcd's GuaranteedUpdate). Returns null when someone else won the race so the
    /// caller recomputes. An update that changes nothing keeps the revision and emits no event.
    /// </summary>
    public StoredObject? TryUpdate(StoredObject expected, StoredObject candidate)
    {
        if (candidate.SameContentAs(expected))
        {
            return ReferenceEquals(Get(expected.Key), expected) ? expected : null;
        }
        lock (_gate)
        {
            if (!_items.TryGetValue(expected.Key, out var current) || !ReferenceEquals(current, expected)) return null;
            var stored = candidate.WithResourceVersion(_revisions.Next());
            Volatile.Write(ref _items, _items.SetItem(stored.Key, stored));
            AppendLocked(new WatchEvent(WatchEventType.Modified, stored.ResourceVersion, stored, current));
            return stored;
        }
    }

    /// <summary>Removes <paramref name="expected"/> if still current; returns the object as of its deletion revision, or null on a lost race.</summary>
    public StoredObject? TryDelete(StoredObject expected)
    {
        lock (_gate)
        {
            if (!_items.TryGetValue(expected.Key, out var current) || !ReferenceEquals(current, expected)) return null;
            var deleted = current.WithResourceVersion(_revisions.Next());
            Volatile.Write(ref _items, _items.Remove(current.Key));
            AppendLocked(new WatchEvent(WatchEventType.Deleted, deleted.ResourceVersion, deleted, current));
            return deleted;
        }
    }

    private void AppendLocked(WatchEvent e)
    {
        if (_windowCount == _window.Length)
        {
            _window[_windowStart] = null;
            _windowStart = (_windowStart + 1) % _window.Length;
            _windowCount--;
            _tooOldBelow = _window[_windowStart]!.ResourceVersion - 1;
        }
        _window[(_windowStart + _windowCount) % _window.Length] = e;
        _windowCount++;
        foreach (var w in _watchers) w.Offer(e);
    }

    /// <summary>Items plus the revision they are current at (for list).</summary>
    public (ImmutableSortedDictionary<string, StoredObject> Items, long Revision) Snapshot()
    {
        lock (_gate)
        {
            return (_items, _revisions.Current);
        }
    }

    /// <summary>The items as they were at <paramref name="revision"/>, rebuilt by undoing newer events from the window.</summary>
    public ImmutableSortedDictionary<string, StoredObject> SnapshotAt(long revision, Func<ApiException> tooOld)
    {
        ImmutableSortedDictionary<string, StoredObject> items;
        List<WatchEvent> newer;
        lock (_gate)
        {
            if (revision < _tooOldBelow) throw tooOld();
            items = _items;
            newer = EventsAfterLocked(revision);
        }
        if (newer.Count == 0) return items;
        var builder = items.ToBuilder();
        for (var i = newer.Count - 1; i >= 0; i--)
        {
            var e = newer[i];
            if (e.Previous is null) builder.Remove(e.Object!.Key);
            else builder[e.Previous.Key] = e.Previous;
        }
        return builder.ToImmutable();
    }

    private List<WatchEvent> EventsAfterLocked(long revision)
    {
        var result = new List<WatchEvent>();
        // Walk back from the newest; the window is in revision order.
        var i = _windowCount - 1;
        while (i >= 0 && _window[(_windowStart + i) % _window.Length]!.ResourceVersion > revision) i--;
        for (var j = i + 1; j < _windowCount; j++) result.Add(_window[(_windowStart + j) % _window.Length]!);
        return result;
    }

    /// <summary>
    /// Starts a watch. Revision 0 (or none) gets synthetic ADDED events for every current object; a revision N
    /// gets every retained event after N, or a 410 Expired when N is older than the window.
    /// </summary>
    public Watcher Watch(long? fromRevision)
    {
        lock (_gate)
        {
            IReadOnlyList<WatchEvent> initial;
            if (fromRevision is null or 0)
            {
                var list = new List<WatchEvent>(_items.Count);
                foreach (var o in _items.Values) list.Add(new WatchEvent(WatchEventType.Added, o.ResourceVersion, o, null));
                initial = list;
            }
            else
            {
                var rv = fromRevision.Value;
                if (rv < _tooOldBelow)
                {
                    throw ApiException.Expired($"too old resource version: {rv} ({_tooOldBelow})");
                }
                initial = EventsAfterLocked(rv);
            }
            var watcher = new Watcher(initial, _watcherCapacity, Unregister);
            _watchers.Add(watcher);
            return watcher;
        }
    }

    /// <summary>Queues a BOOKMARK at the current revision behind every event already sent to this watcher.</summary>
    public void Bookmark(Watcher watcher)
    {
        lock (_gate)
        {
            watcher.Offer(new WatchEvent(WatchEventType.Bookmark, _revisions.Current, null, null));
        }
    }

    private void Unregister(Watcher watcher)
    {
        lock (_gate)
        {
            _watchers.Remove(watcher);
        }
    }

    internal void CloseWatchers()
    {
        lock (_gate)
        {
            foreach (var w in _watchers) w.Close();
        }
    }
}

/// <summary>The single monotonic resourceVersion counter shared by every resource (etcd's revision).</summary>
public sealed class RevisionCounter
{
    private long _current;

    public RevisionCounter(long start) => _current = start;

    public long Current => Interlocked.Read(ref _current);

    public long Next() => Interlocked.Increment(ref _current);
}

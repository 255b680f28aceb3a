namespace Kcm.Runtime.Informers;

/// <summary>
/// What controllers read from an informer's cache. Objects are shared with every other reader:
/// never mutate them, copy first (client-go's rule for listers).
/// </summary>
public interface IObjectCache<T>
    where T : class
{
    int Count { get; }

    IReadOnlyList<T> List();

    IReadOnlyList<ObjectKey> ListKeys();

    T? Get(ObjectKey key);

    /// <summary>Objects indexed under <paramref name="indexValue"/> by the named indexer.</summary>
    IReadOnlyList<T> ByIndex(string indexName, string indexValue);

    IReadOnlyList<ObjectKey> IndexKeys(string indexName, string indexValue);

    /// <summary>The values currently present in the named index.</summary>
    IReadOnlyList<string> IndexValues(string indexName);
}

public sealed class UnknownIndexerException(string indexName) : InvalidOperationException($"indexer \"{indexName}\" does not exist");

public sealed class IndexerConflictException(string indexName) : InvalidOperationException($"indexer \"{indexName}\" already exists");

/// <summary>An object cache keyed by <see cref="ObjectKey"/> with secondary indexes kept current on every write.</summary>
public sealed class ThreadSafeStore<T> : IObjectCache<T>
    where T : class
{
    private static readonly IReadOnlyList<T> NoObjects = [];
    private readonly object _lock = new();
    private readonly Func<T, ObjectKey> _keyOf;
    private readonly Dictionary<ObjectKey, T> _items = [];
    private readonly Dictionary<string, IndexFunc<T>> _indexers = [];
    private readonly Dictionary<string, Dictionary<string, HashSet<ObjectKey>>> _indices = [];

    public ThreadSafeStore(Func<T, ObjectKey> keyOf, IEnumerable<KeyValuePair<string, IndexFunc<T>>>? indexers = null)
    {
        _keyOf = keyOf;
        foreach (var (name, indexFunc) in indexers ?? [])
        {
            AddIndexer(name, indexFunc);
        }
    }

    public int Count
    {
        get
        {
            lock (_lock)
            {
                return _items.Count;
            }
        }
    }

    /// <summary>Adds an index, built at once over the objects already cached.</summary>
    public void AddIndexer(string name, IndexFunc<T> indexFunc)
    {
        lock (_lock)
        {
            if (!_indexers.TryAdd(name, indexFunc))
            {
                throw new IndexerConflictException(name);
            }
            var index = new Dictionary<string, HashSet<ObjectKey>>();
            _indices[name] = index;
            foreach (var (key, obj) in _items)
            {
                foreach (var value in indexFunc(obj))
                {
                    AddToIndex(index, value, key);
                }
            }
        }
    }

    public bool HasIndexer(string name)
    {
        lock (_lock)
        {
            return _indexers.ContainsKey(name);
        }
    }

    /// <summary>Adds or replaces the object; returns the object it replaced, if any.</summary>
    public T? Upsert(T obj)
    {
        var key = _keyOf(obj);
        lock (_lock)
        {
            _items.TryGetValue(key, out var old);
            _items[key] = obj;
            UpdateIndices(key, old, obj);
            return old;
        }
    }

    /// <summary>Removes the object with this key; returns it, if it was cached.</summary>
    public T? Delete(ObjectKey key)
    {
        lock (_lock)
        {
            if (!_items.Remove(key, out var old))
            {
                return null;
            }
            UpdateIndices(key, old, null);
            return old;
        }
    }

    public T? Get(ObjectKey key)
    {
        lock (_lock)
        {
            return _items.GetValueOrDefault(key);
        }
    }

    public IReadOnlyList<T> List()
    {
        lock (_lock)
        {
            return [.. _items.Values];
        }
    }

    public IReadOnlyList<ObjectKey> ListKeys()
    {
        lock (_lock)
        {
            return [.. _items.Keys];
        }
    }

    public IReadOnlyList<T> ByIndex(string indexName, string indexValue)
    {
        lock (_lock)
        {
            if (!_indices.TryGetValue(indexName, out var index))
            {
                throw new UnknownIndexerException(indexName);
            }
            if (!index.TryGetValue(indexValue, out var keys))
            {
                return NoObjects;
            }
            var result = new T[keys.Count];
            var i = 0;
            foreach (var key in keys) result[i++] = _items[key];
            return result;
        }
    }

    public IReadOnlyList<ObjectKey> IndexKeys(string indexName, string indexValue)
    {
        lock (_lock)
        {
            if (!_indices.TryGetValue(indexName, out var index))
            {
                throw new UnknownIndexerException(indexName);
            }
            return index.TryGetValue(indexValue, out var keys) ? [.. keys] : [];
        }
    }

    public IReadOnlyList<string> IndexValues(string indexName)
    {
        lock (_lock)
        {
            return _indices.TryGetValue(indexName, out var index) ? [.. index.Keys] : throw new UnknownIndexerException(indexName);
        }
    }

    private void UpdateIndices(ObjectKey key, T? old, T? current)
    {
        foreach (var (name, indexFunc) in _indexers)
        {
            var index = _indices[name];
            var oldList = old is null ? null : indexFunc(old);
            var newList = current is null ? null : indexFunc(current);
            if (SameValues(oldList, newList))
            {
                // An update that keeps the object under the same values (nearly every one): nothing moves.
                continue;
            }
            var oldValues = oldList is null ? [] : oldList.ToHashSet();
            var newValues = newList is null ? [] : newList.ToHashSet();
            foreach (var value in oldValues)
            {
                if (!newValues.Contains(value) && index.TryGetValue(value, out var keys))
                {
                    keys.Remove(key);
                    if (keys.Count == 0)
                    {
                        index.Remove(value); // Keeps the index from growing with values nobody holds any more.
                    }
                }
            }
            foreach (var value in newValues)
            {
                AddToIndex(index, value, key);
            }
        }
    }

    private static bool SameValues(IEnumerable<string>? a, IEnumerable<string>? b)
    {
        if (a is not IReadOnlyList<string> x || b is not IReadOnlyList<string> y || x.Count != y.Count)
        {
            return false;
        }
        for (var i = 0; i < x.Count; i++)
        {
            if (!string.Equals(x[i], y[i], StringComparison.Ordinal))
            {
                return false;
            }
        }
        return true;
    }

    private static void AddToIndex(Dictionary<string, HashSet<ObjectKey>> index, string value, ObjectKey key)
    {
        if (!index.TryGetValue(value, out var keys))
        {
            keys = [];
            index[value] = keys;
        }
        keys.Add(key);
    }
}

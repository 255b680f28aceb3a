using System.Collections.Concurrent;
using System.Diagnostics.CodeAnalysis;

namespace Kcm.Runtime.Informers;

/// <summary>
/// One shared instance of strings that repeat across thousands of cached objects (namespaces, label keys and values,
/// owner kinds, images, well-known paths): every decoded object otherwise carries its own copy of each. Bounded:
/// once full, strings not yet pooled come back as they are, so high-cardinality values (names, uids) passed by
/// mistake cannot grow it without end.
/// </summary>
public static class CachedStrings
{
    private const int Capacity = 32_768;
    private static readonly ConcurrentDictionary<string, string> Pool = new(StringComparer.Ordinal);
    private static int _count;

    [return: NotNullIfNotNull(nameof(value))]
    public static string? Dedupe(string? value)
    {
        if (value is null)
        {
            return null;
        }
        if (value.Length == 0)
        {
            return string.Empty;
        }
        if (Pool.TryGetValue(value, out var shared))
        {
            return shared;
        }
        // ConcurrentDictionary.Count takes every lock; a racy counter only has to keep the pool roughly bounded.
        if (Volatile.Read(ref _count) >= Capacity)
        {
            return value;
        }
        shared = Pool.GetOrAdd(value, value);
        if (ReferenceEquals(shared, value))
        {
            Interlocked.Increment(ref _count);
        }
        return shared;
    }
}

namespace Kcm.Api.Quota;

/// <summary>
/// Arithmetic on resource lists (resource name → quantity) as k8s.io/apiserver/pkg/quota/v1 does it. Every method
/// returns a new dictionary; inputs may be null (an absent list).
/// </summary>
public static class ResourceLists
{
    /// <summary>a + b per resource; a resource in only one of them keeps its value.</summary>
    public static Dictionary<string, Quantity> Add(IReadOnlyDictionary<string, Quantity>? a, IReadOnlyDictionary<string, Quantity>? b)
    {
        var result = Copy(a);
        foreach (var (name, value) in b ?? Empty)
        {
            result[name] = result.TryGetValue(name, out var existing) ? existing.Add(value) : value;
        }
        return result;
    }

    /// <summary>a - b per resource; a resource only in b is taken as negative.</summary>
    public static Dictionary<string, Quantity> Subtract(IReadOnlyDictionary<string, Quantity>? a, IReadOnlyDictionary<string, Quantity>? b)
    {
        var result = Copy(a);
        foreach (var (name, value) in b ?? Empty)
        {
            result[name] = result.TryGetValue(name, out var existing) ? existing.Subtract(value) : value.Negate();
        }
        return result;
    }

    /// <summary>a - b per resource, floored at zero.</summary>
    public static Dictionary<string, Quantity> SubtractWithNonNegativeResult(IReadOnlyDictionary<string, Quantity>? a, IReadOnlyDictionary<string, Quantity>? b)
    {
        var result = new Dictionary<string, Quantity>(StringComparer.Ordinal);
        foreach (var (name, value) in a ?? Empty)
        {
            var difference = b is not null && b.TryGetValue(name, out var other) ? value.Subtract(other) : value;
            result[name] = difference.Sign > 0 ? difference : Quantity.Zero;
        }
        foreach (var name in (b ?? Empty).Keys)
        {
            result.TryAdd(name, Quantity.Zero);
        }
        return result;
    }

    /// <summary>The larger value per resource (b's on a tie, for its format); a resource in only one keeps its value.</summary>
    public static Dictionary<string, Quantity> Max(IReadOnlyDictionary<string, Quantity>? a, IReadOnlyDictionary<string, Quantity>? b)
    {
        var result = Copy(a);
        foreach (var (name, value) in b ?? Empty)
        {
            if (!result.TryGetValue(name, out var existing) || value.CompareTo(existing) >= 0) result[name] = value;
        }
        return result;
    }

    /// <summary>Only the entries whose names are in <paramref name="names"/>.</summary>
    public static Dictionary<string, Quantity> Mask(IReadOnlyDictionary<string, Quantity>? list, IEnumerable<string> names)
    {
        var keep = names as IReadOnlySet<string> ?? names.ToHashSet(StringComparer.Ordinal);
        var result = new Dictionary<string, Quantity>(StringComparer.Ordinal);
        foreach (var (name, value) in list ?? Empty)
        {
            if (keep.Contains(name)) result[name] = value;
        }
        return result;
    }

    /// <summary>Same resource names with equal values (quota.Equals; null and empty are equal).</summary>
    public static bool Equal(IReadOnlyDictionary<string, Quantity>? a, IReadOnlyDictionary<string, Quantity>? b)
    {
        a ??= Empty;
        b ??= Empty;
        if (a.Count != b.Count) return false;
        foreach (var (name, value) in a)
        {
            if (!b.TryGetValue(name, out var other) || value.CompareTo(other) != 0) return false;
        }
        return true;
    }

    /// <summary>
    /// Whether every value of <paramref name="a"/> that <paramref name="b"/> limits is within the limit; also the
    /// names that exceed it (quota.LessThanOrEqual).
    /// </summary>
    public static (bool Within, IReadOnlyList<string> Exceeded) LessThanOrEqual(IReadOnlyDictionary<string, Quantity>? a, IReadOnlyDictionary<string, Quantity>? b)
    {
        var exceeded = new List<string>();
        foreach (var (name, value) in a ?? Empty)
        {
            if (b is not null && b.TryGetValue(name, out var limit) && value.CompareTo(limit) > 0) exceeded.Add(name);
        }
        return (exceeded.Count == 0, exceeded);
    }

    /// <summary>The names with a negative value.</summary>
    public static IReadOnlyList<string> Negative(IReadOnlyDictionary<string, Quantity>? list)
        => (list ?? Empty).Where(e => e.Value.Sign < 0).Select(e => e.Key).ToList();

    /// <summary>Without the zero entries.</summary>
    public static Dictionary<string, Quantity> RemoveZeros(IReadOnlyDictionary<string, Quantity>? list)
        => (list ?? Empty).Where(e => !e.Value.IsZero).ToDictionary(e => e.Key, e => e.Value, StringComparer.Ordinal);

    /// <summary>The names of <paramref name="a"/> that are also in <paramref name="b"/>, in a's order, without repeats.</summary>
    public static List<string> Intersection(IEnumerable<string> a, IEnumerable<string> b)
    {
        var other = b.ToHashSet(StringComparer.Ordinal);
        return a.Where(other.Contains).Distinct(StringComparer.Ordinal).ToList();
    }

    /// <summary>"name=value" pairs sorted by name, comma-separated, as quota admission prints them.</summary>
    public static string Print(IReadOnlyDictionary<string, Quantity>? list)
        => string.Join(",", (list ?? Empty).OrderBy(e => e.Key, StringComparer.Ordinal).Select(e => $"{e.Key}={e.Value}"));

    /// <summary>The same entries in name order, as Go writes a map (so stored JSON reads the same on either server).</summary>
    public static Dictionary<string, Quantity> Sorted(IReadOnlyDictionary<string, Quantity>? list)
        => (list ?? Empty).OrderBy(e => e.Key, StringComparer.Ordinal).ToDictionary(e => e.Key, e => e.Value, StringComparer.Ordinal);

    public static Dictionary<string, Quantity> Copy(IReadOnlyDictionary<string, Quantity>? list)
        => list is null ? new(StringComparer.Ordinal) : new(list, StringComparer.Ordinal);

    private static readonly IReadOnlyDictionary<string, Quantity> Empty = new Dictionary<string, Quantity>();
}

using Kcm.Controllers;
using Kcm.Manager;

namespace Kcm.Options;

/// <summary>
/// The names `--controllers` understands: the descriptors of the registry, in upstream's
/// order.
/// </summary>
public static class KnownControllers
{
    public static IReadOnlyList<ControllerDescriptor> All { get; } = [.. ControllerRegistry.All.Select(c => c.Descriptor)];

    public static IReadOnlyList<string> Names { get; } = [.. All.Select(c => c.Name).Order(StringComparer.Ordinal)];

    public static IReadOnlyList<string> DisabledByDefault { get; } = [.. All.Where(c => !c.EnabledByDefault).Select(c => c.Name).Order(StringComparer.Ordinal)];

    public static bool IsKnown(string name) => ControllerRegistry.Find(name) is not null;

    /// <summary>
    /// Upstream's rule: the first entry naming the controller wins (`name` on, `-name` off); otherwise
    /// `*` turns on everything enabled by default; without `*` nothing else is on.
    /// </summary>
    public static bool IsEnabled(string name, IReadOnlyList<string> selection)
    {
        var hasStar = false;
        foreach (var entry in selection)
        {
            if (entry == name) return true;
            if (entry == "-" + name) return false;
            if (entry == "*") hasStar = true;
        }
        return hasStar && !DisabledByDefault.Contains(name);
    }

    /// <summary>One error per entry that is neither `*` nor a known name (with or without a leading `-`).</summary>
    public static IEnumerable<string> Validate(IReadOnlyList<string> selection)
    {
        foreach (var entry in selection)
        {
            if (entry == "*") continue;
            var name = entry.StartsWith('-') ? entry[1..] : entry;
            if (!IsKnown(name)) yield return $"\"{name}\" is not in the list of known controllers (known: {string.Join(", ", Names)})";
        }
    }
}

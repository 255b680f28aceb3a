using System.Text.RegularExpressions;

namespace Kcm.Differ;

/// <summary>
/// klog error lines of one run, split by the namespace they name. Runs share the cluster and leave their namespaces
/// behind, so the manager of a later run also reconciles the objects of earlier runs (ours always runs after
/// upstream): its lines about those namespaces say nothing about how it treats its own scenario.
/// </summary>
public sealed partial record ErrorLines(int Own, int Foreign)
{
    public static ErrorLines Count(IEnumerable<string> lines, string ns)
    {
        int own = 0, foreign = 0;
        foreach (var line in lines)
        {
            if (!ErrorLine().IsMatch(line)) continue;
            if (RunNamespace().Matches(line).Any(m => m.Value != ns)) foreign++;
            else own++;
        }
        return new ErrorLines(own, foreign);
    }

    [GeneratedRegex(@"^E\d{4} ")]
    private static partial Regex ErrorLine();

    // Runner names its namespaces differ-<scenario>-<upstream|ours>-<5 hex digits>.
    [GeneratedRegex(@"\bdiffer-[a-z0-9-]+?-(?:upstream|ours)-[0-9a-f]{5}\b")]
    private static partial Regex RunNamespace();
}

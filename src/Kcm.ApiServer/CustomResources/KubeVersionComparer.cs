using System.Globalization;
using System.Text.RegularExpressions;

namespace Kcm.ApiServer.CustomResources;

/// <summary>
/// Upstream's version.CompareKubeAwareVersionStrings order, highest first: GA (v2 before v1), then beta, then alpha
/// (by major, then minor), then any other string in alphabetical order.
/// </summary>
public sealed partial class KubeVersionComparer : IComparer<string>
{
    public static readonly KubeVersionComparer Instance = new();

    [GeneratedRegex(@"^v(\d+)(?:(alpha|beta)(\d+))?$")]
    private static partial Regex KubeVersion();

    public int Compare(string? x, string? y)
    {
        var a = Rank(x ?? "");
        var b = Rank(y ?? "");
        if (a.Kube != b.Kube) return a.Kube ? -1 : 1;
        if (!a.Kube) return string.CompareOrdinal(x, y);
        if (a.Stability != b.Stability) return b.Stability.CompareTo(a.Stability);
        if (a.Major != b.Major) return b.Major.CompareTo(a.Major);
        return b.Minor.CompareTo(a.Minor);
    }

    private static (bool Kube, int Stability, long Major, long Minor) Rank(string v)
    {
        var m = KubeVersion().Match(v);
        if (!m.Success) return (false, 0, 0, 0);
        var major = long.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture);
        if (!m.Groups[2].Success) return (true, 3, major, 0);
        var minor = long.Parse(m.Groups[3].Value, CultureInfo.InvariantCulture);
        return (true, m.Groups[2].Value == "beta" ? 2 : 1, major, minor);
    }
}

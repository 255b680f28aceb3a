using System.Text.RegularExpressions;

namespace Kcm.Differ;

/// <summary>
/// The distinct messages of one run's klog lines: severity and text, the header (time, pid, file:line) dropped, the
/// run's names normalised, durations and pointers blanked. Lines about an earlier run's namespace are left out (see
/// <see cref="ErrorLines"/>). Compared as sets: which lines a manager writes, not how often, since counts follow timing.
/// </summary>
public static partial class LogMessages
{
    private const int MaxLength = 240;

    public static SortedSet<string> Of(IEnumerable<string> lines, string ns, Func<string, string> normalize)
    {
        var messages = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var line in lines)
        {
            if (Header().Match(line) is not { Success: true } m) continue;
            if (RunNamespace().Matches(line).Any(n => n.Value != ns)) continue;
            var text = Duration().Replace(Pointer().Replace(normalize(m.Groups[2].Value), "0x<ptr>"), "<duration>");
            messages.Add($"{m.Groups[1].Value} {(text.Length > MaxLength ? text[..MaxLength] + "…" : text)}");
        }
        return messages;
    }

    [GeneratedRegex(@"^([IWEF])\d{4} \d{2}:\d{2}:\d{2}\.\d+\s+\d+ [^\]]+\] (.*)$")]
    private static partial Regex Header();

    [GeneratedRegex(@"\bdiffer-[a-z0-9-]+?-(?:upstream|ours)-[0-9a-f]{5}\b")]
    private static partial Regex RunNamespace();

    [GeneratedRegex(@"\b\d+(?:\.\d+)?(?:ns|µs|us|ms|s|m|h)\b")]
    private static partial Regex Duration();

    [GeneratedRegex(@"0x[0-9a-f]{6,}")]
    private static partial Regex Pointer();
}

using System.Globalization;
using Kcm.Api.Core.V1;

namespace Kcm.Simulator.Kubelet;

/// <summary>
/// How long a simulated container runs and the code it exits with. Known from the pod's
/// <see cref="SimulatorOptions.ExitAfterAnnotation"/> or from simple commands (<c>true</c>, <c>false</c>,
/// <c>sleep N</c>, <c>sh -c "sleep N; exit M"</c>); anything else runs until the pod is deleted.
/// </summary>
internal readonly record struct ContainerProgram(TimeSpan Duration, int ExitCode)
{
    private static readonly HashSet<string> Shells = ["sh", "/bin/sh", "bash", "/bin/bash", "/usr/bin/sh", "/usr/bin/bash", "ash", "/bin/ash"];

    /// <summary>The program of a container of <paramref name="pod"/>, or null when it runs for good.</summary>
    public static ContainerProgram? Of(Pod pod, Container container)
    {
        if (pod.Metadata?.Annotations?.TryGetValue(SimulatorOptions.ExitAfterAnnotation, out var value) == true && value is not null)
        {
            return ParseExitAfter(value, out var program, out _) ? program : null;
        }
        List<string> words = [.. container.Command ?? [], .. container.Args ?? []];
        return FromWords(words);
    }

    /// <summary>Parses "&lt;duration&gt;:&lt;code&gt;" (duration as Go writes it: 500ms, 3s, 1m30s, or bare seconds).</summary>
    public static bool ParseExitAfter(string value, out ContainerProgram program, out string? error)
    {
        program = default;
        var colon = value.LastIndexOf(':');
        if (colon <= 0 || !int.TryParse(value[(colon + 1)..], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var code))
        {
            error = $"{SimulatorOptions.ExitAfterAnnotation} must be \"<duration>:<exit code>\", got \"{value}\"";
            return false;
        }
        if (!TryParseDuration(value[..colon], out var duration))
        {
            error = $"{SimulatorOptions.ExitAfterAnnotation}: invalid duration \"{value[..colon]}\"";
            return false;
        }
        program = new ContainerProgram(duration, code);
        error = null;
        return true;
    }

    private static ContainerProgram? FromWords(List<string> words)
    {
        if (words.Count == 0) return null;
        if (words.Count >= 3 && Shells.Contains(words[0]) && words[1] == "-c") return FromScript(words[2]);
        return FromStatement(words);
    }

    // A script of statements separated by ';' or '&&' (a failing statement ends an '&&' chain); its code is the last one's.
    private static ContainerProgram? FromScript(string script)
    {
        var elapsed = TimeSpan.Zero;
        var code = 0;
        var rest = script.Trim();
        while (rest.Length > 0)
        {
            var semi = rest.IndexOf(';');
            var and = rest.IndexOf("&&", StringComparison.Ordinal);
            var end = semi < 0 ? and : and < 0 ? semi : Math.Min(semi, and);
            var statement = (end < 0 ? rest : rest[..end]).Trim();
            var chained = end >= 0 && end == and;
            rest = end < 0 ? "" : rest[(end + (chained ? 2 : 1))..].Trim();
            if (statement.Length == 0) continue;
            var words = statement.Split(' ', StringSplitOptions.RemoveEmptyEntries).ToList();
            if (words[0] == "exit")
            {
                if (words.Count == 1) return new ContainerProgram(elapsed, code);
                return int.TryParse(words[1], NumberStyles.None, CultureInfo.InvariantCulture, out var exit) && words.Count == 2
                    ? new ContainerProgram(elapsed, exit & 0xFF)
                    : null;
            }
            if (FromStatement(words) is not { } step) return null;
            elapsed += step.Duration;
            code = step.ExitCode;
            if (chained && code != 0) return new ContainerProgram(elapsed, code);
        }
        return new ContainerProgram(elapsed, code);
    }

    private static ContainerProgram? FromStatement(List<string> words) => words switch
    {
        ["true" or "/bin/true" or "/usr/bin/true" or ":"] => new ContainerProgram(TimeSpan.Zero, 0),
        ["false" or "/bin/false" or "/usr/bin/false"] => new ContainerProgram(TimeSpan.Zero, 1),
        ["sleep" or "/bin/sleep" or "/usr/bin/sleep", var n] when TryParseDuration(n, out var d) => new ContainerProgram(d, 0),
        _ => null,
    };

    // Bare seconds (sleep's "2", "0.5") or Go durations ("500ms", "1m30s"); sleep's "2s"/"1m" suffixes are a subset.
    private static bool TryParseDuration(string text, out TimeSpan duration)
    {
        duration = TimeSpan.Zero;
        text = text.Trim();
        if (text.Length == 0) return false;
        if (double.TryParse(text, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var seconds))
        {
            duration = TimeSpan.FromSeconds(seconds);
            return true;
        }
        var i = 0;
        while (i < text.Length)
        {
            var start = i;
            while (i < text.Length && (char.IsAsciiDigit(text[i]) || text[i] == '.')) i++;
            if (start == i || !double.TryParse(text[start..i], NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var amount)) return false;
            var unitStart = i;
            while (i < text.Length && char.IsAsciiLetter(text[i])) i++;
            TimeSpan? unit = text[unitStart..i] switch
            {
                "ms" => TimeSpan.FromMilliseconds(1),
                "s" => TimeSpan.FromSeconds(1),
                "m" => TimeSpan.FromMinutes(1),
                "h" => TimeSpan.FromHours(1),
                "d" => TimeSpan.FromDays(1),
                _ => null,
            };
            if (unit is null) return false;
            duration += unit.Value * amount;
        }
        return true;
    }
}

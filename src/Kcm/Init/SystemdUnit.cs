using System.Text;

namespace Kcm.Init;

/// <summary>
/// The controller manager's systemd unit: the guides' template (deploy/kube-controller-manager.service.template,
/// built into the binary) with its ##NAME## placeholders filled per master, as the guides' sed loop fills them, and
/// flags of ExecStart replaced, added or removed on request.
/// </summary>
public static class SystemdUnit
{
    public const string TemplateResource = "kube-controller-manager.service.template";

    public static string DefaultTemplate()
    {
        using var stream = typeof(SystemdUnit).Assembly.GetManifestResourceStream(TemplateResource)
            ?? throw new InvalidOperationException($"resource {TemplateResource} missing from the build");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }

    /// <summary>Fills the placeholders; one left unfilled is an error naming it.</summary>
    public static string Fill(string template, IReadOnlyDictionary<string, string> values, string templateName)
    {
        var text = template;
        foreach (var (name, value) in values) text = text.Replace("##" + name + "##", value, StringComparison.Ordinal);
        var left = text.IndexOf("##", StringComparison.Ordinal);
        if (left >= 0)
        {
            var end = text.IndexOf("##", left + 2, StringComparison.Ordinal);
            var name = end > left ? text[(left + 2)..end] : text[(left + 2)..];
            throw new InitException($"{templateName}: unknown placeholder ##{name}## (known: {string.Join(", ", values.Keys.Select(k => "##" + k + "##"))})");
        }
        if (!text.Contains("\nExecStart=", StringComparison.Ordinal) && !text.StartsWith("ExecStart=", StringComparison.Ordinal))
        {
            throw new InitException($"{templateName}: no ExecStart= line");
        }
        return text;
    }

    /// <summary>
    /// Rewrites ExecStart with each flag in <paramref name="set"/> ("name=value", replacing the flag where it is or
    /// appending it) and without each flag in <paramref name="remove"/>; one flag per continued line, as the guides write it.
    /// </summary>
    public static string Override(string unit, IReadOnlyList<KeyValuePair<string, string>> set, IReadOnlyCollection<string> remove)
    {
        if (set.Count == 0 && remove.Count == 0) return unit;
        var (before, words, after) = SplitExecStart(unit);
        var flags = new List<string>(words.Skip(1));
        foreach (var name in remove)
        {
            if (flags.RemoveAll(f => FlagName(f) == name) == 0) throw new InitException($"--remove-flag {name}: ExecStart has no --{name}");
        }
        foreach (var (name, value) in set)
        {
            var rendered = $"--{name}={value}";
            var index = flags.FindIndex(f => FlagName(f) == name);
            if (index >= 0)
            {
                flags[index] = rendered;
            }
            else
            {
                flags.Add(rendered);
            }
        }
        var sb = new StringBuilder(before).Append("ExecStart=").Append(Quote(words[0]));
        foreach (var flag in flags) sb.Append(" \\\n  ").Append(Quote(flag));
        sb.Append('\n').Append(after);
        return sb.ToString();
    }

    /// <summary>The command of ExecStart as systemd splits it: continuation lines joined, words split, quotes removed.</summary>
    public static IReadOnlyList<string> ParseExecStart(string unit) => SplitExecStart(unit).Words;

    /// <summary>The value ExecStart gives a flag (--name=value or --name value), or null.</summary>
    public static string? FlagValue(IReadOnlyList<string> execStart, string name)
    {
        for (var i = 1; i < execStart.Count; i++)
        {
            if (execStart[i] == "--" + name) return i + 1 < execStart.Count && !execStart[i + 1].StartsWith("--", StringComparison.Ordinal) ? execStart[i + 1] : "true";
            if (execStart[i].StartsWith("--" + name + "=", StringComparison.Ordinal)) return execStart[i][(name.Length + 3)..];
        }
        return null;
    }

    private static string? FlagName(string word)
    {
        if (!word.StartsWith("--", StringComparison.Ordinal)) return null;
        var eq = word.IndexOf('=', StringComparison.Ordinal);
        return eq < 0 ? word[2..] : word[2..eq];
    }

    private static (string Before, List<string> Words, string After) SplitExecStart(string unit)
    {
        var start = unit.StartsWith("ExecStart=", StringComparison.Ordinal) ? 0 : unit.IndexOf("\nExecStart=", StringComparison.Ordinal) + 1;
        if (start < 0 || (start == 0 && !unit.StartsWith("ExecStart=", StringComparison.Ordinal))) throw new InitException("the unit has no ExecStart= line");
        var command = new StringBuilder();
        var position = start + "ExecStart=".Length;
        while (true)
        {
            var newline = unit.IndexOf('\n', position);
            var line = newline < 0 ? unit[position..] : unit[position..newline];
            position = newline < 0 ? unit.Length : newline + 1;
            var trimmed = line.TrimEnd('\r', ' ', '\t');
            if (trimmed.EndsWith('\\'))
            {
                command.Append(trimmed[..^1]).Append(' ');
                continue;
            }
            command.Append(trimmed);
            break;
        }
        var words = SplitWords(command.ToString());
        if (words.Count == 0) throw new InitException("the unit's ExecStart= is empty");
        // systemd's prefixes ("-", "@", "+", "!") say how to run the command; they are not part of the path.
        words[0] = words[0].TrimStart('-', '@', '+', '!', ':');
        return (unit[..start], words, unit[position..]);
    }

    private static List<string> SplitWords(string command)
    {
        var words = new List<string>();
        var current = new StringBuilder();
        var inWord = false;
        char quote = '\0';
        for (var i = 0; i < command.Length; i++)
        {
            var c = command[i];
            if (quote != '\0')
            {
                if (c == quote)
                {
                    quote = '\0';
                }
                else if (c == '\\' && quote == '"' && i + 1 < command.Length)
                {
                    current.Append(command[++i]);
                }
                else
                {
                    current.Append(c);
                }
                continue;
            }
            if (c is ' ' or '\t')
            {
                if (inWord) words.Add(current.ToString());
                current.Clear();
                inWord = false;
                continue;
            }
            inWord = true;
            if (c is '"' or '\'')
            {
                quote = c;
            }
            else
            {
                current.Append(c);
            }
        }
        if (quote != '\0') throw new InitException("the unit's ExecStart= has an unterminated quote");
        if (inWord) words.Add(current.ToString());
        return words;
    }

    private static string Quote(string word)
        => word.Length > 0 && word.All(c => !char.IsWhiteSpace(c) && c is not '"' and not '\'' and not '\\') ? word : "\"" + word.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal) + "\"";
}

using System.Globalization;
using System.Text;
using Kcm.Api.Codecs;

namespace Kcm.Options;

/// <summary>A malformed command line; the message is one line, as pflag prints it.</summary>
public sealed class FlagException(string message) : Exception(message);

/// <summary>
/// pflag-compatible flags so unit files written for upstream work unchanged: `--name=value`,
/// `--name value`, bare boolean `--name`, `--name=false`, `-h`/`--help`, one-letter shorthands
/// (`-v=2`, `-v 2`, `-v2`), `_` and `-` treated alike in names (upstream's word-separator
/// normalization), and `--` ending flags. Deprecated flags still parse but add a warning.
/// </summary>
public sealed class FlagSet(string command)
{
    private readonly Dictionary<string, Flag> _flags = new(StringComparer.Ordinal);
    private readonly Dictionary<char, Flag> _shorthands = [];
    private readonly List<Flag> _ordered = [];
    private readonly List<string> _sections = [];
    private readonly List<string> _warnings = [];
    private string? _currentSection;

    public string Command { get; } = command;

    public bool HelpRequested { get; private set; }

    public IReadOnlyList<string> Arguments { get; private set; } = [];

    /// <summary>Deprecation notices for flags that were used, in the order they appeared, worded like pflag's.</summary>
    public IReadOnlyList<string> Warnings => _warnings;

    public Func<string> String(string name, string defaultValue, string usage) => Add(name, defaultValue, usage, isBool: false, v => v).Get;

    public Func<bool> Bool(string name, bool defaultValue, string usage)
        => Add(name, defaultValue ? "true" : "false", usage, isBool: true, v => ParseBool(name, v)).Get;

    public Func<int> Int(string name, int defaultValue, string usage)
        => Add(name, defaultValue.ToString(CultureInfo.InvariantCulture), usage, isBool: false, v => ParseInt(name, v)).Get;

    public Func<float> Float(string name, float defaultValue, string usage)
        => Add(name, defaultValue.ToString(CultureInfo.InvariantCulture), usage, isBool: false, v => ParseFloat(name, v)).Get;

    public Func<TimeSpan> Duration(string name, TimeSpan defaultValue, string usage)
        => Add(name, GoDuration.Format(defaultValue), usage, isBool: false, v => ParseDuration(name, v)).Get;

    /// <summary>
    /// Registers a flag that hands each given value to <paramref name="set"/> (which throws
    /// <see cref="FormatException"/> with the reason on a bad value). <paramref name="defaultText"/> is what
    /// help shows after "default" (empty: nothing shown); <paramref name="noOptValue"/> is the value of
    /// the bare form (`--name` with no `=`), as for booleans.
    /// </summary>
    public void Var(string name, string typeName, string defaultText, string usage, Action<string> set, string? noOptValue = null, char shorthand = '\0')
    {
        var flag = new CallbackFlag(Normalize(name), typeName, defaultText, usage, noOptValue, set) { Section = _currentSection, Shorthand = shorthand };
        Register(flag);
        if (shorthand != '\0') _shorthands[shorthand] = flag;
    }

    public void StringVar(string name, string defaultValue, string usage, Action<string> set)
        => Var(name, "string", defaultValue.Length == 0 ? "" : $"\"{defaultValue}\"", usage, set);

    public void BoolVar(string name, bool defaultValue, string usage, Action<bool> set)
        => Var(name, "", defaultValue ? "true" : "", usage, v => set(ParseBoolValue(v)), noOptValue: "true");

    public void Int32Var(string name, int defaultValue, string usage, Action<int> set)
        => Var(name, "int32", defaultValue == 0 ? "" : defaultValue.ToString(CultureInfo.InvariantCulture), usage, v => set(ParseInt32Value(v)));

    /// <summary>pflag's IntVar (Go int): help shows the type as "int" where Int32Var shows "int32".</summary>
    public void IntVar(string name, int defaultValue, string usage, Action<int> set)
        => Var(name, "int", defaultValue == 0 ? "" : defaultValue.ToString(CultureInfo.InvariantCulture), usage, v => set(ParseInt32Value(v)));

    public void Float32Var(string name, float defaultValue, string usage, Action<float> set)
        => Var(name, "float32", defaultValue == 0 ? "" : defaultValue.ToString(CultureInfo.InvariantCulture), usage, v => set((float)ParseFloatValue(v)));

    public void Float64Var(string name, double defaultValue, string usage, Action<double> set)
        => Var(name, "float", defaultValue == 0 ? "" : defaultValue.ToString(CultureInfo.InvariantCulture), usage, v => set(ParseFloatValue(v)));

    public void DurationVar(string name, TimeSpan defaultValue, string usage, Action<TimeSpan> set)
        => Var(name, "duration", defaultValue == TimeSpan.Zero ? "" : GoDuration.Format(defaultValue), usage, v => set(ParseDurationValue(v)));

    /// <summary>
    /// pflag's stringSlice: comma-separated (CSV quoting honoured); the first use replaces the
    /// default, later uses append.
    /// </summary>
    public void StringSliceVar(string name, IReadOnlyList<string> defaultValue, string usage, Action<IReadOnlyList<string>> set)
    {
        List<string>? current = null;
        Var(name, "strings", defaultValue.Count == 0 ? "" : $"[{string.Join(',', defaultValue)}]", usage, v =>
        {
            var parsed = Csv.Split(v);
            current = current == null ? [.. parsed] : [.. current, .. parsed];
            set(current);
        });
    }

    /// <summary>Starts a named help section (like upstream's NamedFlagSets); later registrations belong to it.</summary>
    public void Section(string name)
    {
        _currentSection = name;
        if (!_sections.Contains(name)) _sections.Add(name);
    }

    /// <summary>Hides the flag from help and warns when it is used, as pflag's MarkDeprecated does.</summary>
    public void MarkDeprecated(string name, string message)
    {
        var flag = _flags[Normalize(name)];
        flag.Deprecation = message;
        flag.Hidden = true;
    }

    public void MarkHidden(string name) => _flags[Normalize(name)].Hidden = true;

    /// <summary>Whether the flag was given on the command line (as opposed to defaulted).</summary>
    public bool Changed(string name) => _flags.TryGetValue(Normalize(name), out var f) && f.Changed;

    public IEnumerable<string> Names => _ordered.Select(f => f.Name);

    /// <summary>Every flag (hidden ones too) with its current value, by name: what upstream logs as `FLAG: --name="value"` at --v=1.</summary>
    public IEnumerable<(string Name, string Value)> Values() => _ordered.OrderBy(f => f.Name, StringComparer.Ordinal).Select(f => (f.Name, f.ValueText));

    public void Parse(IReadOnlyList<string> args)
    {
        var positional = new List<string>();
        for (var i = 0; i < args.Count; i++)
        {
            var arg = args[i];
            if (arg == "--")
            {
                positional.AddRange(args.Skip(i + 1));
                break;
            }
            if (arg is "-h" or "--help" && !_flags.ContainsKey("help"))
            {
                HelpRequested = true;
                continue;
            }
            if (arg.StartsWith("--", StringComparison.Ordinal) && arg.Length > 2)
            {
                i = ParseLong(args, i);
                continue;
            }
            if (arg.StartsWith('-') && arg.Length > 1)
            {
                i = ParseShorthand(args, i);
                continue;
            }
            positional.Add(arg);
        }
        Arguments = positional;
    }

    private int ParseLong(IReadOnlyList<string> args, int i)
    {
        var body = args[i][2..];
        var eq = body.IndexOf('=');
        var name = eq < 0 ? body : body[..eq];
        if (!_flags.TryGetValue(Normalize(name), out var flag))
        {
            var suggestion = Suggest(name);
            throw new FlagException($"unknown flag: --{name}" + (suggestion == null ? "" : $" (did you mean --{suggestion}?)"));
        }
        string value;
        if (eq >= 0) value = body[(eq + 1)..];
        else if (flag.NoOptValue != null) value = flag.NoOptValue;
        else if (i + 1 < args.Count) value = args[++i];
        else throw new FlagException($"flag needs an argument: --{name}");
        Set(flag, value);
        return i;
    }

    private int ParseShorthand(IReadOnlyList<string> args, int i)
    {
        var arg = args[i];
        var c = arg[1];
        if (c == 'h' && arg.Length == 2)
        {
            HelpRequested = true;
            return i;
        }
        if (!_shorthands.TryGetValue(c, out var flag)) throw new FlagException($"unknown shorthand flag: '{c}' in {arg}");
        string value;
        if (arg.Length > 2) value = arg[2] == '=' ? arg[3..] : arg[2..];
        else if (flag.NoOptValue != null) value = flag.NoOptValue;
        else if (i + 1 < args.Count) value = args[++i];
        else throw new FlagException($"flag needs an argument: '{c}' in -{c}");
        Set(flag, value);
        return i;
    }

    private void Set(Flag flag, string value)
    {
        try
        {
            flag.Set(value);
        }
        catch (FormatException e)
        {
            var display = flag.Shorthand == '\0' ? $"--{flag.Name}" : $"-{flag.Shorthand}, --{flag.Name}";
            throw new FlagException($"invalid argument \"{value}\" for \"{display}\" flag: {e.Message}");
        }
        if (flag.Deprecation != null) _warnings.Add($"Flag --{flag.Name} has been deprecated, {flag.Deprecation}");
    }

    /// <summary>The visible flag nearest to a misspelt name, when it is close enough to be a typo.</summary>
    private string? Suggest(string name)
    {
        var normalized = Normalize(name);
        string? best = null;
        var bestDistance = int.MaxValue;
        foreach (var f in _ordered.Where(f => !f.Hidden))
        {
            var d = EditDistance(normalized, Normalize(f.Name));
            if (d < bestDistance)
            {
                bestDistance = d;
                best = f.Name;
            }
        }
        // Tight enough that a flag v1.26 removed (--concurrent-daemonset-syncs) is not "corrected" to an unrelated one.
        return best != null && bestDistance <= Math.Max(2, normalized.Length / 8) ? best : null;
    }

    internal static int EditDistance(string a, string b)
    {
        var previous = new int[b.Length + 1];
        var current = new int[b.Length + 1];
        for (var j = 0; j <= b.Length; j++) previous[j] = j;
        for (var i = 1; i <= a.Length; i++)
        {
            current[0] = i;
            for (var j = 1; j <= b.Length; j++)
            {
                var cost = a[i - 1] == b[j - 1] ? 0 : 1;
                current[j] = Math.Min(Math.Min(current[j - 1] + 1, previous[j] + 1), previous[j - 1] + cost);
            }
            (previous, current) = (current, previous);
        }
        return previous[b.Length];
    }

    public string Usage()
    {
        var sb = new StringBuilder();
        sb.AppendLine($"Usage:\n  {Command} [flags]");
        if (_sections.Count == 0)
        {
            sb.AppendLine("\nFlags:");
            AppendFlags(sb, _ordered.OrderBy(f => f.Name, StringComparer.Ordinal));
            return sb.ToString();
        }
        var unsectioned = _ordered.Where(f => f.Section == null).ToList();
        if (unsectioned.Count > 0)
        {
            sb.AppendLine("\nFlags:\n");
            AppendFlags(sb, unsectioned.OrderBy(f => f.Name, StringComparer.Ordinal));
        }
        foreach (var section in _sections)
        {
            var flags = _ordered.Where(f => f.Section == section && !f.Hidden).OrderBy(f => f.Name, StringComparer.Ordinal).ToList();
            if (flags.Count == 0) continue;
            sb.AppendLine($"\n{char.ToUpperInvariant(section[0])}{section[1..]} flags:\n");
            AppendFlags(sb, flags);
        }
        return sb.ToString();
    }

    private static void AppendFlags(StringBuilder sb, IEnumerable<Flag> flags)
    {
        var lines = flags.Where(f => !f.Hidden).Select(f => (Left: LeftColumn(f), Flag: f)).ToList();
        var width = lines.Count == 0 ? 0 : lines.Max(l => l.Left.Length);
        foreach (var (left, f) in lines)
        {
            var usage = f.Usage.Replace("\n", "\n" + new string(' ', width + 3), StringComparison.Ordinal);
            var def = f.DefaultText.Length == 0 ? "" : $" (default {f.DefaultText})";
            sb.Append(left.PadRight(width)).Append("   ").Append(usage).AppendLine(def);
        }
    }

    private static string LeftColumn(Flag f)
    {
        var prefix = f.Shorthand == '\0' ? "      --" : $"  -{f.Shorthand}, --";
        var type = f.TypeName.Length == 0 ? "" : " " + f.TypeName;
        if (f.NoOptValue != null && f.TypeName.Length > 0) type += $"[={f.NoOptValue}]";
        return prefix + f.Name + type;
    }

    private static string Normalize(string name) => name.Replace('_', '-');

    private void Register(Flag flag)
    {
        var key = Normalize(flag.Name);
        if (_flags.ContainsKey(key)) throw new ArgumentException($"flag --{flag.Name} registered twice", nameof(flag));
        _flags[key] = flag;
        _ordered.Add(flag);
    }

    private Flag<T> Add<T>(string name, string defaultValue, string usage, bool isBool, Func<string, T> parse)
    {
        var flag = new Flag<T>(Normalize(name), defaultValue, usage, isBool, parse) { Section = _currentSection };
        Register(flag);
        return flag;
    }

    internal static bool ParseBoolValue(string v) => v switch
    {
        "1" or "t" or "T" or "true" or "TRUE" or "True" => true,
        "0" or "f" or "F" or "false" or "FALSE" or "False" => false,
        _ => throw new FormatException($"strconv.ParseBool: parsing \"{v}\": invalid syntax"),
    };

    internal static int ParseInt32Value(string v)
    {
        if (int.TryParse(v, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var i)) return i;
        var outOfRange = v.Length > 0 && v.TrimStart('-', '+').All(char.IsAsciiDigit) && v.TrimStart('-', '+').Length > 0;
        throw new FormatException($"strconv.ParseInt: parsing \"{v}\": {(outOfRange ? "value out of range" : "invalid syntax")}");
    }

    internal static double ParseFloatValue(string v)
        => double.TryParse(v, NumberStyles.Float, CultureInfo.InvariantCulture, out var f)
            ? f
            : throw new FormatException($"strconv.ParseFloat: parsing \"{v}\": invalid syntax");

    internal static TimeSpan ParseDurationValue(string v)
        => GoDuration.TryParse(v, out var d, out var error) ? d : throw new FormatException(error);

    private static bool ParseBool(string name, string v) => Wrap(name, v, ParseBoolValue);

    private static int ParseInt(string name, string v) => Wrap(name, v, ParseInt32Value);

    private static float ParseFloat(string name, string v) => Wrap(name, v, s => (float)ParseFloatValue(s));

    private static TimeSpan ParseDuration(string name, string v) => Wrap(name, v, ParseDurationValue);

    private static T Wrap<T>(string name, string v, Func<string, T> parse)
    {
        try
        {
            return parse(v);
        }
        catch (FormatException e)
        {
            throw new FlagException($"invalid argument \"{v}\" for \"--{name}\" flag: {e.Message}");
        }
    }

    private abstract class Flag(string name, string usage)
    {
        public string Name { get; } = name;
        public string Usage { get; } = usage;
        public string? Section { get; init; }
        public char Shorthand { get; init; }
        public bool Hidden { get; set; }
        public string? Deprecation { get; set; }
        public bool Changed { get; protected set; }
        public abstract string TypeName { get; }
        public abstract string DefaultText { get; }
        public abstract string? NoOptValue { get; }
        public abstract void Set(string value);

        /// <summary>The value as pflag's Value.String() shows it (the start-up FLAG dump).</summary>
        public abstract string ValueText { get; }
    }

    private sealed class CallbackFlag(string name, string typeName, string defaultText, string usage, string? noOptValue, Action<string> set) : Flag(name, usage)
    {
        private readonly List<string> _given = [];

        public override string TypeName => typeName;
        public override string DefaultText => defaultText;
        public override string? NoOptValue => noOptValue;

        public override void Set(string value)
        {
            set(value);
            Changed = true;
            _given.Add(value);
        }

        public override string ValueText => Changed ? Given() : Default();

        private string Given()
        {
            var last = _given[^1];
            return typeName switch
            {
                "" or "version" when last is "1" or "t" or "T" or "true" or "TRUE" or "True" => "true",
                "" when last is "0" or "f" or "F" or "false" or "FALSE" or "False" => "false",
                "duration" => GoDuration.Format(ParseDurationValue(last)),
                "int" or "int32" or "Level" => ParseInt32Value(last).ToString(CultureInfo.InvariantCulture),
                "float" or "float32" => GoFloat.Format(ParseFloatValue(last)),
                "strings" => "[" + string.Join(',', _given.SelectMany(Csv.Split)) + "]",
                "namedCertKey" or "stringToString" => "[" + string.Join(',', _given) + "]",
                _ => last,
            };
        }

        private string Default()
        {
            if (defaultText.Length > 1 && defaultText[0] == '"' && defaultText[^1] == '"') return defaultText[1..^1];
            if (defaultText.Length > 0) return defaultText;
            return typeName switch
            {
                "" or "version" => "false",
                "int" or "int32" or "float" or "float32" or "Level" or "uint" or "quantity" => "0",
                "duration" => "0s",
                "strings" or "namedCertKey" or "stringToString" => "[]",
                _ => "",
            };
        }
    }

    private sealed class Flag<T> : Flag
    {
        private readonly Func<string, T> _parse;
        private readonly string _default;
        private readonly bool _isBool;
        private T _value;

        public Flag(string name, string defaultValue, string usage, bool isBool, Func<string, T> parse)
            : base(name, usage)
        {
            _parse = parse;
            _default = defaultValue;
            _isBool = isBool;
            _value = parse(defaultValue);
        }

        public override string TypeName => _isBool ? "" : typeof(T) == typeof(TimeSpan) ? "duration" : typeof(T) == typeof(int) ? "int32" : typeof(T) == typeof(float) ? "float32" : "string";

        public override string DefaultText => _isBool
            ? (_default == "true" ? "true" : "")
            : _default.Length == 0 || _default == "0" || _default == "0s" ? "" : typeof(T) == typeof(string) ? $"\"{_default}\"" : _default;

        public override string? NoOptValue => _isBool ? "true" : null;

        public T Get() => _value;

        public override string ValueText => _value switch
        {
            bool b => b ? "true" : "false",
            TimeSpan d => GoDuration.Format(d),
            float f => GoFloat.Format(f),
            _ => Convert.ToString(_value, CultureInfo.InvariantCulture) ?? "",
        };

        public override void Set(string value)
        {
            _value = _parse(value);
            Changed = true;
        }
    }
}

/// <summary>Splits a flag value the way Go's encoding/csv reads one record (pflag's string slices use it).</summary>
public static class Csv
{
    public static IReadOnlyList<string> Split(string value)
    {
        if (value.Length == 0) return [];
        var fields = new List<string>();
        var field = new StringBuilder();
        var i = 0;
        while (true)
        {
            field.Clear();
            if (i < value.Length && value[i] == '"')
            {
                i++;
                while (true)
                {
                    if (i >= value.Length) throw new FormatException($"parse error on line 1, column {i + 1}: extraneous or missing \" in quoted-field");
                    if (value[i] == '"')
                    {
                        if (i + 1 < value.Length && value[i + 1] == '"')
                        {
                            field.Append('"');
                            i += 2;
                            continue;
                        }
                        i++;
                        break;
                    }
                    field.Append(value[i++]);
                }
                if (i < value.Length && value[i] != ',') throw new FormatException($"parse error on line 1, column {i + 1}: extraneous or missing \" in quoted-field");
            }
            else
            {
                while (i < value.Length && value[i] != ',')
                {
                    if (value[i] == '"') throw new FormatException($"parse error on line 1, column {i + 1}: bare \" in non-quoted-field");
                    field.Append(value[i++]);
                }
            }
            fields.Add(field.ToString());
            if (i >= value.Length) return fields;
            i++;
        }
    }
}

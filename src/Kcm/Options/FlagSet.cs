using System.Globalization;
using System.Text;

namespace Kcm.Options;

/// <summary>A malformed command line; the message is one line, as pflag prints it.</summary>
public sealed class FlagException(string message) : Exception(message);

/// <summary>
/// pflag-compatible flags so unit files written for upstream work unchanged: `--name=value`,
/// `--name value`, bare boolean `--name`, `--name=false`, `-h`/`--help`, and `--` ending flags.
/// </summary>
public sealed class FlagSet(string command)
{
    private readonly Dictionary<string, Flag> _flags = new(StringComparer.Ordinal);
    private readonly List<Flag> _ordered = [];

    public string Command { get; } = command;

    public bool HelpRequested { get; private set; }

    public IReadOnlyList<string> Arguments { get; private set; } = [];

    public Func<string> String(string name, string defaultValue, string usage) => Add(name, defaultValue, usage, isBool: false, v => v).Get;

    public Func<bool> Bool(string name, bool defaultValue, string usage)
        => Add(name, defaultValue ? "true" : "false", usage, isBool: true, v => ParseBool(name, v)).Get;

    public Func<int> Int(string name, int defaultValue, string usage)
        => Add(name, defaultValue.ToString(CultureInfo.InvariantCulture), usage, isBool: false, v => ParseInt(name, v)).Get;

    public Func<float> Float(string name, float defaultValue, string usage)
        => Add(name, defaultValue.ToString(CultureInfo.InvariantCulture), usage, isBool: false, v => ParseFloat(name, v)).Get;

    public Func<TimeSpan> Duration(string name, TimeSpan defaultValue, string usage)
        => Add(name, GoDuration.Format(defaultValue), usage, isBool: false, v => ParseDuration(name, v)).Get;

    /// <summary>Whether the flag was given on the command line (as opposed to defaulted).</summary>
    public bool Changed(string name) => _flags.TryGetValue(name, out var f) && f.Changed;

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
            if (arg is "-h" or "--help")
            {
                HelpRequested = true;
                continue;
            }
            if (!arg.StartsWith("--", StringComparison.Ordinal) || arg.Length == 2)
            {
                if (arg.StartsWith('-') && arg.Length > 1) throw new FlagException($"unknown shorthand flag: '{arg[1]}' in {arg}");
                positional.Add(arg);
                continue;
            }
            var body = arg[2..];
            var eq = body.IndexOf('=');
            var name = eq < 0 ? body : body[..eq];
            if (!_flags.TryGetValue(name, out var flag)) throw new FlagException($"unknown flag: --{name}");
            string value;
            if (eq >= 0) value = body[(eq + 1)..];
            else if (flag.IsBool) value = "true";
            else if (i + 1 < args.Count) value = args[++i];
            else throw new FlagException($"flag needs an argument: --{name}");
            flag.Set(value);
        }
        Arguments = positional;
    }

    public string Usage()
    {
        var sb = new StringBuilder();
        sb.AppendLine($"Usage:\n  {Command} [flags]\n\nFlags:");
        foreach (var f in _ordered.OrderBy(f => f.Name, StringComparer.Ordinal))
        {
            var def = f.IsBool ? (f.Default == "true" ? " (default true)" : "") : (f.Default.Length > 0 ? $" (default {Quote(f.Default)})" : "");
            sb.AppendLine($"      --{f.Name}{(f.IsBool ? "" : " " + f.TypeName)}\n            {f.Usage}{def}");
        }
        return sb.ToString();
    }

    private static string Quote(string s) => s.Contains(' ', StringComparison.Ordinal) || s.Length == 0 ? $"\"{s}\"" : s;

    private Flag<T> Add<T>(string name, string defaultValue, string usage, bool isBool, Func<string, T> parse)
    {
        if (_flags.ContainsKey(name)) throw new ArgumentException($"flag --{name} registered twice", nameof(name));
        var flag = new Flag<T>(name, defaultValue, usage, isBool, parse);
        _flags[name] = flag;
        _ordered.Add(flag);
        return flag;
    }

    private static bool ParseBool(string name, string v) => v.ToLowerInvariant() switch
    {
        "1" or "t" or "true" => true,
        "0" or "f" or "false" => false,
        _ => throw new FlagException($"invalid argument \"{v}\" for \"--{name}\" flag: strconv.ParseBool: parsing \"{v}\": invalid syntax"),
    };

    private static int ParseInt(string name, string v)
        => int.TryParse(v, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var i)
            ? i
            : throw new FlagException($"invalid argument \"{v}\" for \"--{name}\" flag: strconv.ParseInt: parsing \"{v}\": invalid syntax");

    private static float ParseFloat(string name, string v)
        => float.TryParse(v, NumberStyles.Float, CultureInfo.InvariantCulture, out var f)
            ? f
            : throw new FlagException($"invalid argument \"{v}\" for \"--{name}\" flag: strconv.ParseFloat: parsing \"{v}\": invalid syntax");

    private static TimeSpan ParseDuration(string name, string v)
        => GoDuration.TryParse(v, out var d)
            ? d
            : throw new FlagException($"invalid argument \"{v}\" for \"--{name}\" flag: time: invalid duration \"{v}\"");

    private abstract class Flag(string name, string defaultValue, string usage, bool isBool)
    {
        public string Name { get; } = name;
        public string Default { get; } = defaultValue;
        public string Usage { get; } = usage;
        public bool IsBool { get; } = isBool;
        public bool Changed { get; protected set; }
        public abstract string TypeName { get; }
        public abstract void Set(string value);
    }

    private sealed class Flag<T> : Flag
    {
        private readonly Func<string, T> _parse;
        private T _value;

        public Flag(string name, string defaultValue, string usage, bool isBool, Func<string, T> parse)
            : base(name, defaultValue, usage, isBool)
        {
            _parse = parse;
            _value = parse(defaultValue);
        }

        public override string TypeName => typeof(T) == typeof(TimeSpan) ? "duration" : typeof(T) == typeof(int) ? "int32" : typeof(T) == typeof(float) ? "float32" : "string";

        public T Get() => _value;

        public override void Set(string value)
        {
            _value = _parse(value);
            Changed = true;
        }
    }
}

using System.Collections;
using System.Collections.Concurrent;
using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using Kcm.Api.Codecs;

namespace Kcm.Logging;

/// <summary>
/// How klog's text format writes a structured message: `"msg" key="value" n=3 d="1.5s"`. Strings, durations
/// and other Stringer-like values are quoted as Go's strconv.Quote does (a string with line breaks becomes
/// klog's `key=<` block), numbers and booleans are bare, floats as Go prints them, slices as `[a b]`.
/// </summary>
public static partial class KlogValues
{
    /// <summary>One MEL log call as klog sees it: the message and its key/value pairs (empty when unstructured).</summary>
    public sealed record Entry(string Message, IReadOnlyList<KeyValuePair<string, object?>> Values, bool Structured)
    {
        /// <summary>The message template of the log call, when it had one (it identifies the call site).</summary>
        public string? Template { get; init; }
    }

    /// <summary>
    /// Turns a message template into klog's shape. A template without placeholders is an unstructured line (as
    /// klog.Info). One that quotes its placeholders ("Starting \"{Controller}\"") reads like Go's Infof("%q"), and
    /// one ending in its only placeholder ("Version: {Version}") like Infof("Version: %s"): both stay unstructured text
    /// (write that placeholder as the klog key, "{deployment}", for InfoS with one pair). Any other becomes a structured line: the template's words are the message and each
    /// placeholder a key (lower camel case, as klog keys are), in order.
    /// </summary>
    /// <param name="structured">The call was klog.InfoS (<see cref="Kcm.Runtime.Logging.Klog.InfoS"/>): a message without values is quoted too.</param>
    public static Entry FromState<TState>(TState state, Exception? exception, Func<TState, Exception?, string> formatter, bool structured = false)
    {
        if (state is not IReadOnlyList<KeyValuePair<string, object?>> pairs || pairs.Count == 0 || pairs[^1].Key != "{OriginalFormat}")
            return Unstructured(formatter(state, exception), exception);
        var template = pairs[^1].Value as string ?? "";
        var values = new List<KeyValuePair<string, object?>>(pairs.Count);
        for (var i = 0; i < pairs.Count - 1; i++) values.Add(new(KeyOf(pairs[i].Key), pairs[i].Value));
        if (values.Count == 0)
        {
            return structured ? new Entry(formatter(state, exception), exception == null ? [] : [new("err", exception)], true) { Template = template }
                : Unstructured(formatter(state, exception), exception, template);
        }
        var shape = ShapeOf(template);
        if (shape.Quoted || (values.Count == 1 && shape.Labelled)) return Unstructured(formatter(state, exception), exception, template);
        if (exception != null) values.Insert(0, new("err", exception));
        return new Entry(shape.Message, values, Structured: true) { Template = template };
    }

    // What a template's regexes decide depends on the template alone: worked out once per template (and key) and
    // reused, as the templates are the code's literals. The caps only guard against templates built at run time.
    private sealed record Shape(bool Quoted, bool Labelled, string Message);

    private const int CacheLimit = 4096;
    private static readonly ConcurrentDictionary<string, Shape> Shapes = new(StringComparer.Ordinal);
    private static readonly ConcurrentDictionary<string, string> Keys = new(StringComparer.Ordinal);

    private static Shape ShapeOf(string template)
    {
        if (Shapes.TryGetValue(template, out var shape)) return shape;
        shape = new Shape(QuotedPlaceholder().IsMatch(template), LabelledValue().IsMatch(template), MessageOf(template));
        if (Shapes.Count < CacheLimit) Shapes.TryAdd(template, shape);
        return shape;
    }

    private static string KeyOf(string name)
    {
        if (Keys.TryGetValue(name, out var key)) return key;
        key = LowerCamel(name);
        if (Keys.Count < CacheLimit) Keys.TryAdd(name, key);
        return key;
    }

    /// <summary>An already formatted message: unstructured, or `"msg" err="..."` when it carries an exception.</summary>
    public static Entry FromText(string message, Exception? exception) => Unstructured(message, exception);

    private static Entry Unstructured(string message, Exception? exception, string? template = null)
        => exception == null
            ? new Entry(message, [], false) { Template = template }
            : new Entry(message, [new("err", exception)], true) { Template = template };

    /// <summary>The template with its placeholders taken out: "Synced {Count} pods in {Duration}" → "Synced pods in".</summary>
    public static string MessageOf(string template)
    {
        var text = Placeholder().Replace(template, "");
        text = Spaces().Replace(text, " ").Replace(" :", ":", StringComparison.Ordinal).Replace(" ,", ",", StringComparison.Ordinal)
            .Replace("()", "", StringComparison.Ordinal).Replace("[]", "", StringComparison.Ordinal);
        return text.Trim().TrimStart(':', ',', ';', '-', ' ').TrimEnd(':', ',', '=', ';', '-', ' ', '(').Trim();
    }

    /// <summary>Appends ` key=value` for each pair, as klog's KVListFormat.</summary>
    public static void AppendPairs(StringBuilder sb, IReadOnlyList<KeyValuePair<string, object?>> values)
    {
        foreach (var (key, value) in values)
        {
            sb.Append(' ').Append(key).Append('=');
            var (text, quote) = Render(value);
            if (text.Contains('\n'))
            {
                // klog writes multi-line strings as an indented block: key=<\n\tline\n >
                sb.Append("<\n");
                foreach (var line in text.TrimEnd('\n').Split('\n')) sb.Append('\t').Append(line).Append('\n');
                sb.Append(" >");
            }
            else
            {
                if (quote) AppendQuoted(sb, text);
                else sb.Append(text);
            }
        }
    }

    /// <summary>The value's text and whether klog quotes it (Stringers, strings and errors are quoted; plain values are not).</summary>
    public static (string Text, bool Quote) Render(object? value) => value switch
    {
        null => ("<nil>", false),
        string s => (s, true),
        bool b => (b ? "true" : "false", false),
        TimeSpan d => (GoDuration.Format(d), true),
        double d => (GoFloat.Format(d), false),
        float f => (GoFloat.Format(f), false),
        decimal m => (m.ToString(CultureInfo.InvariantCulture), false),
        sbyte or byte or short or ushort or int or uint or long or ulong => (Convert.ToString(value, CultureInfo.InvariantCulture)!, false),
        Exception e => (e.Message, true),
        DateTimeOffset t => (GoTime(t), true),
        DateTime t => (GoTime(new DateTimeOffset(t.Kind == DateTimeKind.Unspecified ? DateTime.SpecifyKind(t, DateTimeKind.Utc) : t)), true),
        Enum e => (e.ToString(), false),
        IEnumerable items => ("[" + string.Join(' ', items.Cast<object?>().Select(i => Render(i).Text)) + "]", false),
        IFormattable f => (f.ToString(null, CultureInfo.InvariantCulture), true),
        _ => (value.ToString() ?? "", true),
    };

    /// <summary>Go's strconv.Quote: double quotes, backslash escapes for quotes, backslashes and control characters.</summary>
    public static string Quote(string s) => AppendQuoted(new StringBuilder(s.Length + 2), s).ToString();

    /// <summary>Appends <see cref="Quote"/>'s text for <paramref name="s"/>.</summary>
    public static StringBuilder AppendQuoted(StringBuilder sb, string s)
    {
        sb.Append('"');
        if (!NeedsEscape(s)) return sb.Append(s).Append('"');
        foreach (var rune in s.EnumerateRunes())
        {
            switch (rune.Value)
            {
                case '"': sb.Append("\\\""); break;
                case '\\': sb.Append("\\\\"); break;
                case '\a': sb.Append("\\a"); break;
                case '\b': sb.Append("\\b"); break;
                case '\f': sb.Append("\\f"); break;
                case '\n': sb.Append("\\n"); break;
                case '\r': sb.Append("\\r"); break;
                case '\t': sb.Append("\\t"); break;
                case '\v': sb.Append("\\v"); break;
                default:
                    if (rune.Value < 0x20 || rune.Value == 0x7f) sb.Append(CultureInfo.InvariantCulture, $"\\x{rune.Value:x2}");
                    else if (Rune.GetUnicodeCategory(rune) is UnicodeCategory.Control or UnicodeCategory.Format or UnicodeCategory.OtherNotAssigned)
                        sb.Append(rune.Value > 0xffff ? $"\\U{rune.Value:x8}" : $"\\u{rune.Value:x4}");
                    else sb.Append(rune.ToString());
                    break;
            }
        }
        return sb.Append('"');
    }

    // Printable ASCII other than the quote and backslash is written as it is: almost every value.
    private static bool NeedsEscape(string s)
    {
        foreach (var c in s)
        {
            if (c < 0x20 || c >= 0x7f || c == '"' || c == '\\') return true;
        }
        return false;
    }

    // Go's time.Time String(): "2006-01-02 15:04:05.999999999 -0700 MST" (UTC shown as "+0000 UTC").
    private static string GoTime(DateTimeOffset t)
    {
        var fraction = t.ToString("fffffff", CultureInfo.InvariantCulture).TrimEnd('0');
        var zone = t.Offset == TimeSpan.Zero ? "+0000 UTC" : t.ToString("zzz", CultureInfo.InvariantCulture).Replace(":", "", StringComparison.Ordinal);
        return t.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture) + (fraction.Length > 0 ? "." + fraction : "") + " " + zone;
    }

    private static string LowerCamel(string key)
    {
        var name = key.TrimStart('@');
        if (name.Length == 0 || char.IsLower(name[0])) return name;
        var upper = 0;
        while (upper < name.Length && char.IsUpper(name[upper])) upper++;
        // "Pod" → "pod", "URL" → "url", "CIDRSet" → "cidrSet".
        var cut = upper == 1 || upper == name.Length ? upper : upper - 1;
        return name[..cut].ToLowerInvariant() + name[cut..];
    }

    [GeneratedRegex("[\"']\\{[^{}]+\\}[\"']")]
    private static partial Regex QuotedPlaceholder();

    [GeneratedRegex("[\"']?\\{[^{}]+\\}[\"']?")]
    private static partial Regex Placeholder();

    // "Version: {Version}" or "successfully acquired lease {Lock}" read as Go's Infof("... %s"); a placeholder written
    // as klog's key ("Deployment has been deleted {deployment}") is InfoS with one pair.
    [GeneratedRegex("^[^{}]*\\{[^a-z{}][^{}]*\\}[.!:]*$")]
    private static partial Regex LabelledValue();

    [GeneratedRegex("\\s+")]
    private static partial Regex Spaces();
}

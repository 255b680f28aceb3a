using System.Text;

namespace Kcm.Api.Selectors;

/// <summary>A parsed field selector (k8s.io/apimachinery/pkg/fields): "a=b,c!=d" with =, == and !=.</summary>
public sealed class FieldSelector
{
    private readonly FieldRequirement[] requirements;

    private FieldSelector() : this([]) { }

    private FieldSelector(FieldRequirement[] requirements) => this.requirements = requirements;

    public static FieldSelector Everything { get; } = new();

    /// <summary>
    /// Parses "field=value,field!=value". Values may escape '\', ',' and '=' with a backslash; terms are
    /// sorted as upstream does. Throws <see cref="SelectorParseException"/> with upstream's messages.
    /// </summary>
    public static FieldSelector Parse(string selector)
    {
        ArgumentNullException.ThrowIfNull(selector);
        if (selector.Length == 0) return Everything;

        var parsed = new List<FieldRequirement>();
        foreach (var term in SplitTerms(selector).Order(StringComparer.Ordinal))
        {
            if (term.Length == 0) continue;
            if (!TrySplitTerm(term, out var field, out var op, out var rawValue))
            {
                throw new SelectorParseException($"invalid selector: '{selector}'; can't understand '{term}'");
            }
            parsed.Add(new FieldRequirement(field, op != "!=", UnescapeValue(rawValue)));
        }
        return parsed.Count == 0 ? Everything : new FieldSelector(parsed.ToArray());
    }

    /// <summary>A selector requiring each field of <paramref name="fields"/> to equal its value (fields.SelectorFromSet).</summary>
    public static FieldSelector FromSet(IReadOnlyDictionary<string, string>? fields)
    {
        if (fields is null || fields.Count == 0) return Everything;
        return new FieldSelector(fields.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => new FieldRequirement(p.Key, true, p.Value)).ToArray());
    }

    public IReadOnlyList<FieldRequirement> Requirements => requirements;

    public bool IsEverything => Requirements.Count == 0;

    /// <summary>True when every requirement holds; <paramref name="fieldValue"/> returns null for an unknown field.</summary>
    public bool Matches(Func<string, string?> fieldValue)
    {
        ArgumentNullException.ThrowIfNull(fieldValue);
        foreach (var requirement in requirements)
        {
            // Upstream reads a missing field as "", so "a=" matches objects without it.
            var actual = fieldValue(requirement.Field) ?? "";
            if ((actual == requirement.Value) != requirement.Equal) return false;
        }
        return true;
    }

    /// <summary>The value the selector pins <paramref name="field"/> to with = or ==, if any (e.g. metadata.name).</summary>
    public bool RequiresExactMatch(string field, out string value)
    {
        foreach (var requirement in requirements)
        {
            if (requirement.Equal && requirement.Field == field)
            {
                value = requirement.Value;
                return true;
            }
        }
        value = "";
        return false;
    }

    public override string ToString()
        => string.Join(",", requirements.Select(r => r.Field + (r.Equal ? "=" : "!=") + EscapeValue(r.Value)));

    /// <summary>Escapes '\', ',' and '=' so the value survives a round trip through <see cref="Parse"/>.</summary>
    public static string EscapeValue(string value)
        => value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace(",", "\\,", StringComparison.Ordinal).Replace("=", "\\=", StringComparison.Ordinal);

    private static List<string> SplitTerms(string selector)
    {
        var terms = new List<string>();
        var start = 0;
        var escaped = false;
        for (var i = 0; i < selector.Length; i++)
        {
            var c = selector[i];
            if (escaped) escaped = false;
            else if (c == '\\') escaped = true;
            else if (c == ',')
            {
                terms.Add(selector[start..i]);
                start = i + 1;
            }
        }
        terms.Add(selector[start..]);
        return terms;
    }

    private static bool TrySplitTerm(string term, out string field, out string op, out string value)
    {
        for (var i = 0; i < term.Length; i++)
        {
            foreach (var candidate in (ReadOnlySpan<string>)["!=", "==", "="])
            {
                if (string.CompareOrdinal(term, i, candidate, 0, candidate.Length) == 0)
                {
                    field = term[..i];
                    op = candidate;
                    value = term[(i + candidate.Length)..];
                    return true;
                }
            }
        }
        field = op = value = "";
        return false;
    }

    private static string UnescapeValue(string value)
    {
        if (value.IndexOfAny(['\\', ',', '=']) < 0) return value;
        var text = new StringBuilder(value.Length);
        var escaped = false;
        foreach (var c in value)
        {
            if (escaped)
            {
                if (c is not ('\\' or ',' or '='))
                {
                    throw new SelectorParseException($"invalid field selector: invalid escape sequence: \\{c}");
                }
                text.Append(c);
                escaped = false;
                continue;
            }
            switch (c)
            {
                case '\\':
                    escaped = true;
                    break;
                case ',' or '=':
                    // Upstream prints the rune with %v, i.e. as its code point number.
                    throw new SelectorParseException($"invalid field selector: unescaped character in value: {(int)c}");
                default:
                    text.Append(c);
                    break;
            }
        }
        if (escaped) throw new SelectorParseException("invalid field selector: invalid escape sequence: \\");
        return text.ToString();
    }
}

public readonly record struct FieldRequirement(string Field, bool Equal, string Value);

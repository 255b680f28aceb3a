using System.Globalization;
using System.Text;
using Kcm.Api.Codecs;

namespace Kcm.Api.Selectors;

/// <summary>A parsed label selector (k8s.io/apimachinery/pkg/labels semantics).</summary>
public sealed class LabelSelector
{
    private readonly LabelRequirement[] requirements;

    private LabelSelector() : this([]) { }

    private LabelSelector(LabelRequirement[] requirements)
    {
        // Sorted by key (stable) so the string form is deterministic, as upstream does.
        this.requirements = requirements.OrderBy(r => r.Key, StringComparer.Ordinal).ToArray();
    }

    public static LabelSelector Everything { get; } = new();

    /// <summary>Parses the query-string form ("a=b,c!=d,e in (f,g),!h"). Throws <see cref="SelectorParseException"/>.</summary>
    public static LabelSelector Parse(string selector)
    {
        ArgumentNullException.ThrowIfNull(selector);
        return new LabelSelector(new LabelSelectorParser(selector).Parse().ToArray());
    }

    /// <summary>Converts a metav1.LabelSelector (matchLabels + matchExpressions); null selects nothing, empty selects everything.</summary>
    public static LabelSelector? FromApi(Kcm.Api.Meta.V1.LabelSelector? selector)
    {
        if (selector is null) return null;
        var matchLabels = selector.MatchLabels ?? [];
        var matchExpressions = selector.MatchExpressions ?? [];
        if (matchLabels.Count + matchExpressions.Count == 0) return Everything;

        var result = new List<LabelRequirement>(matchLabels.Count + matchExpressions.Count);
        foreach (var (key, value) in matchLabels.OrderBy(p => p.Key, StringComparer.Ordinal))
        {
            result.Add(LabelRequirement.Create(key, LabelOperator.Equals, [value ?? ""]));
        }
        foreach (var expression in matchExpressions)
        {
            var op = expression.Operator switch
            {
                "In" => LabelOperator.In,
                "NotIn" => LabelOperator.NotIn,
                "Exists" => LabelOperator.Exists,
                "DoesNotExist" => LabelOperator.DoesNotExist,
                _ => throw new SelectorParseException($"{GoStrings.Quote(expression.Operator ?? "")} is not a valid label selector operator"),
            };
            // Upstream copies the values into a nil slice, so "no values" prints as []string(nil).
            var values = expression.Values is { Count: > 0 } v ? v.Select(x => x ?? "").ToList() : null;
            result.Add(LabelRequirement.Create(expression.Key ?? "", op, values));
        }
        return new LabelSelector(result.ToArray());
    }

    /// <summary>Builds a selector that requires every label of <paramref name="labels"/> (labels.SelectorFromSet).</summary>
    public static LabelSelector FromSet(IReadOnlyDictionary<string, string>? labels)
    {
        if (labels is null || labels.Count == 0) return Everything;
        return new LabelSelector(labels.Select(p => LabelRequirement.Create(p.Key, LabelOperator.Equals, [p.Value])).ToArray());
    }

    public IReadOnlyList<LabelRequirement> Requirements => requirements;

    public bool IsEverything => requirements.Length == 0;

    public bool Matches(IReadOnlyDictionary<string, string>? labels)
    {
        foreach (var requirement in requirements)
        {
            if (!requirement.Matches(labels)) return false;
        }
        return true;
    }

    /// <summary>The value a selector pins <paramref name="key"/> to (=, == or a one-value in), if any.</summary>
    public bool RequiresExactMatch(string key, out string value)
    {
        foreach (var requirement in requirements)
        {
            if (requirement.Key != key) continue;
            if (requirement.Operator is LabelOperator.Equals or LabelOperator.DoubleEquals or LabelOperator.In && requirement.Values.Count == 1)
            {
                value = requirement.Values[0];
                return true;
            }
            break;
        }
        value = "";
        return false;
    }

    /// <summary>The canonical string form (requirements sorted by key), e.g. "app=web,tier in (a,b)".</summary>
    public override string ToString() => string.Join(",", requirements.Select(r => r.ToString()));
}

public enum LabelOperator { Equals, DoubleEquals, NotEquals, In, NotIn, Exists, DoesNotExist, GreaterThan, LessThan }

/// <summary>One validated requirement of a label selector.</summary>
public sealed class LabelRequirement
{
    private LabelRequirement(string key, LabelOperator op, IReadOnlyList<string> values)
    {
        Key = key;
        Operator = op;
        Values = values;
    }

    public string Key { get; }

    public LabelOperator Operator { get; }

    public IReadOnlyList<string> Values { get; }

    /// <summary>Validates like upstream labels.NewRequirement; throws <see cref="SelectorParseException"/> with its messages.</summary>
    public static LabelRequirement Create(string key, LabelOperator op, IReadOnlyList<string>? values)
    {
        var errors = Validate(key, op, values);
        if (errors.Count > 0) throw new SelectorParseException(LabelValidation.Aggregate(errors));
        return new LabelRequirement(key, op, values?.ToArray() ?? []);
    }

    internal static List<string> Validate(string key, LabelOperator op, IReadOnlyList<string>? values)
    {
        var errors = new List<string>();
        var keyErrors = LabelValidation.LabelKeyErrors(key);
        if (keyErrors.Count > 0) errors.Add(LabelValidation.Invalid("key", key, string.Join("; ", keyErrors)));

        var count = values?.Count ?? 0;
        switch (op)
        {
            case LabelOperator.In or LabelOperator.NotIn when count == 0:
                errors.Add(LabelValidation.Invalid("values", values, "for 'in', 'notin' operators, values set can't be empty"));
                break;
            case LabelOperator.Equals or LabelOperator.DoubleEquals or LabelOperator.NotEquals when count != 1:
                errors.Add(LabelValidation.Invalid("values", values, "exact-match compatibility requires one single value"));
                break;
            case LabelOperator.Exists or LabelOperator.DoesNotExist when count != 0:
                errors.Add(LabelValidation.Invalid("values", values, "values set must be empty for exists and does not exist"));
                break;
            case LabelOperator.GreaterThan or LabelOperator.LessThan:
                if (count != 1) errors.Add(LabelValidation.Invalid("values", values, "for 'Gt', 'Lt' operators, exactly one value is required"));
                for (var i = 0; i < count; i++)
                {
                    if (!TryParseInt64(values![i], out _))
                    {
                        errors.Add(LabelValidation.Invalid($"values[{i}]", values[i], "for 'Gt', 'Lt' operators, the value must be an integer"));
                    }
                }
                break;
        }

        for (var i = 0; i < count; i++)
        {
            var valueErrors = LabelValidation.LabelValueErrors(values![i]);
            if (valueErrors.Count > 0) errors.Add(LabelValidation.Invalid($"values[{i}][{key}]", values[i], string.Join("; ", valueErrors)));
        }
        return errors;
    }

    public bool Matches(IReadOnlyDictionary<string, string>? labels)
    {
        string? actual = null;
        var present = labels is not null && labels.TryGetValue(Key, out actual);
        switch (Operator)
        {
            case LabelOperator.In or LabelOperator.Equals or LabelOperator.DoubleEquals:
                return present && Values.Contains(actual!);
            case LabelOperator.NotIn or LabelOperator.NotEquals:
                return !present || !Values.Contains(actual!);
            case LabelOperator.Exists:
                return present;
            case LabelOperator.DoesNotExist:
                return !present;
            case LabelOperator.GreaterThan or LabelOperator.LessThan:
                if (!present || Values.Count != 1) return false;
                if (!TryParseInt64(actual!, out var have) || !TryParseInt64(Values[0], out var bound)) return false;
                return Operator == LabelOperator.GreaterThan ? have > bound : have < bound;
            default:
                return false;
        }
    }

    /// <summary>Go strconv.ParseInt(s, 10, 64): optional sign, decimal digits only.</summary>
    internal static bool TryParseInt64(string text, out long value)
        => long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out value);

    public override string ToString()
    {
        var text = new StringBuilder();
        if (Operator == LabelOperator.DoesNotExist) text.Append('!');
        text.Append(Key);
        switch (Operator)
        {
            case LabelOperator.Exists or LabelOperator.DoesNotExist:
                return text.ToString();
            case LabelOperator.Equals: text.Append('='); break;
            case LabelOperator.DoubleEquals: text.Append("=="); break;
            case LabelOperator.NotEquals: text.Append("!="); break;
            case LabelOperator.In: text.Append(" in ("); break;
            case LabelOperator.NotIn: text.Append(" notin ("); break;
            case LabelOperator.GreaterThan: text.Append('>'); break;
            case LabelOperator.LessThan: text.Append('<'); break;
        }
        text.Append(Values.Count == 1 ? Values[0] : string.Join(",", Values.Order(StringComparer.Ordinal)));
        if (Operator is LabelOperator.In or LabelOperator.NotIn) text.Append(')');
        return text.ToString();
    }
}

/// <summary>Malformed selector; the message follows upstream's wording (served as 400 BadRequest).</summary>
public sealed class SelectorParseException(string message) : Exception(message);

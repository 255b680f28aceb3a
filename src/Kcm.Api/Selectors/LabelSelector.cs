namespace Kcm.Api.Selectors;

/// <summary>A parsed label selector (k8s.io/apimachinery/pkg/labels semantics).</summary>
public sealed class LabelSelector
{
    public static LabelSelector Everything { get; } = new();

    /// <summary>Parses the query-string form ("a=b,c!=d,e in (f,g),!h"). Throws <see cref="SelectorParseException"/>.</summary>
    public static LabelSelector Parse(string selector) => throw new NotImplementedException("STUB");

    /// <summary>Converts a metav1.LabelSelector (matchLabels + matchExpressions); null selects nothing, empty selects everything.</summary>
    public static LabelSelector? FromApi(Kcm.Api.Meta.V1.LabelSelector? selector) => throw new NotImplementedException("STUB");

    public bool IsEverything => throw new NotImplementedException("STUB");

    public bool Matches(IReadOnlyDictionary<string, string>? labels) => throw new NotImplementedException("STUB");
}

/// <summary>Malformed selector; the message follows upstream's wording (served as 400 BadRequest).</summary>
public sealed class SelectorParseException(string message) : Exception(message);

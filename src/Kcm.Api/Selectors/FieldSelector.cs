namespace Kcm.Api.Selectors;

/// <summary>A parsed field selector (k8s.io/apimachinery/pkg/fields): "a=b,c!=d" with =, == and !=.</summary>
public sealed class FieldSelector
{
    public static FieldSelector Everything { get; } = new();

    public static FieldSelector Parse(string selector) => throw new NotImplementedException("STUB");

    public IReadOnlyList<FieldRequirement> Requirements => throw new NotImplementedException("STUB");

    public bool IsEverything => Requirements.Count == 0;

    /// <summary>True when every requirement holds; <paramref name="fieldValue"/> returns null for an unknown field.</summary>
    public bool Matches(Func<string, string?> fieldValue) => throw new NotImplementedException("STUB");
}

public readonly record struct FieldRequirement(string Field, bool Equal, string Value);

using Kcm.Api.Rbac.V1;

namespace Kcm.Controllers.ClusterRoleAggregation;

/// <summary>PolicyRule equality as apimachinery's semantic DeepEqual: lists compared in order, a missing list equal to an empty one.</summary>
internal static class PolicyRules
{
    public static bool Same(PolicyRule a, PolicyRule b)
        => SameList(a.Verbs, b.Verbs)
            && SameList(a.ApiGroups, b.ApiGroups)
            && SameList(a.Resources, b.Resources)
            && SameList(a.ResourceNames, b.ResourceNames)
            && SameList(a.NonResourceURLs, b.NonResourceURLs);

    public static bool SameRules(IReadOnlyList<PolicyRule> a, IReadOnlyList<PolicyRule>? b)
    {
        b ??= [];
        if (a.Count != b.Count)
        {
            return false;
        }
        for (var i = 0; i < a.Count; i++)
        {
            if (!Same(a[i], b[i]))
            {
                return false;
            }
        }
        return true;
    }

    private static bool SameList(List<string>? a, List<string>? b)
        => (a ?? []).SequenceEqual(b ?? [], StringComparer.Ordinal);
}

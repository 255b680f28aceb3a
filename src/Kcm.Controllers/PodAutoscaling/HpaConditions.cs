using Kcm.Api.Autoscaling.V2;

namespace Kcm.Controllers.PodAutoscaling;

/// <summary>The HPA condition types and how upstream sets them.</summary>
public static class HpaConditions
{
    public const string AbleToScale = "AbleToScale";
    public const string ScalingActive = "ScalingActive";
    public const string ScalingLimited = "ScalingLimited";

    /// <summary>Sets (or appends) the condition; its transition time moves only when the status changes.</summary>
    public static void Set(HorizontalPodAutoscaler hpa, string type, bool status, string reason, string message, DateTimeOffset now)
    {
        hpa.Status ??= new HorizontalPodAutoscalerStatus();
        var conditions = hpa.Status.Conditions ??= [];
        var existing = conditions.FirstOrDefault(c => c.Type == type);
        if (existing is null)
        {
            existing = new HorizontalPodAutoscalerCondition { Type = type };
            conditions.Add(existing);
        }
        var statusText = status ? "True" : "False";
        if (existing.Status != statusText)
        {
            // metav1.Now() is serialized at second precision.
            existing.LastTransitionTime = new DateTimeOffset(now.Ticks - now.Ticks % TimeSpan.TicksPerSecond, now.Offset);
        }
        existing.Status = statusText;
        existing.Reason = reason;
        existing.Message = message;
    }

    public static void Set(HorizontalPodAutoscaler hpa, HpaCondition condition, DateTimeOffset now)
        => Set(hpa, condition.Type, condition.Status, condition.Reason, condition.Message, now);
}

/// <summary>A condition to set later (upstream's proposed condition of an invalid metric).</summary>
public sealed record HpaCondition(string Type, bool Status, string Reason, string Message);

/// <summary>Go's %+v of the API types that show up in upstream's messages.</summary>
internal static class GoStrings
{
    /// <summary>The generated String() of *metav1.LabelSelector ("nil" for none).</summary>
    public static string LabelSelector(Kcm.Api.Meta.V1.LabelSelector? selector)
    {
        if (selector is null)
        {
            return "nil";
        }
        var labels = string.Concat((selector.MatchLabels ?? []).OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => $"{p.Key}: {p.Value},"));
        var expressions = string.Concat((selector.MatchExpressions ?? []).Select(e =>
            $"LabelSelectorRequirement{{Key:{e.Key},Operator:{e.Operator},Values:[{string.Join(" ", e.Values ?? [])}],}},"));
        return $"&LabelSelector{{MatchLabels:map[string]string{{{labels}}},MatchExpressions:[]LabelSelectorRequirement{{{expressions}}},}}";
    }
}

using Kcm.Api.Batch.V1;
using Kcm.Api.Core.V1;

namespace Kcm.Controllers.Jobs;

/// <summary>Job condition types, reasons and the small predicates upstream's job utils share with other controllers.</summary>
public static class JobConditions
{
    public const string Complete = "Complete";
    public const string Failed = "Failed";
    public const string Suspended = "Suspended";
    public const string FailureTarget = "FailureTarget";

    public const string ReasonPodFailurePolicy = "PodFailurePolicy";
    public const string ReasonBackoffLimitExceeded = "BackoffLimitExceeded";
    public const string ReasonDeadlineExceeded = "DeadlineExceeded";

    /// <summary>The pod finalizer of finalizer-based tracking, also the Job annotation that selects that mode.</summary>
    public const string TrackingFinalizer = "batch.kubernetes.io/job-tracking";

    public const string CompletionIndexAnnotation = "batch.kubernetes.io/job-completion-index";

    public const string NonIndexed = "NonIndexed";
    public const string Indexed = "Indexed";

    /// <summary>Upstream's IsJobFinished: a Complete or Failed condition that is True.</summary>
    public static bool IsFinished(Job job)
        => job.Status?.Conditions?.Any(c => c.Type is Complete or Failed && c.Status == "True") == true;

    /// <summary>The time the Job finished (its Complete or Failed condition's transition), as the TTL controller reads it.</summary>
    public static DateTimeOffset? FinishTime(Job job)
        => job.Status?.Conditions?.FirstOrDefault(c => c.Type is Complete or Failed && c.Status == "True")?.LastTransitionTime;

    public static JobCondition? Find(List<JobCondition>? conditions, string type) => conditions?.FirstOrDefault(c => c.Type == type);

    public static JobCondition New(string type, string status, string? reason, string? message, DateTimeOffset now) => new()
    {
        Type = type,
        Status = status,
        Reason = string.IsNullOrEmpty(reason) ? null : reason,
        Message = string.IsNullOrEmpty(message) ? null : message,
        LastProbeTime = now,
        LastTransitionTime = now,
    };

    /// <summary>Upstream's ensureJobConditionStatus: replaces a differing condition, adds a missing one unless it would be False.</summary>
    public static bool Ensure(JobStatus status, string type, string value, string? reason, string? message, DateTimeOffset now)
    {
        var index = status.Conditions?.FindIndex(c => c.Type == type) ?? -1;
        if (index >= 0)
        {
            var existing = status.Conditions![index];
            if (existing.Status != value || (existing.Reason ?? "") != (reason ?? "") || (existing.Message ?? "") != (message ?? ""))
            {
                status.Conditions[index] = New(type, value, reason, message, now);
                return true;
            }
            return false;
        }
        if (value != "False")
        {
            (status.Conditions ??= []).Add(New(type, value, reason, message, now));
            return true;
        }
        return false;
    }

    public static bool IsIndexed(Job job) => job.Spec?.CompletionMode == Indexed;

    public static string CompletionMode(Job job) => IsIndexed(job) ? Indexed : NonIndexed;

    public static bool IsSuspended(Job job) => job.Spec?.Suspend == true;

    public static bool HasTrackingAnnotation(Job job) => job.Metadata?.Annotations?.ContainsKey(TrackingFinalizer) == true;

    public static bool HasTrackingFinalizer(Pod pod) => pod.Metadata?.Finalizers?.Contains(TrackingFinalizer) == true;

    /// <summary>The pod's completion index from its annotation, or -1 when missing or invalid.</summary>
    public static int CompletionIndex(Pod pod)
        => pod.Metadata?.Annotations?.TryGetValue(CompletionIndexAnnotation, out var v) == true
           && int.TryParse(v, System.Globalization.NumberStyles.AllowLeadingSign, System.Globalization.CultureInfo.InvariantCulture, out var i) && i >= 0
            ? i
            : -1;
}

using Kcm.Runtime.Metrics;

namespace Kcm.Controllers.Jobs;

/// <summary>Upstream's pkg/controller/job/metrics, registered on the manager's registry (get-or-create, so every term shares them).</summary>
public sealed class JobMetrics(MetricsRegistry registry)
{
    public const string ActionReconciling = "reconciling";
    public const string ActionTracking = "tracking";
    public const string ActionPodsCreated = "pods_created";
    public const string ActionPodsDeleted = "pods_deleted";

    public Histogram SyncDuration { get; } = registry.Histogram("job_controller_job_sync_duration_seconds", "[STABLE] The time it took to sync a job",
        Histogram.ExponentialBuckets(0.001, 2, 15), "completion_mode", "result", "action");

    public Counter Syncs { get; } = registry.Counter("job_controller_job_syncs_total", "[STABLE] The number of job syncs", "completion_mode", "result", "action");

    public Counter JobsFinished { get; } = registry.Counter("job_controller_jobs_finished_total", "[STABLE] The number of finished jobs", "completion_mode", "result", "reason");

    public Counter PodsFinished { get; } = registry.Counter("job_controller_job_pods_finished_total", "[STABLE] The number of finished Pods that are fully tracked", "completion_mode", "result");

    public Counter PodFailuresHandledByFailurePolicy { get; } = registry.Counter("job_controller_pod_failures_handled_by_failure_policy_total",
        "[ALPHA] The number of failed Pods handled by failure policy with\n\t\t\trespect to the failure policy action applied based on the matched\n\t\t\trule. Possible values of the action label correspond to the\n\t\t\tpossible values for the failure policy rule action, which are:\n\t\t\t\"FailJob\", \"Ignore\" and \"Count\".", "action");

    public Counter TerminatedPodsTrackingFinalizer { get; } = registry.Counter("job_controller_terminated_pods_tracking_finalizer_total",
        "[ALPHA] The number of terminated pods (phase=Failed|Succeeded)\nthat have the finalizer batch.kubernetes.io/job-tracking\nThe event label can be \"add\" or \"delete\".", "event");
}

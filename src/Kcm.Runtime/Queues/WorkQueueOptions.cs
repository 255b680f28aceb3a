namespace Kcm.Runtime.Queues;

public sealed record WorkQueueOptions
{
    /// <summary>The metrics' name label; controllers use their own name.</summary>
    public string Name { get; init; } = "";

    public TimeProvider TimeProvider { get; init; } = TimeProvider.System;

    public IWorkQueueMetricsProvider MetricsProvider { get; init; } = NoopWorkQueueMetricsProvider.Instance;

    /// <summary>How often unfinished-work gauges are refreshed (client-go: every 500ms).</summary>
    public TimeSpan UnfinishedWorkUpdatePeriod { get; init; } = TimeSpan.FromMilliseconds(500);
}

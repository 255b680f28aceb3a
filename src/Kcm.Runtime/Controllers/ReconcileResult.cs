namespace Kcm.Runtime.Controllers;

public enum ReconcileAction
{
    /// <summary>Finished: the key's failure count is forgotten.</summary>
    Done,

    /// <summary>Finished for now: forget failures, look again after a delay.</summary>
    RequeueAfter,

    /// <summary>Not finished, nothing to report: retry with the queue's backoff, counted against the retry cap.</summary>
    Retry,

    /// <summary>Finished, but the key's failure count stays, so later retries keep backing off (upstream's job controller forgets only after progress).</summary>
    DoneKeepFailures,
}

/// <summary>What a reconcile asks of the queue when it returned normally (a thrown exception is a logged retry).</summary>
public readonly record struct ReconcileResult(ReconcileAction Action, TimeSpan Delay)
{
    public static ReconcileResult Done => default;

    public static ReconcileResult Retry => new(ReconcileAction.Retry, TimeSpan.Zero);

    public static ReconcileResult DoneKeepFailures => new(ReconcileAction.DoneKeepFailures, TimeSpan.Zero);

    public static ReconcileResult After(TimeSpan delay) => new(ReconcileAction.RequeueAfter, delay);

    /// <summary>The delay of a <see cref="ReconcileAction.RequeueAfter"/> result, else null.</summary>
    public TimeSpan? RequeueAfter => Action == ReconcileAction.RequeueAfter ? Delay : null;
}

/// <summary>Reconciles the object with this key (usually an <c>ObjectKey</c>).</summary>
public delegate Task<ReconcileResult> Reconciler<in TKey>(TKey key, CancellationToken cancellationToken);

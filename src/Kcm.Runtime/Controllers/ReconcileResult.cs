namespace Kcm.Runtime.Controllers;

/// <summary>What a reconcile asks of the queue when it succeeded: nothing, or another look after a delay.</summary>
public readonly record struct ReconcileResult(TimeSpan? RequeueAfter)
{
    public static ReconcileResult Done => default;

    public static ReconcileResult After(TimeSpan delay) => new(delay);
}

/// <summary>Reconciles the object with this key (usually "namespace/name").</summary>
public delegate Task<ReconcileResult> Reconciler(string key, CancellationToken cancellationToken);

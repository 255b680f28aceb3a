using Microsoft.Extensions.Logging;

namespace Kcm.Runtime.Controllers;

/// <summary>
/// How a controller's worker treats failures, as each upstream controller's handleErr does: retry with backoff
/// forever (the default, e.g. replicaset) or at most <see cref="MaxRetries"/> times before the key is dropped
/// (deployment: 15); some errors mean there is nothing to retry (<see cref="IsFinal"/>, e.g. a terminating
/// namespace), some are expected and logged quietly (<see cref="IsExpected"/>).
/// </summary>
public sealed record RetryPolicy
{
    public static RetryPolicy Forever { get; } = new();

    /// <summary>Retries after which the key is forgotten and dropped; null retries forever.</summary>
    public int? MaxRetries { get; init; }

    /// <summary>What the drop log line calls a key (upstream: "Dropping deployment out of the queue").</summary>
    public string ItemKind { get; init; } = "key";

    /// <summary>Errors that end the key's work as if it had succeeded (no log, failures forgotten).</summary>
    public Func<Exception, bool> IsFinal { get; init; } = _ => false;

    /// <summary>Errors retried like any other but logged at debug level only.</summary>
    public Func<Exception, bool> IsExpected { get; init; } = ex => ex is IgnorableReconcileException;

    /// <summary>
    /// How a failed sync is logged, in the words, level and keys of this controller's upstream handleErr; null keeps
    /// the generic lines. Called once per failure, with dropping true when the key leaves the queue.
    /// </summary>
    public FailureLogger? LogFailure { get; init; }

    public static RetryPolicy DropAfter(int maxRetries, string itemKind) => new() { MaxRetries = maxRetries, ItemKind = itemKind };

    /// <summary>
    /// Upstream's most common handleErr, utilruntime.HandleError(fmt.Errorf(...)): one unstructured error line whose
    /// text <paramref name="text"/> builds from the key and the error, retried forever.
    /// </summary>
    public static RetryPolicy HandleError(Func<object, Exception, string> text)
        => new() { LogFailure = (logger, key, error, _) => logger.LogError("{Text}", text(key, error)) };

    public delegate void FailureLogger(ILogger logger, object key, Exception error, bool dropping);
}

namespace Kcm.Runtime.Controllers;

/// <summary>
/// A reconcile failure that is expected (upstream's certificates.IgnorableError, e.g. a CSR the requester may not
/// have auto-approved): the key is retried with backoff like any failure, but logged at debug level only.
/// </summary>
public sealed class IgnorableReconcileException(string message) : Exception(message);

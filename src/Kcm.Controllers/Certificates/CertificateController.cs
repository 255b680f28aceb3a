using Kcm.Api;
using Kcm.Api.Certificates.V1;
using Kcm.Runtime.Controllers;
using Kcm.Runtime.Informers;
using Kcm.Runtime.Queues;
using Microsoft.Extensions.Logging;

namespace Kcm.Controllers.Certificates;

/// <summary>Acts on one CSR (a private copy, safe to change) that has no certificate yet.</summary>
public delegate Task CsrHandler(CertificateSigningRequest csr, CancellationToken cancellationToken);

/// <summary>
/// Upstream's shared CSR harness (pkg/controller/certificates): every CSR event queues its name; a worker hands
/// each not-yet-issued CSR to the controller's handler; a failed handler is retried with the harness's own backoff
/// (200ms doubling to 1000s, overall 10 qps / burst 100).
/// </summary>
public sealed class CertificateController
{
    private readonly SharedInformer<CertificateSigningRequest> _informer;
    private readonly CsrHandler _handler;
    private readonly ControllerWorkers<ObjectKey> _workers;
    private readonly ILogger _logger;

    public CertificateController(string name, ControllerContext context, CsrHandler handler)
    {
        _handler = handler;
        _logger = context.Loggers.CreateLogger(name);
        var queue = new RateLimitingQueue<ObjectKey>(
            new MaxOfRateLimiter<ObjectKey>(
                new ItemExponentialFailureRateLimiter<ObjectKey>(TimeSpan.FromMilliseconds(200), TimeSpan.FromSeconds(1000)),
                new BucketRateLimiter<ObjectKey>(10, 100, context.Time)),
            context.QueueOptions("certificate"));
        _informer = context.Informers.InformerFor<CertificateSigningRequest>();
        _informer.AddEventHandler(new EnqueueKeyHandler<CertificateSigningRequest>(queue));
        // Upstream's processNextWorkItem: ignorable errors at V(4), others through utilruntime.HandleError.
        var policy = RetryPolicy.Forever with
        {
            LogFailure = (logger, key, error, _) =>
            {
                if (error is IgnorableReconcileException) logger.LogTrace("Sync {Key} failed with : {Error}", key, error.Message);
                else logger.LogError("{Message}", $"Sync {key} failed with : {error.Message}");
            },
        };
        _workers = new ControllerWorkers<ObjectKey>(name, queue, SyncAsync, _logger, policy, [_informer]) { CacheSyncName = $"certificate-{name}" };
        Name = name;
    }

    public string Name { get; }

    public async Task RunAsync(int workers, CancellationToken cancellationToken)
    {
        _logger.LogInformation("Starting certificate controller \"{Name}\"", Name);
        try
        {
            await _workers.RunAsync(workers, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _logger.LogInformation("Shutting down certificate controller \"{Name}\"", Name);
        }
    }

    private async Task<ReconcileResult> SyncAsync(ObjectKey key, CancellationToken cancellationToken)
    {
        var cached = _informer.Cache.Get(key);
        if (cached is null)
        {
            _logger.LogDebug("csr has been deleted: {Key}", key);
            return ReconcileResult.Done;
        }
        if (Csr.IsIssued(cached))
        {
            return ReconcileResult.Done; // nothing left to do once a certificate is there
        }
        // The cached object is shared with every other handler: work on a copy.
        var copy = KubeJson.Deserialize<CertificateSigningRequest>(KubeJson.Serialize(cached))!;
        await _handler(copy, cancellationToken).ConfigureAwait(false);
        return ReconcileResult.Done;
    }
}

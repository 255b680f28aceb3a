using Kcm.Api.Core.V1;
using Kcm.Api.Meta.V1;
using Kcm.Client;
using Kcm.Controllers.Common;
using Kcm.Runtime.Controllers;
using Kcm.Runtime.Events;
using Kcm.Runtime.Informers;
using Kcm.Runtime.Metrics;
using Kcm.Runtime.Queues;
using Microsoft.Extensions.Logging;

namespace Kcm.Controllers.EphemeralVolumes;

public sealed record EphemeralVolumeControllerOptions
{
    public int Workers { get; init; } = 5;
}

/// <summary>Claim creation (a seam for unit tests).</summary>
public interface IEphemeralClaimClient
{
    Task CreateClaimAsync(PersistentVolumeClaim claim, CancellationToken cancellationToken);
}

public sealed class ApiEphemeralClaimClient(KubeApiClient client) : IEphemeralClaimClient
{
    public Task CreateClaimAsync(PersistentVolumeClaim claim, CancellationToken cancellationToken)
        => client.CreateAsync(claim, claim.Metadata?.Namespace, cancellationToken: cancellationToken);
}

/// <summary>
/// Upstream v1.26's ephemeral-volume controller: each generic ephemeral volume of a pod not being deleted gets its
/// claim "&lt;pod&gt;-&lt;volume&gt;" from the volume's claim template, controlled by the pod (so the garbage collector
/// removes it with the pod). A claim of that name the pod does not control is an error (a FailedBinding event on the
/// pod, retried). Pods are queued when added and when one of their claims is deleted.
/// </summary>
public sealed class EphemeralVolumeController
{
    public const string ControllerName = "ephemeral-volume";
    public const string ServiceAccountName = "ephemeral-volume-controller";
    public const string QueueName = "ephemeral_volume";
    public const string EventComponent = "ephemeral_volume";
    public const string FailedBinding = "FailedBinding";

    private readonly IObjectCache<Pod> _pods;
    private readonly IObjectCache<PersistentVolumeClaim> _claims;
    private readonly IEphemeralClaimClient _client;
    private readonly IEventRecorder _recorder;
    private readonly RateLimitingQueue<ObjectKey> _queue;
    private readonly Counter _creates;
    private readonly Counter _createFailures;

    public EphemeralVolumeController(ControllerContext context)
        : this(context, context.Informers.InformerFor<Pod>(), context.Informers.InformerFor<PersistentVolumeClaim>())
    {
    }

    private EphemeralVolumeController(ControllerContext context, SharedInformer<Pod> pods, SharedInformer<PersistentVolumeClaim> claims)
        : this(PrepareIndex(pods), claims.Cache, new ApiEphemeralClaimClient(context.Clients.For(ServiceAccountName)),
            context.Events.NewRecorder(EventComponent, EventLogging.Legacy), context.NewQueue(QueueName), context.Metrics,
            context.Loggers.CreateLogger<EphemeralVolumeController>(), [pods, claims])
    {
        pods.AddEventHandler(new ResourceEventHandler<Pod> { Added = (pod, _) => EnqueuePod(pod) });
        claims.AddEventHandler(new ResourceEventHandler<PersistentVolumeClaim> { Deleted = (claim, _) => OnClaimDeleted(claim) });
    }

    internal EphemeralVolumeController(IObjectCache<Pod> pods, IObjectCache<PersistentVolumeClaim> claims, IEphemeralClaimClient client,
        IEventRecorder recorder, RateLimitingQueue<ObjectKey> queue, MetricsRegistry metrics, ILogger logger, IReadOnlyList<ISharedInformer>? informers = null)
    {
        _pods = pods;
        _claims = claims;
        _client = client;
        _recorder = recorder;
        _queue = queue;
        // Upstream's help text for both counters, typo included.
        _creates = metrics.Counter("ephemeral_volume_controller_create_total", "[ALPHA] Number of PersistenVolumeClaims creation requests");
        _createFailures = metrics.Counter("ephemeral_volume_controller_create_failures_total", "[ALPHA] Number of PersistenVolumeClaims creation requests");
        var policy = RetryPolicy.HandleError((key, error) => $"{key} failed with: {error.Message}");
        Workers = new ControllerWorkers<ObjectKey>(ControllerName, queue, SyncAsync, logger, policy, informers ?? [])
        {
            Description = "ephemeral volume controller",
            CacheSyncName = "ephemeral",
        };
    }

    public ControllerWorkers<ObjectKey> Workers { get; }

    public Task RunAsync(int workers, CancellationToken cancellationToken) => Workers.RunAsync(workers, cancellationToken);

    private static IObjectCache<Pod> PrepareIndex(SharedInformer<Pod> pods)
    {
        PodPvcIndex.AddTo(pods);
        return pods.Cache;
    }

    internal void EnqueuePod(Pod pod)
    {
        if (pod.Metadata?.DeletionTimestamp is not null)
        {
            return;
        }
        if (pod.Spec?.Volumes?.Any(v => v.Ephemeral is not null) == true)
        {
            _queue.Add(ObjectKey.Of(pod));
        }
    }

    // A deleted claim is created again while its pod lives.
    internal void OnClaimDeleted(PersistentVolumeClaim claim)
    {
        foreach (var pod in _pods.ByIndex(PodPvcIndex.Name, claim.Metadata?.Namespace + "/" + claim.Metadata?.Name))
        {
            EnqueuePod(pod);
        }
    }

    public async Task<ReconcileResult> SyncAsync(ObjectKey key, CancellationToken cancellationToken)
    {
        if (_pods.Get(key) is not { } pod || pod.Metadata?.DeletionTimestamp is not null)
        {
            return ReconcileResult.Done;
        }
        foreach (var volume in pod.Spec?.Volumes ?? [])
        {
            try
            {
                await HandleVolumeAsync(pod, volume, cancellationToken).ConfigureAwait(false);
            }
            catch (EphemeralVolumeException e)
            {
                _recorder.Event(ControllerRefs.ReferenceTo(pod.Metadata!, Pod.Resource), EventTypes.Warning, FailedBinding, $"ephemeral volume {volume.Name}: {e.Message}");
                throw new EphemeralVolumeSyncException($"pod {key}, ephemeral volume {volume.Name}: {e.Message}", e);
            }
        }
        return ReconcileResult.Done;
    }

    private async Task HandleVolumeAsync(Pod pod, Volume volume, CancellationToken cancellationToken)
    {
        if (volume.Ephemeral is null)
        {
            return;
        }
        var claimName = PodPvcIndex.EphemeralClaimName(pod, volume);
        if (_claims.Get(new ObjectKey(pod.Metadata?.Namespace, claimName)) is { } existing)
        {
            if (PodPvcIndex.EphemeralClaimNotForPod(pod, existing) is { } conflict)
            {
                throw new EphemeralVolumeException(conflict);
            }
            return;
        }
        var template = volume.Ephemeral.VolumeClaimTemplate;
        var claim = new PersistentVolumeClaim
        {
            Metadata = new ObjectMeta
            {
                Name = claimName,
                Namespace = pod.Metadata?.Namespace,
                OwnerReferences = [ControllerRefs.NewControllerRef(pod.Metadata!, Pod.Resource)],
                Annotations = template?.Metadata?.Annotations,
                Labels = template?.Metadata?.Labels,
            },
            Spec = template?.Spec,
        };
        _creates.Inc();
        try
        {
            await _client.CreateClaimAsync(claim, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            _createFailures.Inc();
            throw new EphemeralVolumeException($"create PVC {claimName}: {e.Message}", e);
        }
    }
}

/// <summary>A volume's claim could not be had: one of that name not controlled by the pod, or its create failed.</summary>
public sealed class EphemeralVolumeException(string message, Exception? inner = null) : InvalidOperationException(message, inner);

/// <summary>A pod's sync failed (retried with backoff); the message is upstream's.</summary>
public sealed class EphemeralVolumeSyncException(string message, Exception inner) : InvalidOperationException(message, inner);

using System.Globalization;
using System.Text.Json.Nodes;
using Kcm.Api.Core.V1;
using Kcm.Client;
using Kcm.Runtime.Controllers;
using Kcm.Runtime.Informers;
using Kcm.Runtime.Queues;
using Microsoft.Extensions.Logging;

namespace Kcm.Controllers.Ttl;

public sealed record TtlControllerOptions
{
    /// <summary>Upstream starts 5 workers and has no flag for it.</summary>
    public int Workers { get; init; } = 5;
}

/// <summary>Writes a node's annotation (a seam for unit tests).</summary>
public interface ITtlNodeClient
{
    Task PatchAsync(string nodeName, PatchType type, string patch, CancellationToken cancellationToken);
}

public sealed class ApiTtlNodeClient(KubeApiClient client) : ITtlNodeClient
{
    public Task PatchAsync(string nodeName, PatchType type, string patch, CancellationToken cancellationToken)
        => client.PatchAsync<Node>(null, nodeName, type, patch, cancellationToken: cancellationToken);
}

/// <summary>
/// Upstream's TTL controller: sets every node's node.alpha.kubernetes.io/ttl annotation, which tells kubelets how
/// long they may cache secrets and config maps, from the cluster size (see <see cref="TtlBoundaries"/>). The size
/// is counted from node add and delete events; every node event queues the node, so after a size change each
/// node is corrected at its next status update.
/// </summary>
public sealed class TtlController
{
    public const string ControllerName = "ttl";
    public const string ServiceAccountName = "ttl-controller";
    public const string QueueName = "ttlcontroller";
    public const string AnnotationKey = "node.alpha.kubernetes.io/ttl";

    private readonly IObjectCache<Node> _nodes;
    private readonly ITtlNodeClient _client;
    private readonly RateLimitingQueue<ObjectKey> _queue;
    private readonly ILogger _logger;
    private readonly TtlBoundaries _boundaries = new();
    private readonly Lock _lock = new();

    public TtlController(ControllerContext context)
        : this(context, context.Informers.InformerFor<Node>())
    {
    }

    private TtlController(ControllerContext context, SharedInformer<Node> nodeInformer)
        : this(
            nodeInformer.Cache,
            new ApiTtlNodeClient(context.Clients.For(ServiceAccountName)),
            context.NewQueue(QueueName),
            context.Loggers.CreateLogger<TtlController>(),
            [nodeInformer])
    {
        nodeInformer.AddEventHandler(new ResourceEventHandler<Node>
        {
            Added = (node, _) => OnNodeAdded(node),
            Updated = (_, node) => OnNodeUpdated(node),
            Deleted = (_, _) => OnNodeDeleted(),
        });
    }

    /// <summary>Builds the controller without informers (unit tests feed the cache and call the handlers).</summary>
    internal TtlController(IObjectCache<Node> nodes, ITtlNodeClient client, RateLimitingQueue<ObjectKey> queue, ILogger logger, IReadOnlyList<ISharedInformer>? informers = null)
    {
        _nodes = nodes;
        _client = client;
        _queue = queue;
        _logger = logger;
        var policy = RetryPolicy.HandleError((_, error) => error.Message);
        Workers = new ControllerWorkers<ObjectKey>(ControllerName, queue, SyncAsync, logger, policy, informers ?? [])
        {
            Description = "TTL controller",
            CacheSyncName = "TTL",
        };
    }

    public ControllerWorkers<ObjectKey> Workers { get; }

    public int DesiredTtlSeconds
    {
        get
        {
            lock (_lock)
            {
                return _boundaries.DesiredTtlSeconds;
            }
        }
    }

    public Task RunAsync(int workers, CancellationToken cancellationToken) => Workers.RunAsync(workers, cancellationToken);

    internal void OnNodeAdded(Node node)
    {
        lock (_lock)
        {
            _boundaries.NodeAdded();
        }
        _queue.Add(ObjectKey.Of(node));
    }

    // Every update, not only annotation changes: kubelet status updates are what carry a new TTL to each node.
    internal void OnNodeUpdated(Node node) => _queue.Add(ObjectKey.Of(node));

    // A deleted node needs no annotation; only the count changes.
    internal void OnNodeDeleted()
    {
        lock (_lock)
        {
            _boundaries.NodeDeleted();
        }
    }

    public async Task<ReconcileResult> SyncAsync(ObjectKey key, CancellationToken cancellationToken)
    {
        if (_nodes.Get(key) is not { } node)
        {
            return ReconcileResult.Done;
        }
        var desired = DesiredTtlSeconds;
        if (CurrentTtlSeconds(node) == desired)
        {
            return ReconcileResult.Done;
        }
        await _client.PatchAsync(key.Name, PatchType.StrategicMerge, AnnotationPatch(desired), cancellationToken).ConfigureAwait(false);
        _logger.LogDebug("Changed ttl annotation {Node} {New_ttl}", key.Name, TimeSpan.FromSeconds(desired));
        return ReconcileResult.Done;
    }

    /// <summary>The body upstream's two-way strategic merge patch comes to when only this annotation changed.</summary>
    internal static string AnnotationPatch(int ttlSeconds) => new JsonObject
    {
        ["metadata"] = new JsonObject
        {
            ["annotations"] = new JsonObject { [AnnotationKey] = ttlSeconds.ToString(CultureInfo.InvariantCulture) },
        },
    }.ToJsonString();

    private int? CurrentTtlSeconds(Node node)
    {
        if (node.Metadata?.Annotations?.TryGetValue(AnnotationKey, out var value) != true)
        {
            return null;
        }
        // Go's strconv.Atoi: optional sign, ASCII digits, no spaces.
        if (int.TryParse(value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var seconds))
        {
            return seconds;
        }
        _logger.LogWarning("Cannot convert the value \"{Value}\" with annotation key \"{Key}\" for the node \"{Node}\"", value, AnnotationKey, node.Metadata.Name);
        return null;
    }
}

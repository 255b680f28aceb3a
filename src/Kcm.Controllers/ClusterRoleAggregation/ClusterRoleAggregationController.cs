using Kcm.Api.Rbac.V1;
using Kcm.Api.Selectors;
using Kcm.Client.Errors;
using Kcm.Runtime.Controllers;
using Kcm.Runtime.Informers;
using Kcm.Runtime.Queues;
using Microsoft.Extensions.Logging;

namespace Kcm.Controllers.ClusterRoleAggregation;

public sealed record ClusterRoleAggregationOptions
{
    /// <summary>Upstream starts 5 workers and has no flag for it.</summary>
    public int Workers { get; init; } = 5;
}

/// <summary>
/// Upstream's clusterrole-aggregation controller: a ClusterRole with an aggregationRule gets, as its rules, the
/// rules of every other ClusterRole its selectors match (selector by selector, roles by name, a rule added once),
/// written only when they differ. Which roles feed which is not tracked: any ClusterRole change queues every
/// aggregating role, which is cheap because the cache is local and the set small.
/// </summary>
public sealed class ClusterRoleAggregationController
{
    public const string ControllerName = "clusterrole-aggregation";
    public const string ServiceAccountName = "clusterrole-aggregation-controller";
    public const string QueueName = "ClusterRoleAggregator";

    private readonly IObjectCache<ClusterRole> _roles;
    private readonly IClusterRoleWriter _writer;
    private readonly RateLimitingQueue<ObjectKey> _queue;
    private readonly ILogger _logger;

    public ClusterRoleAggregationController(ControllerContext context)
        : this(context, context.Informers.InformerFor<ClusterRole>())
    {
    }

    private ClusterRoleAggregationController(ControllerContext context, SharedInformer<ClusterRole> informer)
        : this(
            informer.Cache,
            new ApiClusterRoleWriter(context.Clients.For(ServiceAccountName)),
            context.NewQueue(QueueName),
            context.Loggers.CreateLogger<ClusterRoleAggregationController>(),
            [informer])
    {
        informer.AddEventHandler(new ResourceEventHandler<ClusterRole>
        {
            Added = (_, _) => EnqueueAggregatingRoles(),
            Updated = (_, _) => EnqueueAggregatingRoles(),
            Deleted = (_, _) => EnqueueAggregatingRoles(),
        });
    }

    /// <summary>Builds the controller without informers (unit tests feed the cache and call the handlers).</summary>
    internal ClusterRoleAggregationController(IObjectCache<ClusterRole> roles, IClusterRoleWriter writer, RateLimitingQueue<ObjectKey> queue, ILogger logger, IReadOnlyList<ISharedInformer>? informers = null)
    {
        _roles = roles;
        _writer = writer;
        _queue = queue;
        _logger = logger;
        var policy = RetryPolicy.HandleError((key, error) => $"{key} failed with : {error.Message}");
        Workers = new ControllerWorkers<ObjectKey>(ControllerName, queue, SyncAsync, logger, policy, informers ?? [])
        {
            Description = "ClusterRoleAggregator",
            CacheSyncName = "ClusterRoleAggregator",
        };
    }

    public ControllerWorkers<ObjectKey> Workers { get; }

    public Task RunAsync(int workers, CancellationToken cancellationToken) => Workers.RunAsync(workers, cancellationToken);

    internal void EnqueueAggregatingRoles()
    {
        foreach (var role in _roles.List())
        {
            if (role.AggregationRule is not null)
            {
                _queue.Add(ObjectKey.Of(role));
            }
        }
    }

    public async Task<ReconcileResult> SyncAsync(ObjectKey key, CancellationToken cancellationToken)
    {
        if (_roles.Get(key) is not { AggregationRule: { } rule } role)
        {
            return ReconcileResult.Done;
        }
        var rules = AggregatedRules(role, rule, _roles.List());
        if (PolicyRules.SameRules(rules, role.Rules))
        {
            return ReconcileResult.Done;
        }
        try
        {
            await _writer.ApplyAsync(key.Name, rules, cancellationToken).ConfigureAwait(false);
        }
        catch (KubeApiException e) when (IsUnsupportedMediaType(e))
        {
            // A server without server-side apply (the embedded one): upstream falls back to an update of the cached copy.
            _logger.LogTrace("Server-side apply of ClusterRole {Name} refused ({Reason}); updating instead", key.Name, e.Reason);
            await _writer.UpdateAsync(role, rules, cancellationToken).ConfigureAwait(false);
        }
        _logger.LogTrace("Aggregated {Count} rules into ClusterRole {Name}", rules.Count, key.Name);
        return ReconcileResult.Done;
    }

    /// <summary>
    /// The rules of the roles each selector matches, selector by selector, roles sorted by name, the aggregating
    /// role itself skipped, each rule kept unless an equal one is already in.
    /// </summary>
    internal static List<PolicyRule> AggregatedRules(ClusterRole role, AggregationRule rule, IReadOnlyList<ClusterRole> all)
    {
        var result = new List<PolicyRule>();
        var name = role.Metadata?.Name;
        foreach (var apiSelector in rule.ClusterRoleSelectors ?? [])
        {
            // A selector entry is a value upstream, so a null one is the empty selector: everything.
            var selector = LabelSelector.FromApi(apiSelector) ?? LabelSelector.Everything;
            var matched = all
                .Where(r => selector.Matches(r.Metadata?.Labels))
                .OrderBy(r => r.Metadata?.Name, StringComparer.Ordinal);
            foreach (var source in matched)
            {
                if (source.Metadata?.Name == name)
                {
                    continue;
                }
                foreach (var candidate in source.Rules ?? [])
                {
                    if (!result.Any(r => PolicyRules.Same(r, candidate)))
                    {
                        result.Add(candidate);
                    }
                }
            }
        }
        return result;
    }

    // client-go's IsUnsupportedMediaType: the reason, or the code when the body carried no known reason.
    private static bool IsUnsupportedMediaType(KubeApiException e)
        => e.Reason == "UnsupportedMediaType" || (e.StatusCode == 415 && e.Reason is "" or "Unknown");
}

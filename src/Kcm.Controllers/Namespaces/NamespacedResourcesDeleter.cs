using System.Collections.Concurrent;
using System.Text.Json.Nodes;
using Kcm.Api.Core.V1;
using Kcm.Api.Meta.V1;
using Kcm.Client;
using Kcm.Client.Errors;
using Microsoft.Extensions.Logging;
using CoreNamespace = Kcm.Api.Core.V1.Namespace;
using Kcm.Controllers.Common;

namespace Kcm.Controllers.Namespaces;

/// <summary>Content is still being removed; look again after about half the estimate (upstream ResourcesRemainingError).</summary>
public sealed class ResourcesRemainingException(long estimateSeconds)
    : InvalidOperationException($"some content remains in the namespace, estimate {estimateSeconds} seconds before it is removed")
{
    public long EstimateSeconds { get; } = estimateSeconds;
}

/// <summary>Some resource kinds could not be emptied; the message lists each failure (upstream's aggregate error).</summary>
public sealed class NamespaceContentDeletionException(IReadOnlyList<Exception> errors)
    : InvalidOperationException(errors.Count == 1 ? errors[0].Message : $"[{string.Join(", ", errors.Select(e => e.Message))}]")
{
    public IReadOnlyList<Exception> Errors { get; } = errors;
}

/// <summary>
/// Upstream's namespacedResourcesDeleter: for a namespace being deleted, marks it Terminating, deletes every
/// namespaced resource discovery lists (deletecollection where served, else list and delete each), reports what
/// remains in the namespace's conditions, and once the namespace is empty removes its finalizer token through
/// the finalize subresource.
/// </summary>
public sealed class NamespacedResourcesDeleter(KubeApiClient client, string finalizerToken, TimeProvider time, ILogger logger)
{
    /// <summary>Assumed wait for finalizers on remaining items (upstream finalizerEstimateSeconds).</summary>
    public const long FinalizerEstimateSeconds = 15;

    private static readonly DeleteOptions BackgroundDeletion = new() { PropagationPolicy = "Background" };

    private readonly ConcurrentDictionary<(GroupVersionResource, string Verb), bool> _unsupported = new();

    /// <summary>Throws <see cref="ResourcesRemainingException"/> while content remains; returns when done or nothing to do.</summary>
    public async Task DeleteAsync(string name, CancellationToken cancellationToken)
    {
        CoreNamespace ns;
        try
        {
            ns = await client.GetAsync<CoreNamespace>(null, name, cancellationToken).ConfigureAwait(false);
        }
        catch (NotFoundException)
        {
            return;
        }
        if (ns.Metadata?.DeletionTimestamp is null)
        {
            return;
        }
        logger.LogTrace("namespace controller - syncNamespace - namespace: {Namespace}, finalizerToken: {Token}", name, finalizerToken);
        try
        {
            ns = await RetryOnConflictAsync(ns, MarkTerminatingAsync, cancellationToken).ConfigureAwait(false);
        }
        catch (NotFoundException)
        {
            return;
        }
        if (ns.Metadata?.DeletionTimestamp is null || IsFinalized(ns))
        {
            return;
        }
        var estimate = await DeleteAllContentAsync(ns, cancellationToken).ConfigureAwait(false);
        if (estimate > 0)
        {
            throw new ResourcesRemainingException(estimate);
        }
        try
        {
            await RetryOnConflictAsync(ns, FinalizeAsync, cancellationToken).ConfigureAwait(false);
        }
        catch (NotFoundException)
        {
            // Another controller sharing the token finished first.
        }
    }

    private static bool IsFinalized(CoreNamespace ns) => ns.Spec?.Finalizers is not { Count: > 0 };

    private async Task<CoreNamespace> RetryOnConflictAsync(CoreNamespace ns, Func<CoreNamespace, CancellationToken, Task<CoreNamespace>> update, CancellationToken cancellationToken)
    {
        var latest = ns;
        while (true)
        {
            try
            {
                return await update(latest, cancellationToken).ConfigureAwait(false);
            }
            catch (ConflictException)
            {
                var previousUid = latest.Metadata?.Uid;
                latest = await client.GetAsync<CoreNamespace>(null, latest.Metadata!.Name!, cancellationToken).ConfigureAwait(false);
                if (latest.Metadata?.Uid != previousUid)
                {
                    throw new NamespaceUidChangedException();
                }
            }
        }
    }

    private async Task<CoreNamespace> MarkTerminatingAsync(CoreNamespace ns, CancellationToken cancellationToken)
    {
        if (ns.Metadata?.DeletionTimestamp is null || ns.Status?.Phase == "Terminating")
        {
            return ns;
        }
        (ns.Status ??= new NamespaceStatus()).Phase = "Terminating";
        return await client.UpdateStatusAsync(ns, cancellationToken: cancellationToken).ConfigureAwait(false);
    }

    private async Task<CoreNamespace> FinalizeAsync(CoreNamespace ns, CancellationToken cancellationToken)
    {
        var remaining = (ns.Spec?.Finalizers ?? []).Where(f => f != finalizerToken).Distinct().Order(StringComparer.Ordinal).ToList();
        (ns.Spec ??= new NamespaceSpec()).Finalizers = remaining;
        try
        {
            return await client.ReplaceSubresourceAsync<CoreNamespace, CoreNamespace>(null, ns.Metadata!.Name!, "finalize", ns, cancellationToken: cancellationToken).ConfigureAwait(false);
        }
        catch (NotFoundException)
        {
            return ns; // Removed already: life is good.
        }
    }

    /// <summary>Upstream deleteAllContent: the largest estimate of seconds until content is gone (0 = nothing left).</summary>
    private async Task<long> DeleteAllContentAsync(CoreNamespace ns, CancellationToken cancellationToken)
    {
        var name = ns.Metadata!.Name!;
        var deletedAt = ns.Metadata.DeletionTimestamp!.Value;
        var errors = new List<Exception>();
        var conditions = new NamespaceConditionUpdater(time);
        logger.LogTrace("namespace controller - deleteAllContent - namespace: {Namespace}", name);

        IReadOnlyList<DiscoveredResource> resources = [];
        try
        {
            var discovered = await ServerResources.DiscoverAsync(client.Discovery, cancellationToken).ConfigureAwait(false);
            resources = [.. discovered.Preferred.Where(r => r.Namespaced)];
            if (discovered.Failure is { } failure)
            {
                // Not fatal: delete what could be discovered.
                errors.Add(failure);
                conditions.ProcessDiscoveryError(failure);
            }
        }
        catch (Exception ex) when (ex is KubeApiException or KubeProtocolException or HttpRequestException)
        {
            errors.Add(ex);
            conditions.ProcessDiscoveryError(ex);
        }

        var estimate = 0L;
        var remainingByResource = new Dictionary<GroupVersionResource, int>();
        var remainingByFinalizer = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var resource in resources.Where(r => r.Supports("delete")))
        {
            var result = new ResourceDeletion(0, 0, null);
            try
            {
                result = await DeleteAllContentForResourceAsync(resource, name, deletedAt, cancellationToken).ConfigureAwait(false);
            }
            catch (ContentDeletionException ex)
            {
                result = ex.Partial;
                errors.Add(ex);
                conditions.ProcessDeleteContentError(ex);
            }
            catch (Exception ex) when (ex is KubeApiException or KubeProtocolException or HttpRequestException)
            {
                errors.Add(ex);
                conditions.ProcessDeleteContentError(ex);
            }
            estimate = Math.Max(estimate, result.EstimateSeconds);
            if (result.Remaining > 0)
            {
                remainingByResource[resource.Resource] = result.Remaining;
                foreach (var (finalizer, count) in result.Finalizers ?? [])
                {
                    remainingByFinalizer[finalizer] = remainingByFinalizer.GetValueOrDefault(finalizer) + count;
                }
            }
        }
        conditions.ProcessContentTotals(remainingByResource, remainingByFinalizer);

        // Always written when changed: a condition going back to "ok" matters as much as a failure.
        if (conditions.Update(ns.Status ??= new NamespaceStatus()))
        {
            try
            {
                await client.UpdateStatusAsync(ns, cancellationToken: cancellationToken).ConfigureAwait(false);
            }
            catch (KubeApiException ex)
            {
                logger.LogError("couldn't update status condition for namespace \"{Namespace}\": {Error}", name, ex.Message);
            }
        }
        if (logger.IsEnabled(LogLevel.Trace))
        {
            logger.LogTrace("{Message}", $"namespace controller - deleteAllContent - namespace: {name}, estimate: {estimate}, errors: {(errors.Count == 0 ? "<nil>" : string.Join(", ", errors.Select(e => e.Message)))}");
        }
        if (errors.Count > 0)
        {
            throw new NamespaceContentDeletionException(errors);
        }
        return estimate;
    }

    private sealed record ResourceDeletion(long EstimateSeconds, int Remaining, Dictionary<string, int>? Finalizers);

    private sealed class ContentDeletionException(string message, ResourceDeletion partial) : InvalidOperationException(message)
    {
        public ResourceDeletion Partial { get; } = partial;
    }

    private async Task<ResourceDeletion> DeleteAllContentForResourceAsync(DiscoveredResource resource, string ns, DateTimeOffset deletedAt, CancellationToken cancellationToken)
    {
        var estimate = 0L;
        if (resource.Resource is { Group: "", Resource: "pods" })
        {
            estimate = await EstimateGracefulTerminationForPodsAsync(ns, cancellationToken).ConfigureAwait(false);
            if (time.GetUtcNow() - deletedAt >= TimeSpan.FromSeconds(estimate))
            {
                estimate = 0;
            }
        }
        try
        {
            if (!await DeleteCollectionAsync(resource, ns, cancellationToken).ConfigureAwait(false))
            {
                await DeleteEachItemAsync(resource, ns, cancellationToken).ConfigureAwait(false);
            }
        }
        catch (KubeApiException ex)
        {
            throw new ContentDeletionException(ex.Message, new ResourceDeletion(estimate, 0, null));
        }

        var items = await ListAsync(resource, ns, cancellationToken).ConfigureAwait(false);
        if (items is null)
        {
            return new ResourceDeletion(estimate, 0, null);
        }
        if (items.Count == 0)
        {
            return new ResourceDeletion(0, 0, null);
        }
        var finalizers = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var item in items)
        {
            if (item?["metadata"]?["finalizers"] is JsonArray list)
            {
                foreach (var finalizer in list)
                {
                    if (finalizer is JsonValue v && v.TryGetValue<string>(out var text))
                    {
                        finalizers[text] = finalizers.GetValueOrDefault(text) + 1;
                    }
                }
            }
        }
        if (estimate != 0)
        {
            return new ResourceDeletion(estimate, items.Count, finalizers);
        }
        if (finalizers.Count > 0)
        {
            // Finalizers are normal (e.g. the garbage collector's): give them time.
            return new ResourceDeletion(FinalizerEstimateSeconds, items.Count, finalizers);
        }
        var gvr = resource.Resource;
        throw new ContentDeletionException($"unexpected items still remain in namespace: {ns} for gvr: {{{gvr.Group} {gvr.Version} {gvr.Resource}}}", new ResourceDeletion(estimate, items.Count, null));
    }

    /// <summary>True when deletecollection was served (with or without error); false means list and delete one by one.</summary>
    private async Task<bool> DeleteCollectionAsync(DiscoveredResource resource, string ns, CancellationToken cancellationToken)
    {
        if (!Supported(resource, "deletecollection"))
        {
            return false;
        }
        try
        {
            // Background propagation: the namespace must not wait on orphan finalizers the collector would add.
            await client.Dynamic.Resource(resource.Resource, true).DeleteCollectionAsync(ns, null, BackgroundDeletion, cancellationToken).ConfigureAwait(false);
            return true;
        }
        catch (Exception ex) when (ex is MethodNotAllowedException or NotFoundException)
        {
            // Some resources are listed by discovery without serving the collection verb (issue 22413).
            _unsupported[(resource.Resource, "deletecollection")] = true;
            return false;
        }
    }

    private async Task DeleteEachItemAsync(DiscoveredResource resource, string ns, CancellationToken cancellationToken)
    {
        var items = await ListAsync(resource, ns, cancellationToken).ConfigureAwait(false);
        foreach (var item in items ?? [])
        {
            if (item?["metadata"]?["name"] is not JsonValue nameValue || !nameValue.TryGetValue<string>(out var name))
            {
                continue;
            }
            try
            {
                await client.Dynamic.Resource(resource.Resource, true).DeleteAsync(ns, name, BackgroundDeletion, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is NotFoundException or MethodNotAllowedException)
            {
            }
        }
    }

    /// <summary>The items in the namespace, or null when the resource cannot be listed.</summary>
    private async Task<JsonArray?> ListAsync(DiscoveredResource resource, string ns, CancellationToken cancellationToken)
    {
        if (!Supported(resource, "list"))
        {
            return null;
        }
        try
        {
            var list = await client.Dynamic.Resource(resource.Resource, true).ListAllAsync(ns, cancellationToken: cancellationToken).ConfigureAwait(false);
            return list["items"] as JsonArray ?? [];
        }
        catch (Exception ex) when (ex is MethodNotAllowedException or NotFoundException)
        {
            _unsupported[(resource.Resource, "list")] = true;
            return null;
        }
    }

    private bool Supported(DiscoveredResource resource, string verb)
        => resource.Verbs.Contains(verb) && !_unsupported.ContainsKey((resource.Resource, verb));

    /// <summary>The longest grace period among the namespace's non-terminal pods.</summary>
    private async Task<long> EstimateGracefulTerminationForPodsAsync(string ns, CancellationToken cancellationToken)
    {
        var pods = await client.ListAllAsync<Pod>(ns, cancellationToken: cancellationToken).ConfigureAwait(false);
        var estimate = 0L;
        foreach (var pod in pods.Items ?? [])
        {
            if (pod.Status?.Phase is "Succeeded" or "Failed")
            {
                continue;
            }
            if (pod.Spec?.TerminationGracePeriodSeconds is { } grace && grace > estimate)
            {
                estimate = grace;
            }
        }
        return estimate;
    }
}

public sealed class NamespaceUidChangedException() : InvalidOperationException("namespace uid has changed across retries");

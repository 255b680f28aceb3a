using System.Text.Json.Nodes;
using Kcm.Api.Catalog;
using Kcm.ApiServer.Authentication;
using Kcm.ApiServer.Endpoints;
using Kcm.ApiServer.Errors;
using Kcm.ApiServer.Registry;
using Kcm.ApiServer.Storage;
using Microsoft.Extensions.Logging;

namespace Kcm.ApiServer.CustomResources;

/// <summary>
/// The apiextensions controllers the embedded server needs, in one loop over the stored CRDs: naming (acceptedNames and
/// NamesAccepted, conflicts within a group), establishing (Established, after the resource is served), and finalizing
/// (a deleted CRD's instances are deleted, then its customresourcecleanup finalizer removed so the CRD goes).
/// </summary>
public sealed partial class CustomResourceDefinitionController : IAsyncDisposable
{
    public const string Group = "apiextensions.k8s.io";
    public const string Resource = "customresourcedefinitions";

    private static readonly UserInfo System = new("system:apiserver", "", ["system:masters", UserInfo.AuthenticatedGroup],
        new Dictionary<string, IReadOnlyList<string>>());

    private static readonly TimeSpan CleanupRetry = TimeSpan.FromMilliseconds(500);

    private readonly GenericStore _registry;
    private readonly CustomResourceRegistry _served;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stop = new();
    private readonly ApiResourceEntry _crdEntry = ApiCatalog.Find(Group, "v1", Resource)!;
    private readonly ApiResourceEntry _crdStatusEntry = ApiCatalog.Find(Group, "v1", Resource + "/status")!;
    private Task _loop = Task.CompletedTask;

    public CustomResourceDefinitionController(GenericStore registry, CustomResourceRegistry served, TimeProvider time, ILogger logger)
    {
        _registry = registry;
        _served = served;
        _time = time;
        _logger = logger;
    }

    public void Start() => _loop = Task.Run(() => RunAsync(_stop.Token));

    private async Task RunAsync(CancellationToken ct)
    {
        var store = _registry.Objects.Find(Group, Resource)!;
        while (!ct.IsCancellationRequested)
        {
            using var watcher = store.Watch(null);
            try
            {
                while (!ct.IsCancellationRequested)
                {
                    var pending = Reconcile(store);
                    using var wait = CancellationTokenSource.CreateLinkedTokenSource(ct);
                    if (pending) wait.CancelAfter(CleanupRetry);
                    try
                    {
                        if (!await watcher.Events.WaitToReadAsync(wait.Token)) break;
                    }
                    catch (OperationCanceledException) when (!ct.IsCancellationRequested)
                    {
                        // Retry a pending cleanup (instances with finalizers of their own).
                    }
                    while (watcher.Events.TryRead(out _))
                    {
                    }
                }
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                LogReconcileFailed(_logger, e);
                try
                {
                    await Task.Delay(CleanupRetry, _time, ct);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
        }
    }

    /// <summary>One pass over every CRD; true when a cleanup waits for instances to go.</summary>
    internal bool Reconcile(ResourceStore store)
    {
        var crds = store.Items.Values.Select(o => CustomResourceDefinitionInfo.Parse(ObjectEncoder.Parse(o))).ToList();
        var updates = new List<(CustomResourceDefinitionInfo Crd, CustomResourceNames Names, JsonObject NamesAccepted, JsonObject Established)>();
        var accepted = crds.ToDictionary(c => c.Name, c => c.Accepted);
        foreach (var crd in crds)
        {
            if (crd.Terminating) continue;
            if (crd.Requested.SameAs(crd.Accepted) && crd.ConditionStatus("Established") is not null) continue;
            var (names, namesAccepted, established) = CalculateNames(crd, crds.Where(c => c.Group == crd.Group && c.Name != crd.Name)
                .Select(c => accepted[c.Name]));
            accepted[crd.Name] = names;
            updates.Add((crd, names, namesAccepted, established));
        }
        // Serve before Established turns True, so a client that saw the condition finds the resource.
        var willServe = crds.Where(c => c.IsEstablished || updates.Any(u => u.Crd.Name == c.Name && u.Established["status"]!.GetValue<string>() == "True"))
            .Select(c => updates.FirstOrDefault(u => u.Crd.Name == c.Name) is { Crd: not null } u ? WithNames(c, u.Names) : c)
            .ToList();
        _served.Refresh(willServe);
        foreach (var (crd, names, namesAccepted, established) in updates)
        {
            UpdateStatus(crd.Name, crd.Uid, (_, status) =>
            {
                status["acceptedNames"] = names.ToJson();
                SetCondition(status, namesAccepted);
                SetCondition(status, established);
            });
        }
        var pending = false;
        foreach (var crd in crds.Where(c => c.Terminating && HasCleanupFinalizer(c)))
        {
            pending |= !Finalize(crd);
        }
        return pending;
    }

    private static CustomResourceDefinitionInfo WithNames(CustomResourceDefinitionInfo crd, CustomResourceNames names)
    {
        var copy = (JsonObject)crd.Object.DeepClone();
        if (copy["status"] is not JsonObject status) copy["status"] = status = new JsonObject();
        status["acceptedNames"] = names.ToJson();
        return CustomResourceDefinitionInfo.Parse(copy);
    }

    /// <summary>Upstream's naming controller: each requested name is accepted unless another CRD of the group has accepted it.</summary>
    private (CustomResourceNames, JsonObject, JsonObject) CalculateNames(CustomResourceDefinitionInfo crd, IEnumerable<CustomResourceNames> others)
    {
        var resources = new HashSet<string>(StringComparer.Ordinal);
        var kinds = new HashSet<string>(StringComparer.Ordinal);
        foreach (var n in others)
        {
            resources.Add(n.Plural);
            resources.Add(n.Singular);
            resources.UnionWith(n.ShortNames);
            kinds.Add(n.Kind);
            kinds.Add(n.ListKind);
        }
        var requested = crd.Requested;
        var current = crd.Accepted;
        string? reason = null, message = null;
        string Pick(string want, string have, HashSet<string> used, string conflictReason)
        {
            if (want == have || !used.Contains(want)) return want;
            (reason, message) = (conflictReason, $"\"{want}\" is already in use");
            return have;
        }
        var plural = Pick(requested.Plural, current.Plural, resources, "PluralConflict");
        var singular = Pick(requested.Singular, current.Singular, resources, "SingularConflict");
        var shortNames = current.ShortNames;
        if (!requested.ShortNames.SequenceEqual(current.ShortNames))
        {
            var conflicts = requested.ShortNames.Where(s => !current.ShortNames.Contains(s) && resources.Contains(s)).ToList();
            if (conflicts.Count > 0)
            {
                reason = "ShortNamesConflict";
                message = conflicts.Count == 1 ? $"\"{conflicts[0]}\" is already in use"
                    : "[" + string.Join(", ", conflicts.Select(c => $"\"{c}\" is already in use")) + "]";
            }
            else
            {
                shortNames = requested.ShortNames;
            }
        }
        var kind = Pick(requested.Kind, current.Kind, kinds, "KindConflict");
        var listKind = Pick(requested.ListKind, current.ListKind, kinds, "ListKindConflict");
        var names = new CustomResourceNames(plural, singular, kind, listKind, shortNames, requested.Categories);
        var namesAccepted = reason is null
            ? Condition("NamesAccepted", "True", "NoConflicts", "no conflicts found")
            : Condition("NamesAccepted", "False", reason, message!);
        JsonObject established;
        if (crd.ConditionStatus("Established") == "True")
        {
            established = (JsonObject)((JsonArray)crd.Object["status"]!["conditions"]!).First(c => c?["type"]?.GetValue<string>() == "Established")!.DeepClone();
        }
        else
        {
            // Upstream's establishing controller turns "Installing" into True at once when the CRD is served.
            established = reason is null
                ? Condition("Established", "True", "InitialNamesAccepted", "the initial names have been accepted")
                : Condition("Established", "False", "NotAccepted", "not all names are accepted");
        }
        return (names, namesAccepted, established);
    }

    private static bool HasCleanupFinalizer(CustomResourceDefinitionInfo crd)
        => (crd.Object["metadata"]?["finalizers"] as JsonArray)?.Any(f => f?.GetValue<string>() == CustomResourceDefinitionInfo.CleanupFinalizer) == true;

    /// <summary>Upstream's finalizer controller; true when the finalizer could be removed.</summary>
    private bool Finalize(CustomResourceDefinitionInfo crd)
    {
        var plural = crd.Accepted.Plural.Length > 0 ? crd.Accepted.Plural : crd.Requested.Plural;
        var instances = _registry.Objects.Find(crd.Group, plural);
        JsonObject terminating;
        if (crd.ConditionStatus("Established") == "True" && instances is not null)
        {
            if (!instances.Items.IsEmpty)
            {
                SetTerminating(crd, Condition("Terminating", "True", "InstanceDeletionInProgress", "CustomResource deletion is in progress"));
                DeleteInstances(crd, plural, instances);
                if (!instances.Items.IsEmpty) return false;
            }
            terminating = Condition("Terminating", "False", "InstanceDeletionCompleted", "removed all instances");
        }
        else
        {
            terminating = Condition("Terminating", "False", "NeverEstablished", "resource was never established");
        }
        UpdateStatus(crd.Name, crd.Uid, (meta, status) =>
        {
            SetCondition(status, terminating);
            var finalizers = (meta["finalizers"] as JsonArray)?.Select(f => f?.GetValue<string>() ?? "")
                .Where(f => f != CustomResourceDefinitionInfo.CleanupFinalizer).ToList() ?? [];
            if (finalizers.Count == 0) meta.Remove("finalizers");
            else meta["finalizers"] = new JsonArray([.. finalizers.Select(f => (JsonNode?)JsonValue.Create(f))]);
        });
        return true;
    }

    private void SetTerminating(CustomResourceDefinitionInfo crd, JsonObject condition)
    {
        var existing = (crd.Object["status"]?["conditions"] as JsonArray)?.FirstOrDefault(c => c?["type"]?.GetValue<string>() == "Terminating");
        if (existing?["reason"]?.GetValue<string>() == condition["reason"]!.GetValue<string>()) return;
        UpdateStatus(crd.Name, crd.Uid, (_, status) => SetCondition(status, condition));
    }

    private void DeleteInstances(CustomResourceDefinitionInfo crd, string plural, ResourceStore instances)
    {
        var version = crd.StorageVersion?.Name ?? crd.Versions.FirstOrDefault()?.Name ?? "";
        var entry = _served.Find(crd.Group, version, plural);
        if (entry is null) return;
        foreach (var o in instances.Items.Values)
        {
            var req = new ResourceRequest(crd.Group, version, o.Namespace, plural, o.Name, "", false, entry, null) { Custom = true };
            try
            {
                _registry.Delete(req, new DeletionOptions(null, null, null), null, System);
            }
            catch (ApiException e) when (e.Code is 404 or 409)
            {
                // Gone already, or changed under us: the next pass looks again.
            }
        }
    }

    private void UpdateStatus(string name, string uid, Action<JsonObject, JsonObject> change)
    {
        var req = new ResourceRequest(Group, "v1", "", Resource, name, "status", false, _crdEntry, _crdStatusEntry);
        try
        {
            _registry.Update(req, current =>
            {
                if (current.Uid != uid) throw ApiException.Conflict(Group, Resource, name, "the CRD was replaced");
                var obj = ObjectEncoder.Parse(current);
                if (obj["status"] is not JsonObject status) obj["status"] = status = new JsonObject();
                change(GenericStore.EnsureMetadata(obj), status);
                return obj;
            }, System);
        }
        catch (ApiException e) when (e.Code is 404 or 409)
        {
            // Deleted or replaced meanwhile: the watch brings the new state.
        }
    }

    private JsonObject Condition(string type, string status, string reason, string message) => new()
    {
        ["type"] = type,
        ["status"] = status,
        ["lastTransitionTime"] = GenericStore.FormatTime(_time.GetUtcNow()),
        ["reason"] = reason,
        ["message"] = message,
    };

    /// <summary>Upstream SetCRDCondition: replaces the condition of that type, keeping lastTransitionTime when the status is unchanged.</summary>
    private static void SetCondition(JsonObject status, JsonObject condition)
    {
        if (status["conditions"] is not JsonArray conditions) status["conditions"] = conditions = new JsonArray();
        var type = condition["type"]!.GetValue<string>();
        for (var i = 0; i < conditions.Count; i++)
        {
            if (conditions[i]?["type"]?.GetValue<string>() != type) continue;
            var copy = (JsonObject)condition.DeepClone();
            if (conditions[i]?["status"]?.GetValue<string>() == condition["status"]!.GetValue<string>())
            {
                copy["lastTransitionTime"] = conditions[i]?["lastTransitionTime"]?.DeepClone();
            }
            conditions[i] = copy;
            return;
        }
        conditions.Add(condition.DeepClone());
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        try
        {
            await _loop;
        }
        catch (OperationCanceledException)
        {
        }
        _stop.Dispose();
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "CustomResourceDefinition controller pass failed")]
    private static partial void LogReconcileFailed(ILogger logger, Exception e);
}

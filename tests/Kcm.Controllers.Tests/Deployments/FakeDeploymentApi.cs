using System.Text.Json.Nodes;
using Kcm.Api;
using Kcm.Api.Apps.V1;
using Kcm.Api.Core.V1;
using Kcm.Api.Meta.V1;
using Kcm.Client.Errors;
using Kcm.Controllers.Common;
using Kcm.Controllers.Deployments;
using Kcm.Runtime.Events;
using Kcm.Runtime.Informers;
using Kcm.Testing;
using DeploymentObject = Kcm.Api.Apps.V1.Deployment;

namespace Kcm.Controllers.Tests.Deployments;

/// <summary>
/// The API as the Deployment controller sees it, in memory: its writes land in the same stores its informer caches
/// read (as if the watch had caught up at once), with the server's bookkeeping (uid, resourceVersion, generation,
/// creationTimestamp, AlreadyExists/NotFound/Conflict), and every call is recorded.
/// </summary>
internal sealed class FakeDeploymentApi(ThreadSafeStore<DeploymentObject> deployments, ThreadSafeStore<ReplicaSet> replicaSets, FakeTimeProvider time)
    : IReplicaSetControl, IDeploymentClient
{
    private readonly object _lock = new();
    private long _resourceVersion;
    private long _uid;

    public List<string> Calls { get; } = [];

    /// <summary>Called before each write with its name ("create-rs", "update-rs", "delete-rs", "patch-rs", "update-d", "status-d"); an exception it returns is thrown.</summary>
    public Func<string, Exception?>? Fail { get; set; }

    public T Store<T>(ThreadSafeStore<T> store, T obj, bool create)
        where T : class, IKubernetesObject
    {
        lock (_lock)
        {
            var copy = KubeObjects.Clone(obj);
            var metadata = copy.Metadata!;
            if (create)
            {
                metadata.Uid ??= $"uid-{++_uid}";
                metadata.Generation = 1;
                // One second apart, as a server's creation timestamps would be for objects made in separate syncs.
                time.Advance(TimeSpan.FromSeconds(1));
                metadata.CreationTimestamp = time.GetUtcNow();
            }
            metadata.ResourceVersion = (++_resourceVersion).ToString(System.Globalization.CultureInfo.InvariantCulture);
            store.Upsert(copy);
            return KubeObjects.Clone(copy);
        }
    }

    public Task<ReplicaSet> CreateAsync(string? @namespace, ReplicaSet rs, CancellationToken cancellationToken)
    {
        Record("create-rs", rs.Metadata?.Name);
        var copy = KubeObjects.Clone(rs);
        copy.Metadata!.Namespace = @namespace;
        if (replicaSets.Get(ObjectKey.Of(copy)) is not null)
        {
            throw new AlreadyExistsException(409, new Status { Reason = "AlreadyExists", Message = $"replicasets.apps \"{copy.Metadata.Name}\" already exists" });
        }
        return Task.FromResult(Store(replicaSets, copy, create: true));
    }

    public Task<ReplicaSet> UpdateAsync(ReplicaSet rs, CancellationToken cancellationToken)
    {
        Record("update-rs", rs.Metadata?.Name);
        var current = Existing(replicaSets, rs);
        if (KubeJson.Serialize(current.Spec) != KubeJson.Serialize(rs.Spec))
        {
            rs = KubeObjects.Clone(rs);
            rs.Metadata!.Generation = (current.Metadata!.Generation ?? 0) + 1;
        }
        return Task.FromResult(Store(replicaSets, rs, create: false));
    }

    public Task DeleteAsync(string? @namespace, string name, CancellationToken cancellationToken)
    {
        Record("delete-rs", name);
        if (replicaSets.Get(new ObjectKey(@namespace, name)) is not { } existing)
        {
            throw NotFound("replicasets.apps", name);
        }
        replicaSets.Delete(ObjectKey.Of(existing));
        return Task.CompletedTask;
    }

    public Task PatchAsync(string? @namespace, string name, string patch, CancellationToken cancellationToken)
    {
        Record("patch-rs", name);
        if (replicaSets.Get(new ObjectKey(@namespace, name)) is not { } existing)
        {
            throw NotFound("replicasets.apps", name);
        }
        // Only what ControllerRefManager sends: owner references merged (or deleted) by uid.
        var copy = KubeObjects.Clone(existing);
        var refs = copy.Metadata!.OwnerReferences ?? [];
        foreach (var node in JsonNode.Parse(patch)!["metadata"]!["ownerReferences"]!.AsArray())
        {
            var uid = (string?)node!["uid"];
            refs.RemoveAll(r => r.Uid == uid);
            if ((string?)node["$patch"] != "delete")
            {
                refs.Add(KubeJson.Deserialize<OwnerReference>(System.Text.Encoding.UTF8.GetBytes(node.ToJsonString()))!);
            }
        }
        copy.Metadata.OwnerReferences = refs;
        Store(replicaSets, copy, create: false);
        return Task.CompletedTask;
    }

    public Task<DeploymentObject> GetAsync(string? @namespace, string name, CancellationToken cancellationToken)
        => Task.FromResult(KubeObjects.Clone(deployments.Get(new ObjectKey(@namespace, name)) ?? throw NotFound("deployments.apps", name)));

    Task<DeploymentObject> IDeploymentClient.UpdateAsync(DeploymentObject d, CancellationToken cancellationToken)
    {
        Record("update-d", d.Metadata?.Name);
        var current = Existing(deployments, d);
        var copy = KubeObjects.Clone(d);
        copy.Status = current.Status;
        copy.Metadata!.Generation = current.Metadata!.Generation + (KubeJson.Serialize(current.Spec) != KubeJson.Serialize(d.Spec) ? 1 : 0);
        return Task.FromResult(Store(deployments, copy, create: false));
    }

    public Task<DeploymentObject> UpdateStatusAsync(DeploymentObject d, CancellationToken cancellationToken)
    {
        Record("status-d", d.Metadata?.Name);
        var current = Existing(deployments, d);
        var copy = KubeObjects.Clone(d);
        copy.Spec = current.Spec; // the status subresource never changes the spec
        copy.Metadata!.Generation = current.Metadata!.Generation;
        return Task.FromResult(Store(deployments, copy, create: false));
    }

    private T Existing<T>(ThreadSafeStore<T> store, T obj)
        where T : class, IKubernetesObject
    {
        var current = store.Get(ObjectKey.Of(obj)) ?? throw NotFound(typeof(T).Name, obj.Metadata?.Name);
        if (obj.Metadata?.ResourceVersion is { Length: > 0 } rv && rv != current.Metadata?.ResourceVersion)
        {
            throw new ConflictException(409, new Status { Reason = "Conflict", Message = $"the object \"{obj.Metadata.Name}\" has been modified; please apply your changes to the latest version and try again" });
        }
        return current;
    }

    private void Record(string call, string? name)
    {
        lock (_lock)
        {
            Calls.Add($"{call} {name}");
        }
        if (Fail?.Invoke(call) is { } error)
        {
            throw error;
        }
    }

    private static NotFoundException NotFound(string resource, string? name)
        => new(404, new Status { Reason = "NotFound", Message = $"{resource} \"{name}\" not found" });
}

/// <summary>Events as (type, reason, message, involved object name).</summary>
internal sealed class RecordingEventRecorder : IEventRecorder
{
    public List<(string Type, string Reason, string Message, string? Object)> Events { get; } = [];

    public void Event(ObjectReference reference, string type, string reason, string message)
    {
        lock (Events)
        {
            Events.Add((type, reason, message, reference.Name));
        }
    }
}

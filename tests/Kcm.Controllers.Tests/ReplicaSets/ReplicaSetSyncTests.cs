using System.Collections.Concurrent;
using Kcm.Api;
using Kcm.Api.Apps.V1;
using Kcm.Api.Core.V1;
using Kcm.Api.Meta.V1;
using Kcm.Client.Errors;
using Kcm.Controllers.Common;
using Kcm.Controllers.ReplicaSets;
using Kcm.Controllers.Tests.Common;
using Kcm.Runtime.Informers;
using Kcm.Runtime.Queues;
using Microsoft.Extensions.Logging.Abstractions;
using static Kcm.Controllers.Tests.Common.TestPods;
using static Kcm.Controllers.Tests.Common.TestStores;

namespace Kcm.Controllers.Tests.ReplicaSets;

/// <summary>The sync logic without a server: caches are seeded by hand, pod control and the status client are fakes.</summary>
public sealed class ReplicaSetSyncTests : IDisposable
{
    private static readonly ObjectKey Key = new("default", "web");

    private readonly ThreadSafeStore<ReplicaSet> _owners = Store<ReplicaSet>();
    private readonly ThreadSafeStore<Pod> _pods = Store<Pod>();
    private readonly FakePodControl _podControl = new();
    private readonly FakeReplicaSetClient<ReplicaSet> _client;
    private readonly RateLimitingQueue<ObjectKey> _queue = RateLimitingQueue<ObjectKey>.WithDefaultControllerRateLimiter(new WorkQueueOptions { Name = "replicaset" });
    private readonly ReplicaSetController<ReplicaSet> _controller;

    public ReplicaSetSyncTests()
    {
        _client = new FakeReplicaSetClient<ReplicaSet>(_owners);
        _controller = new ReplicaSetController<ReplicaSet>(
            ReplicaSetKind.Instance, new ReplicaSetControllerOptions(), _owners, _pods, _podControl, _client, _queue, NullLogger.Instance, new FixedTime(Now));
    }

    public void Dispose() => _queue.Dispose();

    [Fact]
    public async Task SyncAsync_PodCacheLagsBehind_CreatesEachPodOnce()
    {
        _owners.Upsert(NewReplicaSet(replicas: 3));

        await _controller.SyncAsync(Key, CancellationToken.None);
        Assert.Equal(3, _podControl.Created.Count);
        Assert.All(_podControl.Created, c => Assert.Equal(("apps/v1", "ReplicaSet", "web", "rs-uid", true, true),
            (c.ControllerRef.ApiVersion, c.ControllerRef.Kind, c.ControllerRef.Name, c.ControllerRef.Uid, c.ControllerRef.Controller, c.ControllerRef.BlockOwnerDeletion)));

        // The informer has not delivered the new pods yet: another sync must not create them again.
        await _controller.SyncAsync(Key, CancellationToken.None);
        Assert.Equal(3, _podControl.Created.Count);

        for (var i = 0; i < 3; i++)
        {
            var pod = OwnedPod($"web-{i}");
            _pods.Upsert(pod);
            _controller.OnPodAdded(pod);
        }
        Assert.True(_controller.Expectations.SatisfiedExpectations(Key));
        await _controller.SyncAsync(Key, CancellationToken.None);
        Assert.Equal(3, _podControl.Created.Count);
        Assert.Equal(3, _client.StatusUpdates.Last().Status!.Replicas);
    }

    [Fact]
    public async Task SyncAsync_ExpectationsExpire_ActsAgainAfterFiveMinutes()
    {
        var time = new FixedTime(Now);
        using var queue = RateLimitingQueue<ObjectKey>.WithDefaultControllerRateLimiter();
        var controller = new ReplicaSetController<ReplicaSet>(
            ReplicaSetKind.Instance, new ReplicaSetControllerOptions(), _owners, _pods, _podControl, _client, queue, NullLogger.Instance, time);
        _owners.Upsert(NewReplicaSet(replicas: 2));

        await controller.SyncAsync(Key, CancellationToken.None);
        time.Now = Now.AddMinutes(5).AddSeconds(1); // The creations' watch events were lost.
        await controller.SyncAsync(Key, CancellationToken.None);

        Assert.Equal(4, _podControl.Created.Count);
    }

    [Fact]
    public async Task SyncAsync_CreateForbidden_StopsSlowStartAndSetsReplicaFailure()
    {
        _owners.Upsert(NewReplicaSet(replicas: 5));
        _podControl.Fail = (op, _) => op == "create" ? Forbidden("pods \"web-x\" is forbidden: exceeded quota: compute") : null;

        var error = await Assert.ThrowsAsync<ForbiddenException>(() => _controller.SyncAsync(Key, CancellationToken.None));

        Assert.Contains("exceeded quota", error.Message);
        Assert.Empty(_podControl.Created); // One attempt (the first batch), not five.
        var condition = Assert.Single(_client.StatusUpdates.Last().Status!.Conditions!);
        Assert.Equal(("ReplicaFailure", "True", "FailedCreate"), (condition.Type, condition.Status, condition.Reason));
        Assert.Contains("exceeded quota", condition.Message);
        // The skipped creations are no longer expected, so the retry acts at once.
        Assert.True(_controller.Expectations.SatisfiedExpectations(Key));

        _podControl.Fail = null;
        await _controller.SyncAsync(Key, CancellationToken.None);
        Assert.Equal(5, _podControl.Created.Count);
        Assert.Null(_client.StatusUpdates.Last().Status!.Conditions);
    }

    [Fact]
    public async Task SyncAsync_TooManyPods_DeletesLowestRankedAndCountsGracefulDeletionOnce()
    {
        _owners.Upsert(NewReplicaSet(replicas: 1));
        var ready = OwnedPod("ready", "Running", node: "n1", readySince: Now.AddMinutes(-10));
        var unscheduled = OwnedPod("unscheduled");
        var notReady = OwnedPod("not-ready", "Running", node: "n1");
        foreach (var pod in new[] { ready, unscheduled, notReady })
        {
            _pods.Upsert(pod);
        }

        await _controller.SyncAsync(Key, CancellationToken.None);
        Assert.Equal(["not-ready", "unscheduled"], _podControl.Deleted.Order());

        // Graceful deletion: first an update setting deletionTimestamp, later the delete; both count as one.
        var terminating = Copy(notReady);
        terminating.Metadata!.DeletionTimestamp = Now;
        terminating.Metadata.ResourceVersion = "2";
        _controller.OnPodUpdated(notReady, terminating);
        _controller.OnPodDeleted(terminating);
        Assert.False(_controller.Expectations.SatisfiedExpectations(Key));
        await _controller.SyncAsync(Key, CancellationToken.None);
        Assert.Equal(2, _podControl.Deleted.Count);

        _controller.OnPodDeleted(unscheduled);
        Assert.True(_controller.Expectations.SatisfiedExpectations(Key));
    }

    [Fact]
    public async Task SyncAsync_OwnedPodNoLongerMatches_ReleasesIt()
    {
        _owners.Upsert(NewReplicaSet(replicas: 1));
        var stray = OwnedPod("stray");
        stray.Metadata!.Labels = new() { ["app"] = "something-else" };
        _pods.Upsert(stray);

        await _controller.SyncAsync(Key, CancellationToken.None);

        var (name, patch) = Assert.Single(_podControl.Patches);
        Assert.Equal("stray", name);
        Assert.Contains("\"$patch\":\"delete\"", patch);
        Assert.Single(_podControl.Created); // The released pod no longer counts.
    }

    [Fact]
    public async Task SyncAsync_StatusUnchanged_DoesNotWrite()
    {
        _owners.Upsert(NewReplicaSet(replicas: 1));
        _pods.Upsert(OwnedPod("web-0"));
        await _controller.SyncAsync(Key, CancellationToken.None);
        var writes = _client.StatusUpdates.Count;
        Assert.Equal(1, writes);

        await _controller.SyncAsync(Key, CancellationToken.None);

        Assert.Equal(writes, _client.StatusUpdates.Count);
    }

    [Fact]
    public async Task SyncAsync_ReadyButNotYetAvailable_RequeuesAfterMinReadySeconds()
    {
        var rs = NewReplicaSet(replicas: 2);
        rs.Spec!.MinReadySeconds = 10;
        _owners.Upsert(rs);
        _pods.Upsert(OwnedPod("fresh", "Running", node: "n1", readySince: Now.AddSeconds(-3)));
        _pods.Upsert(OwnedPod("seasoned", "Running", node: "n1", readySince: Now.AddSeconds(-30)));

        var result = await _controller.SyncAsync(Key, CancellationToken.None);

        var status = _client.StatusUpdates.Last().Status!;
        Assert.Equal((2, 2, 2, 1, 7L), (status.Replicas ?? 0, status.FullyLabeledReplicas ?? 0, status.ReadyReplicas ?? 0, status.AvailableReplicas ?? 0, status.ObservedGeneration ?? 0));
        Assert.Equal(TimeSpan.FromSeconds(10), result.RequeueAfter);
    }

    [Fact]
    public void OnPodAdded_MatchingOrphan_QueuesOwnerWithoutObservingCreation()
    {
        _owners.Upsert(NewReplicaSet(replicas: 1));
        _controller.Expectations.ExpectCreations(Key, 1);

        _controller.OnPodAdded(Pod("orphan", labels: new() { ["app"] = "web" }));

        Assert.Equal(1, _queue.Count);
        Assert.False(_controller.Expectations.SatisfiedExpectations(Key));
    }

    [Fact]
    public void OnPodUpdated_PodBecomesReady_QueuesNowAndAfterMinReadySeconds()
    {
        var rs = NewReplicaSet(replicas: 1);
        rs.Spec!.MinReadySeconds = 60;
        _owners.Upsert(rs);
        var pending = OwnedPod("web-0", "Running");
        var ready = OwnedPod("web-0", "Running", readySince: Now);
        ready.Metadata!.ResourceVersion = "2";

        _controller.OnPodUpdated(pending, ready);

        Assert.Equal(1, _queue.Count); // The delayed add is waiting; the immediate one is queued.
    }

    [Fact]
    public async Task SyncAsync_ReplicationController_OwnsPodsAsV1ReplicationController()
    {
        var owners = Store<ReplicationController>();
        owners.Upsert(new ReplicationController
        {
            Metadata = new ObjectMeta { Name = "web", Namespace = "default", Uid = "rc-uid", Generation = 1, ResourceVersion = "1" },
            Spec = new ReplicationControllerSpec
            {
                Replicas = 2,
                Selector = new() { ["app"] = "web" },
                Template = new PodTemplateSpec { Metadata = new ObjectMeta { Labels = new() { ["app"] = "web" } }, Spec = new PodSpec() },
            },
        });
        var client = new FakeReplicaSetClient<ReplicationController>(owners);
        using var queue = RateLimitingQueue<ObjectKey>.WithDefaultControllerRateLimiter();
        var controller = new ReplicaSetController<ReplicationController>(
            ReplicationControllerKind.Instance, new ReplicaSetControllerOptions(), owners, _pods, _podControl, client, queue, NullLogger.Instance, new FixedTime(Now));

        await controller.SyncAsync(Key, CancellationToken.None);

        Assert.Equal(2, _podControl.Created.Count);
        Assert.All(_podControl.Created, c => Assert.Equal(("v1", "ReplicationController", "rc-uid"), (c.ControllerRef.ApiVersion, c.ControllerRef.Kind, c.ControllerRef.Uid)));
        Assert.Equal(0, client.StatusUpdates.Single().Status!.Replicas);
        Assert.Equal(1, client.StatusUpdates.Single().Status!.ObservedGeneration);
    }

    [Fact]
    public void WithStatus_UnknownFields_SurviveStatusWrite()
    {
        var rs = KubeObjects.Clone(NewReplicaSet(replicas: 1));
        var unknown = System.Text.Json.JsonDocument.Parse("\"kept\"").RootElement.Clone();
        rs.ExtensionData = new() { ["futureTopLevel"] = unknown };
        rs.Status = new ReplicaSetStatus
        {
            ExtensionData = new() { ["futureStatus"] = unknown },
            Conditions = [new ReplicaSetCondition { Type = "Other", Status = "True", Reason = "R", ExtensionData = new() { ["futureCondition"] = unknown } }],
        };
        var status = ReplicaSetKind.Instance.Status(rs) with { Replicas = 4, ObservedGeneration = 7 };

        var written = ReplicaSetKind.Instance.WithStatus(rs, status);

        Assert.Equal(4, written.Status!.Replicas);
        Assert.Equal("kept", written.ExtensionData!["futureTopLevel"].GetString());
        Assert.Equal("kept", written.Status.ExtensionData!["futureStatus"].GetString());
        Assert.Equal("kept", Assert.Single(written.Status.Conditions!).ExtensionData!["futureCondition"].GetString());
        Assert.Null(rs.Status.Replicas); // The cached object is never modified.
    }

    [Fact]
    public void PodFromTemplate_Template_NamedAfterOwnerWithLabelsAndControllerRef()
    {
        var rs = NewReplicaSet(replicas: 1);
        var controllerRef = ControllerRefs.NewControllerRef(rs.Metadata!, ReplicaSet.Resource);

        var pod = PodControl.PodFromTemplate(rs.Spec!.Template!, "web", controllerRef);

        Assert.Equal("web-", pod.Metadata!.GenerateName);
        Assert.Null(pod.Metadata.Name);
        Assert.Equal("web", pod.Metadata.Labels!["app"]);
        Assert.Same(controllerRef, Assert.Single(pod.Metadata.OwnerReferences!));
        Assert.Equal("nginx", pod.Spec!.Containers![0].Image);
        Assert.NotSame(rs.Spec.Template!.Spec, pod.Spec);
        Assert.Equal(new string('a', 253), PodControl.PodNamePrefix(new string('a', 253)));
    }

    private static ReplicaSet NewReplicaSet(int replicas) => new()
    {
        Metadata = new ObjectMeta { Name = "web", Namespace = "default", Uid = "rs-uid", Generation = 7, ResourceVersion = "1" },
        Spec = new ReplicaSetSpec
        {
            Replicas = replicas,
            Selector = new LabelSelector { MatchLabels = new() { ["app"] = "web" } },
            Template = new PodTemplateSpec
            {
                Metadata = new ObjectMeta { Labels = new() { ["app"] = "web" } },
                Spec = new PodSpec { Containers = [new Container { Name = "nginx", Image = "nginx" }] },
            },
        },
    };

    private static Pod OwnedPod(string name, string phase = "Pending", string? node = null, DateTimeOffset? readySince = null)
    {
        var pod = Pod(name, phase, node, readySince, labels: new() { ["app"] = "web" });
        pod.Metadata!.OwnerReferences = [new OwnerReference { ApiVersion = "apps/v1", Kind = "ReplicaSet", Name = "web", Uid = "rs-uid", Controller = true, BlockOwnerDeletion = true }];
        return pod;
    }

    private static Pod Copy(Pod pod) => KubeObjects.Clone(pod);

    private static ForbiddenException Forbidden(string message) => new(403, new Status { Reason = "Forbidden", Message = message, Code = 403 });
}

/// <summary>Serves fresh reads from the given store and records status writes (without applying them).</summary>
internal sealed class FakeReplicaSetClient<T>(ThreadSafeStore<T> store) : IReplicaSetClient<T>
    where T : class, IKubernetesObject
{
    public ConcurrentQueue<T> StatusUpdatesQueue { get; } = new();

    public IReadOnlyList<T> StatusUpdates => StatusUpdatesQueue.ToList();

    public Task<T> GetAsync(string @namespace, string name, CancellationToken cancellationToken)
        => store.Get(new ObjectKey(@namespace, name)) is { } obj ? Task.FromResult(obj) : Task.FromException<T>(new NotFoundException(404, new Status { Reason = "NotFound" }));

    public Task<T> UpdateStatusAsync(T obj, CancellationToken cancellationToken)
    {
        StatusUpdatesQueue.Enqueue(obj);
        store.Upsert(obj); // As if the informer saw the write at once.
        return Task.FromResult(obj);
    }
}

internal sealed class FixedTime(DateTimeOffset now) : TimeProvider
{
    public DateTimeOffset Now { get; set; } = now;

    public override DateTimeOffset GetUtcNow() => Now;
}

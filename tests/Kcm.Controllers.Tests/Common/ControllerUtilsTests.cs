using Kcm.Runtime.Informers;
using System.Text.Json.Nodes;
using Kcm.Api.Core.V1;
using Kcm.Api.Meta.V1;
using Kcm.Client.Errors;
using Kcm.Controllers.Common;
using Kcm.Runtime.Controllers;
using Microsoft.Extensions.Logging.Abstractions;
using static Kcm.Controllers.Tests.Common.TestPods;
using LabelSelector = Kcm.Api.Selectors.LabelSelector;

namespace Kcm.Controllers.Tests.Common;

public sealed class PodReadinessTests
{
    [Theory]
    [InlineData(0, 0, true)]
    [InlineData(10, 5, false)]
    [InlineData(10, 10, false)] // Strictly more than minReadySeconds, as upstream's Before.
    [InlineData(10, 11, true)]
    public void IsPodAvailable_ReadyFor_DependsOnMinReadySeconds(int minReadySeconds, int readyForSeconds, bool available)
        => Assert.Equal(available, PodReadiness.IsPodAvailable(Pod("p", "Running", readySince: Now.AddSeconds(-readyForSeconds)), minReadySeconds, Now));

    [Fact]
    public void IsPodAvailable_NotReady_False()
        => Assert.False(PodReadiness.IsPodAvailable(Pod("p", "Running"), 0, Now));

    [Fact]
    public void IsPodAvailable_ReadyWithoutTransitionTime_OnlyWithoutMinReadySeconds()
    {
        var pod = Pod("p", "Running");
        pod.Status!.Conditions = [new PodCondition { Type = "Ready", Status = "True" }];
        Assert.True(PodReadiness.IsPodAvailable(pod, 0, Now));
        Assert.False(PodReadiness.IsPodAvailable(pod, 1, Now));
    }

    [Theory]
    [InlineData("Pending", false, true)]
    [InlineData("Running", false, true)]
    [InlineData("Succeeded", false, false)]
    [InlineData("Failed", false, false)]
    [InlineData("Running", true, false)]
    public void IsPodActive_PhaseAndDeletion(string phase, bool deleting, bool active)
    {
        var pod = Pod("p", phase);
        if (deleting)
        {
            pod.Metadata!.DeletionTimestamp = Now;
        }
        Assert.Equal(active, PodReadiness.IsPodActive(pod));
    }
}

public sealed class SlowStartBatchTests
{
    [Fact]
    public async Task RunAsync_AllSucceed_BatchesDouble()
    {
        var inFlight = 0;
        var batches = new List<int>();
        var gate = new object();
        var result = await SlowStartBatch.RunAsync(10, SlowStartBatch.InitialBatchSize, async _ =>
        {
            lock (gate)
            {
                inFlight++;
            }
            await Task.Yield();
            lock (gate)
            {
                batches.Add(inFlight);
            }
        }, CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(new SlowStartResult(10, null), result);
        // Calls accumulate batch by batch: 1, then 1+2, then 3+4, then 7+3.
        Assert.Equal(10, batches.Count);
        Assert.Equal(1, batches[0]);
        Assert.Equal(10, batches[^1]);
    }

    [Fact]
    public async Task RunAsync_FailureInSecondBatch_StopsAfterThatBatch()
    {
        var calls = 0;
        var result = await SlowStartBatch.RunAsync(10, 1, _ =>
        {
            var n = Interlocked.Increment(ref calls);
            return n == 2 ? Task.FromException(new InvalidOperationException("quota")) : Task.CompletedTask;
        }, CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(3, calls);
        Assert.Equal(2, result.Successes);
        Assert.Equal("quota", result.FirstError?.Message);
    }

    [Fact]
    public async Task RunAsync_ZeroCount_NoCalls()
    {
        var result = await SlowStartBatch.RunAsync(0, 1, _ => throw new InvalidOperationException("must not run"), CancellationToken.None);
        Assert.Equal(new SlowStartResult(0, null), result);
    }
}

public sealed class ControllerRefManagerTests
{
    private static readonly Kcm.Api.ResourceInfo RsKind = Kcm.Api.Apps.V1.ReplicaSet.Resource;
    private static readonly ObjectMeta Owner = new() { Name = "rs", Namespace = "default", Uid = "owner-uid" };

    private static Pod Labelled(string name, string app, OwnerReference? controllerRef = null)
    {
        var pod = Pod(name, labels: new() { ["app"] = app });
        pod.Metadata!.OwnerReferences = controllerRef is null ? null : [controllerRef];
        return pod;
    }

    private static ControllerRefManager Manager(ObjectMeta owner, Func<CancellationToken, Task>? canAdopt = null)
        => new(owner, RsKind, LabelSelector.Parse("app=web"), canAdopt ?? (_ => Task.CompletedTask), NullLogger.Instance);

    [Fact]
    public async Task ClaimPodsAsync_MixedPods_AdoptsReleasesAndIgnoresAsUpstream()
    {
        var ours = ControllerRefs.NewControllerRef(Owner, RsKind);
        var theirs = new OwnerReference { ApiVersion = "apps/v1", Kind = "ReplicaSet", Name = "other", Uid = "other-uid", Controller = true };
        var deleting = Labelled("orphan-deleting", "web");
        deleting.Metadata!.DeletionTimestamp = Now;
        var elsewhere = Labelled("orphan-other-ns", "web");
        elsewhere.Metadata!.Namespace = "other";
        var pods = new[]
        {
            Labelled("owned-match", "web", ours),
            Labelled("owned-nomatch", "db", ours),
            Labelled("orphan-match", "web"),
            Labelled("orphan-nomatch", "db"),
            Labelled("theirs", "web", theirs),
            deleting,
            elsewhere,
        };
        var control = new FakePodControl();

        var claimed = await Manager(Owner).ClaimPodsAsync(pods, control, CancellationToken.None);

        Assert.Equal(["owned-match", "orphan-match"], claimed.Select(p => p.Metadata!.Name));
        var patches = control.Patches.ToDictionary(p => p.Name, p => JsonNode.Parse(p.Patch)!);
        Assert.Equal(["orphan-match", "owned-nomatch"], patches.Keys.Order());
        var adopt = patches["orphan-match"]["metadata"]!;
        Assert.Equal("uid-orphan-match", adopt["uid"]!.GetValue<string>());
        var reference = adopt["ownerReferences"]![0]!;
        Assert.Equal(("apps/v1", "ReplicaSet", "rs", "owner-uid", true, true), (
            reference["apiVersion"]!.GetValue<string>(), reference["kind"]!.GetValue<string>(), reference["name"]!.GetValue<string>(),
            reference["uid"]!.GetValue<string>(), reference["controller"]!.GetValue<bool>(), reference["blockOwnerDeletion"]!.GetValue<bool>()));
        var release = patches["owned-nomatch"]["metadata"]!;
        Assert.Equal("uid-owned-nomatch", release["uid"]!.GetValue<string>());
        Assert.Equal("delete", release["ownerReferences"]![0]!["$patch"]!.GetValue<string>());
        Assert.Equal("owner-uid", release["ownerReferences"]![0]!["uid"]!.GetValue<string>());
    }

    [Fact]
    public async Task ClaimPodsAsync_OwnerBeingDeleted_KeepsOwnedButNeitherAdoptsNorReleases()
    {
        var owner = new ObjectMeta { Name = "rs", Namespace = "default", Uid = "owner-uid", DeletionTimestamp = Now };
        var ours = ControllerRefs.NewControllerRef(owner, RsKind);
        var control = new FakePodControl();
        var claimed = await Manager(owner).ClaimPodsAsync([Labelled("owned", "web", ours), Labelled("stale", "db", ours), Labelled("orphan", "web")], control, CancellationToken.None);
        Assert.Equal(["owned"], claimed.Select(p => p.Metadata!.Name));
        Assert.Empty(control.Patches);
    }

    [Fact]
    public async Task ClaimPodsAsync_FreshReadShowsDeletion_AdoptionFailsAndIsCheckedOnce()
    {
        var checks = 0;
        var canAdopt = ControllerRefManager.RecheckDeletionTimestamp(_ =>
        {
            Interlocked.Increment(ref checks);
            return Task.FromResult(new ObjectMeta { Name = "rs", Namespace = "default", Uid = "owner-uid", DeletionTimestamp = Now });
        });
        var control = new FakePodControl();
        var error = await Assert.ThrowsAsync<AggregateException>(() => Manager(Owner, canAdopt).ClaimPodsAsync([Labelled("a", "web"), Labelled("b", "web")], control, CancellationToken.None));
        Assert.All(error.InnerExceptions, e => Assert.Contains("has just been deleted", e.Message));
        Assert.Equal(1, checks);
        Assert.Empty(control.Patches);
    }

    [Fact]
    public async Task ClaimPodsAsync_ReleaseOfVanishedPod_IsNotAnError()
    {
        var ours = ControllerRefs.NewControllerRef(Owner, RsKind);
        var control = new FakePodControl
        {
            Fail = (_, _) => new InvalidException(422, new Status { Reason = "Invalid", Message = "metadata.uid: field is immutable" }),
        };
        var claimed = await Manager(Owner).ClaimPodsAsync([Labelled("stale", "db", ours)], control, CancellationToken.None);
        Assert.Empty(claimed);
    }
}

public sealed class UidTrackingExpectationsTests
{
    [Fact]
    public void DeletionObserved_SamePodTwice_CountsOnce()
    {
        var expectations = new UidTrackingExpectations(new ControllerExpectations(), NullLogger.Instance);
        expectations.ExpectDeletions(new ObjectKey("default", "rs"), [new ObjectKey("default", "a"), new ObjectKey("default", "b")]);
        expectations.DeletionObserved(new ObjectKey("default", "rs"), new ObjectKey("default", "a"));
        expectations.DeletionObserved(new ObjectKey("default", "rs"), new ObjectKey("default", "a")); // The final delete after the graceful-deletion update.
        Assert.False(expectations.SatisfiedExpectations(new ObjectKey("default", "rs")));
        expectations.DeletionObserved(new ObjectKey("default", "rs"), new ObjectKey("default", "unrelated"));
        Assert.False(expectations.SatisfiedExpectations(new ObjectKey("default", "rs")));
        expectations.DeletionObserved(new ObjectKey("default", "rs"), new ObjectKey("default", "b"));
        Assert.True(expectations.SatisfiedExpectations(new ObjectKey("default", "rs")));
        Assert.Empty(expectations.ExpectedDeletions(new ObjectKey("default", "rs")));
    }
}

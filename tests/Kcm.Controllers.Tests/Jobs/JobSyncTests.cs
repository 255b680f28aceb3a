using Kcm.Api.Batch.V1;
using Kcm.Api.Core.V1;
using Kcm.Controllers.Jobs;
using Kcm.Runtime.Controllers;
using static Kcm.Controllers.Tests.Jobs.JobHarness;

namespace Kcm.Controllers.Tests.Jobs;

public sealed class JobSyncTests : IDisposable
{
    private readonly JobHarness _h = new();

    public void Dispose() => _h.Dispose();

    [Fact]
    public async Task SyncAsync_NewJob_CreatesParallelismPodsWithTrackingFinalizer()
    {
        _h.Add(NewJob(completions: 5, parallelism: 2));

        await _h.SyncAsync();

        Assert.Equal(2, _h.PodControl.Created.Count);
        Assert.All(_h.PodControl.Created, c =>
        {
            Assert.Equal(["batch.kubernetes.io/job-tracking"], c.Pod.Metadata!.Finalizers);
            Assert.Equal("pi-", c.Pod.Metadata.GenerateName);
            var owner = Assert.Single(c.Pod.Metadata.OwnerReferences!);
            Assert.Equal(("batch/v1", "Job", "pi", "uid-pi", true, true), (owner.ApiVersion, owner.Kind, owner.Name, owner.Uid, owner.Controller, owner.BlockOwnerDeletion));
        });
        var status = _h.Job().Status!;
        Assert.Equal((2, 0, (int?)null), (status.Active, status.Ready, status.Succeeded));
        Assert.Equal(Start, status.StartTime);
    }

    [Fact]
    public async Task SyncAsync_CacheLagsBehind_CreatesEachPodOnce()
    {
        _h.Add(NewJob(completions: 3, parallelism: 3));
        await _h.SyncAsync(observe: false);

        // The informer has not delivered the creations: expectations hold the next sync back.
        await _h.SyncAsync(observe: false);
        Assert.Equal(3, _h.PodControl.Created.Count);

        _h.ObserveCreations();
        Assert.True(_h.Controller.Expectations.SatisfiedExpectations(Key()));
        await _h.SyncAsync();
        Assert.Equal(3, _h.PodControl.Created.Count);
    }

    [Fact]
    public async Task SyncAsync_PodSucceeded_CountedThroughUncountedThenCompletes()
    {
        _h.Add(NewJob());
        await _h.SyncAsync();
        var pod = _h.Finish(_h.PodsOf().Single(), "Succeeded");

        var result = await _h.Controller.SyncAsync(Key(), CancellationToken.None);

        var writes = _h.Client.StatusUpdates.ToList();
        // First the pod enters uncountedTerminatedPods, then (finalizer removed) the counter, then the condition.
        Assert.Contains(writes, j => j.Status!.UncountedTerminatedPods!.Succeeded!.SequenceEqual([pod.Metadata!.Uid!]));
        Assert.Equal(pod.Metadata!.Name, Assert.Single(_h.PodControl.Patches).Name);
        Assert.Contains("$deleteFromPrimitiveList/finalizers", _h.PodControl.Patches.Single().Patch);
        var status = _h.Job().Status!;
        Assert.Equal((1, 0), (status.Succeeded, status.Active));
        Assert.Empty(status.UncountedTerminatedPods!.Succeeded ?? []);
        var complete = Assert.Single(status.Conditions!);
        Assert.Equal(("Complete", "True", null, null), (complete.Type, complete.Status, complete.Reason, complete.Message));
        Assert.Equal(complete.LastTransitionTime, status.CompletionTime);
        Assert.Contains(_h.Events.Events, e => e is { Type: "Normal", Reason: "Completed", Message: "Job completed" });
        Assert.Equal(ReconcileAction.Done, result.Action);
        var metrics = _h.Metrics.Render();
        Assert.Contains("job_controller_jobs_finished_total{completion_mode=\"NonIndexed\",result=\"succeeded\",reason=\"\"} 1", metrics);
        Assert.Contains("job_controller_job_pods_finished_total{completion_mode=\"NonIndexed\",result=\"succeeded\"} 1", metrics);
        Assert.Contains("job_controller_job_syncs_total{completion_mode=\"NonIndexed\",result=\"success\",action=\"pods_created\"} 1", metrics);
    }

    [Fact]
    public async Task SyncAsync_FailuresBeyondBackoffLimit_FailsTheJob()
    {
        _h.Add(NewJob(backoffLimit: 1));
        await _h.SyncAsync();
        _h.Finish(_h.PodsOf().Single(), "Failed", exitCode: 1);

        // A new failure: the replacement waits for the Job's back-off (the sync fails, the queue backs off).
        await Assert.ThrowsAsync<PodFailuresDetectedException>(() => _h.SyncAsync());
        Assert.Equal(1, _h.Job().Status!.Failed);
        Assert.Equal(2, _h.PodControl.Created.Count);
        _h.Finish(_h.PodsOf().Single(p => p.Status!.Phase == "Pending"), "Failed", exitCode: 1);

        // The sync that counts the last failure fails the Job and, as upstream's, still reports the new failure: the
        // Failed condition went onto the copy written back, not onto the one the sync judges.
        await Assert.ThrowsAsync<PodFailuresDetectedException>(() => _h.SyncAsync());

        var status = _h.Job().Status!;
        Assert.Equal(2, status.Failed);
        var failed = Assert.Single(status.Conditions!);
        Assert.Equal(("Failed", "True", "BackoffLimitExceeded", "Job has reached the specified backoff limit"), (failed.Type, failed.Status, failed.Reason, failed.Message));
        Assert.Null(status.CompletionTime);
        Assert.Contains(_h.Events.Events, e => e is { Type: "Warning", Reason: "BackoffLimitExceeded" });
        Assert.All(_h.PodsOf(), p => Assert.Null(p.Metadata!.Finalizers is { Count: > 0 } ? p.Metadata.Finalizers : null));
    }

    [Fact]
    public async Task OnPodUpdated_PodFailedWhileBackingOff_EnqueuesAfterTheBackOff()
    {
        _h.Add(NewJob(backoffLimit: 6));
        await _h.SyncAsync();
        _h.Queue.AddRateLimited(Key()); // One failed sync so far: its retry comes after 10 s.
        _h.Time.Advance(TimeSpan.FromSeconds(10));
        Assert.True(_h.Queue.TryTake(out var retried));
        _h.Queue.Done(retried);

        _h.Finish(_h.PodsOf().Single(), "Failed", exitCode: 1);

        _h.Time.Advance(TimeSpan.FromSeconds(9));
        Assert.Equal(0, _h.Queue.Count);
        _h.Time.Advance(TimeSpan.FromSeconds(2));
        Assert.Equal(1, _h.Queue.Count);
    }

    [Fact]
    public async Task SyncAsync_OnFailureRestartsReachBackoffLimit_FailsAndDeletesThePod()
    {
        _h.Add(NewJob(backoffLimit: 2, restartPolicy: "OnFailure"));
        await _h.SyncAsync();
        var pod = _h.PodsOf().Single();
        var running = Kcm.Controllers.Common.KubeObjects.Clone(pod);
        running.Metadata!.ResourceVersion = "2";
        running.Status = new PodStatus { Phase = "Running", ContainerStatuses = [new ContainerStatus { Name = "main", RestartCount = 2 }] };
        _h.Pods.Upsert(running);

        await _h.SyncAsync();

        Assert.Equal([pod.Metadata!.Name!], _h.PodControl.Deleted);
        var status = _h.Job().Status!;
        Assert.Equal("BackoffLimitExceeded", Assert.Single(status.Conditions!).Reason);
        Assert.Equal((1, 0), (status.Failed, status.Active));
    }

    [Fact]
    public async Task SyncAsync_ActiveDeadlinePassed_FailsWithDeadlineExceeded()
    {
        _h.Add(NewJob(configure: s => s.ActiveDeadlineSeconds = 30));
        await _h.SyncAsync();

        _h.Time.Advance(TimeSpan.FromSeconds(30));
        await _h.SyncAsync();

        Assert.Single(_h.PodControl.Deleted);
        var condition = Assert.Single(_h.Job().Status!.Conditions!);
        Assert.Equal(("Failed", "DeadlineExceeded", "Job was active longer than specified deadline"), (condition.Type, condition.Reason, condition.Message));
        Assert.Contains("job_controller_jobs_finished_total{completion_mode=\"NonIndexed\",result=\"failed\",reason=\"DeadlineExceeded\"} 1", _h.Metrics.Render());
    }

    [Fact]
    public async Task SyncAsync_SuspendedThenResumed_DeletesPodsThenRestartsTheClock()
    {
        _h.Add(NewJob(completions: 2, parallelism: 2));
        await _h.SyncAsync();
        var suspended = _h.Job();
        suspended.Spec!.Suspend = true;
        _h.Add(suspended);
        _h.Time.Advance(TimeSpan.FromMinutes(1));

        await _h.SyncAsync();

        Assert.Equal(2, _h.PodControl.Deleted.Count);
        var status = _h.Job().Status!;
        var condition = Assert.Single(status.Conditions!);
        Assert.Equal(("Suspended", "True", "JobSuspended", "Job suspended"), (condition.Type, condition.Status, condition.Reason, condition.Message));
        Assert.Equal(0, status.Active);
        Assert.Contains(_h.Events.Events, e => e is { Reason: "Suspended", Message: "Job suspended" });

        foreach (var pod in _h.PodsOf()) _h.Controller.OnPodDeleted(pod, final: true);
        var resumed = _h.Job();
        resumed.Spec!.Suspend = false;
        _h.Add(resumed);
        _h.Time.Advance(TimeSpan.FromMinutes(1));
        await _h.SyncAsync();

        status = _h.Job().Status!;
        condition = Assert.Single(status.Conditions!);
        Assert.Equal(("Suspended", "False", "JobResumed", "Job resumed"), (condition.Type, condition.Status, condition.Reason, condition.Message));
        Assert.Equal(Start.AddMinutes(2), status.StartTime);
        Assert.Equal(4, _h.PodControl.Created.Count);
    }

    [Fact]
    public async Task SyncAsync_CreatedSuspended_NoPodsAndNoStartTime()
    {
        _h.Add(NewJob(configure: s => s.Suspend = true));

        await _h.SyncAsync();

        Assert.Empty(_h.PodControl.Created);
        Assert.Null(_h.Job().Status!.StartTime);
        Assert.Equal("JobSuspended", Assert.Single(_h.Job().Status!.Conditions!).Reason);
    }

    [Fact]
    public async Task SyncAsync_WithoutCompletions_StopsCreatingAfterTheFirstSuccess()
    {
        _h.Add(NewJob(completions: null, parallelism: 3));
        await _h.SyncAsync();
        var pods = _h.PodsOf();
        _h.Finish(pods[0], "Succeeded");

        await _h.SyncAsync();
        Assert.Equal(3, _h.PodControl.Created.Count);
        Assert.Null(_h.Job().Status!.Conditions);

        _h.Finish(pods[1], "Succeeded");
        _h.Finish(pods[2], "Succeeded");
        await _h.SyncAsync();
        Assert.Equal("Complete", Assert.Single(_h.Job().Status!.Conditions!).Type);
        Assert.Equal(3, _h.Job().Status!.Succeeded);
    }

    [Fact]
    public async Task SyncAsync_LegacyTracking_CountsFromPodsWithoutFinalizers()
    {
        _h.Add(NewJob(tracking: false));
        await _h.SyncAsync();
        Assert.Null(_h.PodControl.Created.Single().Pod.Metadata!.Finalizers);
        _h.Finish(_h.PodsOf().Single(), "Succeeded");

        await _h.SyncAsync();

        var status = _h.Job().Status!;
        Assert.Equal(1, status.Succeeded);
        Assert.Null(status.UncountedTerminatedPods);
        Assert.Equal("Complete", Assert.Single(status.Conditions!).Type);
    }

    [Fact]
    public async Task SyncOrphanPodAsync_JobGone_RemovesTheFinalizer()
    {
        _h.Add(NewJob());
        await _h.SyncAsync();
        var pod = _h.PodsOf().Single();
        _h.Jobs.Delete(Key());

        _h.Controller.OnPodDeleted(pod, final: false);
        Assert.Equal(1, _h.OrphanQueue.Count);
        await _h.Controller.SyncOrphanPodAsync(Kcm.Runtime.Informers.ObjectKey.Of(pod), CancellationToken.None);

        Assert.Equal(pod.Metadata!.Name, Assert.Single(_h.PodControl.Patches).Name);
        Assert.Null(_h.PodsOf().Single().Metadata!.Finalizers is { Count: > 0 } f ? f : null);
    }

    [Fact]
    public async Task SyncAsync_UnknownCompletionMode_WarnsAndSkips()
    {
        _h.Add(NewJob(configure: s => s.CompletionMode = "Sometimes"));

        var result = await _h.Controller.SyncAsync(Key(), CancellationToken.None);

        Assert.Equal(ReconcileAction.DoneKeepFailures, result.Action);
        Assert.Empty(_h.PodControl.Created);
        Assert.Contains(_h.Events.Events, e => e is { Type: "Warning", Reason: "UnknownCompletionMode", Message: "Skipped Job sync because completion mode is unknown" });
    }

    [Fact]
    public async Task SyncAsync_CreateFails_SkipsTheRestOfTheSlowStart()
    {
        _h.Add(NewJob(completions: 8, parallelism: 8));
        _h.PodControl.Fail = op => op == "create" ? new Kcm.Client.Errors.ForbiddenException(403, new Kcm.Api.Meta.V1.Status { Reason = "Forbidden", Message = "exceeded quota" }) : null;

        await Assert.ThrowsAsync<Kcm.Client.Errors.ForbiddenException>(() => _h.SyncAsync());

        Assert.Empty(_h.PodControl.Created);
        Assert.Equal(0, _h.Job().Status!.Active);
        Assert.True(_h.Controller.Expectations.SatisfiedExpectations(Key()));
    }

    [Fact]
    public void Metrics_Registered_UnderUpstreamNames()
    {
        // Labelled families are exported once they have a series (as client_golang); registration is what is checked here.
        var families = _h.Metrics.Families.ToDictionary(f => f.Name);

        Assert.Equal("[STABLE] The time it took to sync a job", families["job_controller_job_sync_duration_seconds"].Help);
        Assert.Equal("histogram", families["job_controller_job_sync_duration_seconds"].Type);
        foreach (var name in new[] { "job_controller_job_syncs_total", "job_controller_jobs_finished_total", "job_controller_job_pods_finished_total",
                     "job_controller_pod_failures_handled_by_failure_policy_total", "job_controller_terminated_pods_tracking_finalizer_total" })
        {
            Assert.Equal("counter", families[name].Type);
        }
    }
}

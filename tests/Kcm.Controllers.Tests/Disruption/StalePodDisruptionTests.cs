using Kcm.Api.Core.V1;
using Kcm.Controllers.Disruption;
using Kcm.Runtime.Controllers;
using Kcm.Runtime.Informers;
using static Kcm.Controllers.Tests.Disruption.DisruptionHarness;

namespace Kcm.Controllers.Tests.Disruption;

/// <summary>Resetting DisruptionTarget conditions that stayed True two minutes on a pod nobody deleted (upstream's TestStalePodDisruption).</summary>
public sealed class StalePodDisruptionTests : IDisposable
{
    private readonly DisruptionHarness _h = new();

    public void Dispose() => _h.Dispose();

    [Fact]
    public async Task SyncStalePodAsync_ConditionOlderThanTimeout_ResetToFalse()
    {
        var pod = PodWithTarget(since: TimeSpan.FromMinutes(3));

        _h.Controller.OnPodChanged(pod);
        var key = Assert.Single(Drain(_h.Queues.StalePods));
        var result = await _h.Controller.SyncStalePodAsync(key, CancellationToken.None);

        Assert.Equal(ReconcileResult.Done, result);
        var reset = Assert.Single(_h.Writer.Resets);
        Assert.Equal(("p", _h.Clock.GetUtcNow()), (reset.Pod.Metadata!.Name!, reset.Now));
    }

    [Fact]
    public async Task SyncStalePodAsync_ConditionYounger_WaitsTheRest()
    {
        var pod = PodWithTarget(since: TimeSpan.FromSeconds(30));

        _h.Controller.OnPodChanged(pod);
        Assert.Empty(Drain(_h.Queues.StalePods));
        Assert.Equal(1, _h.Queues.StalePods.WaitingCount);
        var result = await _h.Controller.SyncStalePodAsync(ObjectKey.Of(pod), CancellationToken.None);

        Assert.Equal(TimeSpan.FromSeconds(90), result.RequeueAfter);
        Assert.Empty(_h.Writer.Resets);

        _h.Clock.Advance(TimeSpan.FromSeconds(90));
        Assert.Single(Drain(_h.Queues.StalePods));
        await _h.Controller.SyncStalePodAsync(ObjectKey.Of(pod), CancellationToken.None);
        Assert.Single(_h.Writer.Resets);
    }

    [Theory]
    [InlineData("TerminationByKubelet", "Running", false, "True")]
    [InlineData("EvictionByEvictionAPI", "Succeeded", false, "True")]
    [InlineData("EvictionByEvictionAPI", "Failed", false, "True")]
    [InlineData("EvictionByEvictionAPI", "Running", true, "True")]
    [InlineData("EvictionByEvictionAPI", "Running", false, "False")]
    public async Task SyncStalePodAsync_ConditionNeverStale_Untouched(string reason, string phase, bool deleting, string status)
    {
        var pod = PodWithTarget(since: TimeSpan.FromMinutes(5), reason);
        pod.Status!.Phase = phase;
        pod.Status.Conditions![1].Status = status;
        if (deleting)
        {
            pod.Metadata!.DeletionTimestamp = _h.Clock.GetUtcNow();
        }

        _h.Controller.OnPodChanged(pod);
        await _h.Controller.SyncStalePodAsync(ObjectKey.Of(pod), CancellationToken.None);

        Assert.Equal(0, _h.Queues.StalePods.Count + _h.Queues.StalePods.WaitingCount);
        Assert.Empty(_h.Writer.Resets);
    }

    [Fact]
    public void ApplyPatch_Pod_UpstreamsApplyConfiguration()
    {
        var pod = new Pod { Metadata = new() { Name = "p", Namespace = "ns", ResourceVersion = "7" } };
        var now = new DateTimeOffset(2026, 1, 2, 3, 4, 5, TimeSpan.Zero);

        Assert.Equal("""{"kind":"Pod","apiVersion":"v1","metadata":{"name":"p","namespace":"ns","resourceVersion":"7"},"status":{"conditions":[{"type":"DisruptionTarget","status":"False","lastTransitionTime":"2026-01-02T03:04:05Z"}]}}""",
            ApiDisruptionWriter.ApplyPatch(pod, now));
        Assert.Equal("""{"metadata":{"resourceVersion":"7"},"status":{"conditions":[{"type":"DisruptionTarget","status":"False","lastTransitionTime":"2026-01-02T03:04:05Z"}]}}""",
            ApiDisruptionWriter.MergePatch(pod, now));
    }

    private Pod PodWithTarget(TimeSpan since, string reason = "EvictionByEvictionAPI")
    {
        var pod = _h.AddPod("p");
        pod.Status!.Conditions!.Add(new PodCondition
        {
            Type = DisruptionController.DisruptionTargetCondition,
            Status = "True",
            Reason = reason,
            LastTransitionTime = _h.Clock.GetUtcNow() - since,
        });
        return pod;
    }
}

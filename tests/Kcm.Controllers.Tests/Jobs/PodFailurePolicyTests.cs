using Kcm.Api.Batch.V1;
using Kcm.Api.Core.V1;
using Kcm.Api.Meta.V1;
using Kcm.Controllers.Jobs;
using static Kcm.Controllers.Tests.Jobs.JobHarness;

namespace Kcm.Controllers.Tests.Jobs;

public sealed class PodFailurePolicyTests : IDisposable
{
    private readonly JobHarness _h = new();

    public void Dispose() => _h.Dispose();

    private static PodFailurePolicy Policy(params PodFailurePolicyRule[] rules) => new() { Rules = [.. rules] };

    private static PodFailurePolicyRule OnExitCodes(string action, string op, params int[] codes)
        => new() { Action = action, OnExitCodes = new PodFailurePolicyOnExitCodesRequirement { Operator = op, Values = [.. codes] } };

    [Fact]
    public async Task SyncAsync_FailJobRuleMatches_FailureTargetThenFailed()
    {
        _h.Add(NewJob(configure: s => s.PodFailurePolicy = Policy(OnExitCodes("FailJob", "In", 42))));
        await _h.SyncAsync();
        var pod = _h.Finish(_h.PodsOf().Single(), "Failed", exitCode: 42);

        // As upstream's, the sync that fails the Job still reports the new failure (see JobSyncTests).
        await Assert.ThrowsAsync<PodFailuresDetectedException>(() => _h.SyncAsync());

        var message = $"Container main for pod default/{pod.Metadata!.Name} failed with exit code 42 matching FailJob rule at index 0";
        var conditions = _h.Job().Status!.Conditions!;
        Assert.Equal([("FailureTarget", "PodFailurePolicy", message), ("Failed", "PodFailurePolicy", message)], conditions.Select(c => (c.Type!, c.Reason!, c.Message!)));
        Assert.Equal(1, _h.Job().Status!.Failed);
        Assert.Contains(_h.Events.Events, e => e is { Type: "Warning", Reason: "PodFailurePolicy" } && e.Message == message);
        Assert.Contains("job_controller_pod_failures_handled_by_failure_policy_total{action=\"FailJob\"} 1", _h.Metrics.Render());
    }

    [Fact]
    public async Task SyncAsync_IgnoreRuleMatches_FailureNotCountedAndPodReplaced()
    {
        _h.Add(NewJob(backoffLimit: 0, configure: s => s.PodFailurePolicy = Policy(OnExitCodes("Ignore", "In", 7))));
        await _h.SyncAsync();
        _h.Finish(_h.PodsOf().Single(), "Failed", exitCode: 7);

        await _h.SyncAsync();

        var status = _h.Job().Status!;
        Assert.Null(status.Conditions);
        Assert.Equal(0, status.Failed ?? 0);
        Assert.Equal(2, _h.PodControl.Created.Count);
        Assert.Contains("job_controller_pod_failures_handled_by_failure_policy_total{action=\"Ignore\"} 1", _h.Metrics.Render());
    }

    [Fact]
    public async Task SyncAsync_CountRuleOrNoMatch_CountsTowardsBackoffLimit()
    {
        _h.Add(NewJob(backoffLimit: 0, configure: s => s.PodFailurePolicy = Policy(OnExitCodes("Ignore", "NotIn", 1, 2, 3))));
        await _h.SyncAsync();
        _h.Finish(_h.PodsOf().Single(), "Failed", exitCode: 2);

        await Assert.ThrowsAsync<PodFailuresDetectedException>(() => _h.SyncAsync());

        Assert.Equal(1, _h.Job().Status!.Failed);
        Assert.Equal("BackoffLimitExceeded", Assert.Single(_h.Job().Status!.Conditions!).Reason);
    }

    [Theory]
    [InlineData("In", new[] { 1, 2 }, 2, "FailJob")]
    [InlineData("In", new[] { 1, 2 }, 3, null)]
    [InlineData("NotIn", new[] { 1, 2 }, 3, "FailJob")]
    [InlineData("NotIn", new[] { 1, 2 }, 1, null)]
    public void Match_ExitCodes_ByOperator(string op, int[] values, int exitCode, string? action)
    {
        var pod = FailedPod(exitCode);

        var match = PodFailurePolicies.Match(Policy(OnExitCodes("FailJob", op, values)), pod);

        Assert.Equal(action, match.Action);
    }

    [Fact]
    public void Match_DisruptionTargetCondition_IgnoreRuleApplies()
    {
        var policy = Policy(
            OnExitCodes("FailJob", "In", 5),
            new PodFailurePolicyRule { Action = "Ignore", OnPodConditions = [new PodFailurePolicyOnPodConditionsPattern { Type = "DisruptionTarget", Status = "True" }] });
        var pod = FailedPod(137);
        pod.Status!.Conditions = [new PodCondition { Type = "DisruptionTarget", Status = "True" }];

        var match = PodFailurePolicies.Match(policy, pod);

        Assert.Equal(new PodFailurePolicyMatch(null, false, "Ignore"), match);
    }

    [Fact]
    public void Match_PodConditionFailJob_Message()
    {
        var policy = Policy(new PodFailurePolicyRule { Action = "FailJob", OnPodConditions = [new PodFailurePolicyOnPodConditionsPattern { Type = "DisruptionTarget", Status = "True" }] });
        var pod = FailedPod(1);
        pod.Status!.Conditions = [new PodCondition { Type = "DisruptionTarget", Status = "True" }];

        Assert.Equal("Pod ns/p has condition DisruptionTarget matching FailJob rule at index 0", PodFailurePolicies.Match(policy, pod).FailJobMessage);
    }

    [Fact]
    public void Match_ExitCodeZeroOrOtherContainer_NoMatch()
    {
        var rule = OnExitCodes("FailJob", "NotIn", 9);
        rule.OnExitCodes!.ContainerName = "sidecar";

        Assert.Null(PodFailurePolicies.Match(Policy(rule), FailedPod(3)).Action);
        Assert.Null(PodFailurePolicies.Match(Policy(OnExitCodes("FailJob", "NotIn", 9)), FailedPod(0)).Action);
    }

    private static Pod FailedPod(int exitCode) => new()
    {
        Metadata = new ObjectMeta { Name = "p", Namespace = "ns" },
        Status = new PodStatus
        {
            Phase = "Failed",
            ContainerStatuses = [new ContainerStatus { Name = "main", State = new ContainerState { Terminated = new ContainerStateTerminated { ExitCode = exitCode } } }],
        },
    };
}

using Kcm.Api.Batch.V1;
using Kcm.Api.Core.V1;

namespace Kcm.Controllers.Jobs;

/// <summary>What the first matching pod failure policy rule says about a failed pod.</summary>
/// <param name="FailJobMessage">Set when the rule's action is FailJob: the Failed condition's message.</param>
/// <param name="CountFailed">False for Ignore: the failure does not count towards backoffLimit.</param>
/// <param name="Action">The matching rule's action, null when no rule matched.</param>
public readonly record struct PodFailurePolicyMatch(string? FailJobMessage, bool CountFailed, string? Action);

/// <summary>Upstream's matchPodFailurePolicy (JobPodFailurePolicy, beta and on in v1.26): rules in order, first match wins.</summary>
public static class PodFailurePolicies
{
    public const string FailJob = "FailJob";
    public const string Ignore = "Ignore";
    public const string Count = "Count";

    public static PodFailurePolicyMatch Match(PodFailurePolicy? policy, Pod failedPod)
    {
        if (policy is null) return new PodFailurePolicyMatch(null, true, null);
        var rules = policy.Rules ?? [];
        for (var index = 0; index < rules.Count; index++)
        {
            var rule = rules[index];
            if (rule.OnExitCodes is { } onExitCodes)
            {
                if (MatchExitCodes(failedPod.Status, onExitCodes) is not { } container) continue;
                switch (rule.Action)
                {
                    case Ignore: return new PodFailurePolicyMatch(null, false, Ignore);
                    case Count: return new PodFailurePolicyMatch(null, true, Count);
                    case FailJob:
                        var message = $"Container {container.Name} for pod {failedPod.Metadata?.Namespace}/{failedPod.Metadata?.Name} failed with exit code {container.State!.Terminated!.ExitCode} matching {FailJob} rule at index {index}";
                        return new PodFailurePolicyMatch(message, true, FailJob);
                }
            }
            else if (rule.OnPodConditions is { } patterns)
            {
                var condition = failedPod.Status?.Conditions?.FirstOrDefault(c => patterns.Any(p => p.Type == c.Type && p.Status == c.Status));
                if (condition is null) continue;
                switch (rule.Action)
                {
                    case Ignore: return new PodFailurePolicyMatch(null, false, Ignore);
                    case Count: return new PodFailurePolicyMatch(null, true, Count);
                    case FailJob:
                        var message = $"Pod {failedPod.Metadata?.Namespace}/{failedPod.Metadata?.Name} has condition {condition.Type} matching {FailJob} rule at index {index}";
                        return new PodFailurePolicyMatch(message, true, FailJob);
                }
            }
        }
        return new PodFailurePolicyMatch(null, true, null);
    }

    // Regular containers first, then init containers; only terminated ones with a non-zero code.
    private static ContainerStatus? MatchExitCodes(PodStatus? status, PodFailurePolicyOnExitCodesRequirement requirement)
        => Matching(status?.ContainerStatuses, requirement) ?? Matching(status?.InitContainerStatuses, requirement);

    private static ContainerStatus? Matching(List<ContainerStatus>? statuses, PodFailurePolicyOnExitCodesRequirement requirement)
    {
        foreach (var s in statuses ?? [])
        {
            if (s.State?.Terminated is not { } terminated) continue;
            if (requirement.ContainerName is { } name && name != s.Name) continue;
            if ((terminated.ExitCode ?? 0) == 0) continue;
            var listed = requirement.Values?.Contains(terminated.ExitCode ?? 0) == true;
            var matches = requirement.Operator switch
            {
                "In" => listed,
                "NotIn" => !listed,
                _ => false,
            };
            if (matches) return s;
        }
        return null;
    }
}

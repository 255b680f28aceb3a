using System.Collections.Concurrent;
using Kcm.Api.Core.V1;
using Kcm.Api.Meta.V1;
using Kcm.Controllers.Common;

namespace Kcm.Controllers.Tests.Common;

/// <summary>Records pod creations, deletions and patches instead of calling an API server; <see cref="Fail"/> injects errors.</summary>
public sealed class FakePodControl : IPodControl
{
    public ConcurrentQueue<(PodTemplateSpec Template, OwnerReference ControllerRef)> Created { get; } = new();

    public ConcurrentQueue<string> Deleted { get; } = new();

    public ConcurrentQueue<(string Name, string Patch)> Patches { get; } = new();

    /// <summary>Called before each operation ("create", "delete", "patch") with the call number (1-based); an exception it returns is thrown.</summary>
    public Func<string, int, Exception?>? Fail { get; set; }

    private int _calls;

    public Task CreatePodAsync(string @namespace, PodTemplateSpec template, ObjectReference controller, OwnerReference controllerRef, CancellationToken cancellationToken)
    {
        MaybeFail("create");
        Created.Enqueue((template, controllerRef));
        return Task.CompletedTask;
    }

    public Task DeletePodAsync(string @namespace, string podName, ObjectReference controller, CancellationToken cancellationToken)
    {
        MaybeFail("delete");
        Deleted.Enqueue(podName);
        return Task.CompletedTask;
    }

    public Task PatchPodAsync(string @namespace, string podName, string strategicMergePatch, CancellationToken cancellationToken)
    {
        MaybeFail("patch");
        Patches.Enqueue((podName, strategicMergePatch));
        return Task.CompletedTask;
    }

    private void MaybeFail(string operation)
    {
        var call = Interlocked.Increment(ref _calls);
        if (Fail?.Invoke(operation, call) is { } error)
        {
            throw error;
        }
    }
}

/// <summary>Pod builders for ranking and status tests.</summary>
public static class TestPods
{
    public static readonly DateTimeOffset Now = new(2026, 11, 22, 12, 0, 0, TimeSpan.Zero);

    public static Pod Pod(string name, string phase = "Pending", string? node = null, DateTimeOffset? readySince = null, DateTimeOffset? created = null,
        int restarts = 0, Dictionary<string, string>? labels = null, Dictionary<string, string>? annotations = null, string? uid = null)
        => new()
        {
            Metadata = new ObjectMeta
            {
                Name = name,
                Namespace = "default",
                Uid = uid ?? "uid-" + name,
                Labels = labels,
                Annotations = annotations,
                CreationTimestamp = created ?? Now.AddHours(-1),
                ResourceVersion = "1",
            },
            Spec = new PodSpec { NodeName = node },
            Status = new PodStatus
            {
                Phase = phase,
                Conditions = readySince is { } t ? [new PodCondition { Type = "Ready", Status = "True", LastTransitionTime = t }] : null,
                ContainerStatuses = restarts > 0 ? [new ContainerStatus { Name = "c", RestartCount = restarts }] : null,
            },
        };
}

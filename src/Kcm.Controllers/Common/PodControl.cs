using Kcm.Api.Core.V1;
using Kcm.Api.Meta.V1;
using Kcm.Client;
using Kcm.Client.Errors;
using Kcm.Runtime.Events;
using Kcm.Runtime.Informers;
using Microsoft.Extensions.Logging;

namespace Kcm.Controllers.Common;

/// <summary>Creates, deletes and patches pods on behalf of a controller (upstream's PodControlInterface); a seam for unit tests.</summary>
public interface IPodControl
{
    /// <summary>Creates one pod from <paramref name="template"/>, owned by <paramref name="controllerRef"/>; events go to <paramref name="controller"/>.</summary>
    Task CreatePodAsync(string @namespace, PodTemplateSpec template, ObjectReference controller, OwnerReference controllerRef, CancellationToken cancellationToken);

    /// <summary>Upstream's CreatePodsWithGenerateName: as above, named <paramref name="generateName"/> + random suffix when it is not empty.</summary>
    Task CreatePodAsync(string @namespace, PodTemplateSpec template, ObjectReference controller, OwnerReference controllerRef, string? generateName, CancellationToken cancellationToken)
        => CreatePodAsync(@namespace, template, controller, controllerRef, cancellationToken);

    Task DeletePodAsync(string @namespace, string podName, ObjectReference controller, CancellationToken cancellationToken);

    Task PatchPodAsync(string @namespace, string podName, string strategicMergePatch, CancellationToken cancellationToken);
}

/// <summary>A controller reference that is not a valid controller reference, or a template that cannot make a pod.</summary>
public sealed class PodControlException(string message) : InvalidOperationException(message);

/// <summary>Upstream's event reasons for pod creation and deletion (also the ReplicaFailure condition's reasons).</summary>
public static class PodEventReasons
{
    public const string FailedCreate = "FailedCreate";
    public const string SuccessfulCreate = "SuccessfulCreate";
    public const string FailedDelete = "FailedDelete";
    public const string SuccessfulDelete = "SuccessfulDelete";
}

/// <summary>Upstream's RealPodControl: API calls plus the SuccessfulCreate/FailedCreate/SuccessfulDelete/FailedDelete events.</summary>
public sealed class PodControl(KubeApiClient client, IEventRecorder recorder, ILogger logger) : IPodControl
{
    public Task CreatePodAsync(string @namespace, PodTemplateSpec template, ObjectReference controller, OwnerReference controllerRef, CancellationToken cancellationToken)
        => CreatePodAsync(@namespace, template, controller, controllerRef, null, cancellationToken);

    public async Task CreatePodAsync(string @namespace, PodTemplateSpec template, ObjectReference controller, OwnerReference controllerRef, string? generateName, CancellationToken cancellationToken)
    {
        ValidateControllerRef(controllerRef);
        var pod = PodFromTemplate(template, controller.Name ?? "", controllerRef);
        if (!string.IsNullOrEmpty(generateName)) pod.Metadata!.GenerateName = generateName;
        if (pod.Metadata!.Labels is not { Count: > 0 })
        {
            throw new PodControlException("unable to create pods, no labels");
        }
        Pod created;
        try
        {
            created = await client.CreateAsync(pod, @namespace, cancellationToken: cancellationToken).ConfigureAwait(false);
        }
        catch (KubeApiException ex)
        {
            // Creation fails for every pod while the namespace terminates; no point in a warning per pod.
            if (!ApiErrors.IsNamespaceTerminating(ex))
            {
                recorder.Event(controller, EventTypes.Warning, PodEventReasons.FailedCreate, $"Error creating: {ex.Message}");
            }
            throw;
        }
        logger.LogTrace("Controller {Controller} created pod {Pod}", controller.Name, created.Metadata?.Name);
        recorder.Event(controller, EventTypes.Normal, PodEventReasons.SuccessfulCreate, $"Created pod: {created.Metadata?.Name}");
    }

    public async Task DeletePodAsync(string @namespace, string podName, ObjectReference controller, CancellationToken cancellationToken)
    {
        logger.LogDebug("Deleting pod {Controller} {Pod}", controller.Name, new ObjectKey(@namespace, podName));
        try
        {
            await client.DeleteAsync<Pod>(@namespace, podName, cancellationToken: cancellationToken).ConfigureAwait(false);
        }
        catch (NotFoundException)
        {
            logger.LogTrace("pod {Pod} has already been deleted.", $"{@namespace}/{podName}");
            throw;
        }
        catch (KubeApiException ex)
        {
            recorder.Event(controller, EventTypes.Warning, PodEventReasons.FailedDelete, $"Error deleting: {ex.Message}");
            throw;
        }
        recorder.Event(controller, EventTypes.Normal, PodEventReasons.SuccessfulDelete, $"Deleted pod: {podName}");
    }

    public Task PatchPodAsync(string @namespace, string podName, string strategicMergePatch, CancellationToken cancellationToken)
        => client.PatchAsync<Pod>(@namespace, podName, PatchType.StrategicMerge, strategicMergePatch, cancellationToken: cancellationToken);

    /// <summary>Upstream's GetPodFromTemplate: the template's labels, annotations, finalizers and spec, named "&lt;parent&gt;-" + random suffix.</summary>
    public static Pod PodFromTemplate(PodTemplateSpec template, string parentName, OwnerReference? controllerRef)
    {
        var copy = KubeObjects.Clone(template);
        var metadata = copy.Metadata ?? new ObjectMeta();
        return new Pod
        {
            Metadata = new ObjectMeta
            {
                Labels = metadata.Labels is { Count: > 0 } labels ? new Dictionary<string, string>(labels) : null,
                Annotations = metadata.Annotations is { Count: > 0 } annotations ? new Dictionary<string, string>(annotations) : null,
                Finalizers = metadata.Finalizers is { Count: > 0 } finalizers ? [.. finalizers] : null,
                GenerateName = PodNamePrefix(parentName),
                OwnerReferences = controllerRef is null ? null : [controllerRef],
            },
            Spec = copy.Spec,
        };
    }

    /// <summary>"&lt;name&gt;-" unless that would be too long for a generated pod name (upstream's getPodsPrefix).</summary>
    public static string PodNamePrefix(string controllerName)
    {
        // ValidatePodName(prefix, true) masks the trailing dash and checks a DNS-1123 subdomain (at most 253 characters);
        // the controller's own name already is one, so only the length can fail.
        var prefix = controllerName + "-";
        return prefix.Length > 253 ? controllerName : prefix;
    }

    private static void ValidateControllerRef(OwnerReference controllerRef)
    {
        if (string.IsNullOrEmpty(controllerRef.ApiVersion))
        {
            throw new PodControlException("controllerRef has empty APIVersion");
        }
        if (string.IsNullOrEmpty(controllerRef.Kind))
        {
            throw new PodControlException("controllerRef has empty Kind");
        }
        if (controllerRef.Controller != true)
        {
            throw new PodControlException("controllerRef.Controller is not set to true");
        }
        if (controllerRef.BlockOwnerDeletion != true)
        {
            throw new PodControlException("controllerRef.BlockOwnerDeletion is not set");
        }
    }
}

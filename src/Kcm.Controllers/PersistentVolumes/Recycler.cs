using System.Threading.Channels;
using Kcm.Api;
using Kcm.Api.Core.V1;
using Kcm.Client;
using Kcm.Client.Errors;
using Kcm.Client.Watch;
using Kcm.Controllers.Common;
using Microsoft.Extensions.Logging;

namespace Kcm.Controllers.PersistentVolumes;

/// <summary>
/// A plugin's recycler pod: upstream's template (or the one --pv-recycler-pod-template-filepath-* names) with the
/// volume mounted at /scrub and an activeDeadlineSeconds of max(minimum, increment per whole Gi).
/// </summary>
public sealed class RecyclerConfig(Pod template, int minimumTimeout, int timeoutIncrement)
{
    public static Pod DefaultTemplate() => new()
    {
        Metadata = new() { GenerateName = "pv-recycler-", Namespace = "default" },
        Spec = new PodSpec
        {
            ActiveDeadlineSeconds = 60,
            RestartPolicy = "Never",
            Volumes = [new Volume { Name = "vol" }],
            Containers =
            [
                new Container
                {
                    Name = "pv-recycler",
                    Image = "registry.k8s.io/debian-base:v2.0.0",
                    Command = ["/bin/sh"],
                    Args = ["-c", "test -e /scrub && rm -rf /scrub/..?* /scrub/.[!.]* /scrub/*  && test -z \"$(ls -A /scrub)\" || exit 1"],
                    VolumeMounts = [new VolumeMount { Name = "vol", MountPath = "/scrub" }],
                },
            ],
        },
    };

    /// <summary>The template from a JSON pod file (empty path: upstream's default); throws with upstream's wording when invalid.</summary>
    public static Pod LoadTemplate(string path, string plugin)
    {
        if (string.IsNullOrEmpty(path))
        {
            return DefaultTemplate();
        }
        Pod? pod;
        try
        {
            pod = KubeJson.Deserialize<Pod>(File.ReadAllBytes(path));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or System.Text.Json.JsonException)
        {
            throw new InvalidOperationException($"Could not create {plugin} recycler pod from file {path}: {e.Message}", e);
        }
        if (pod?.Spec?.Volumes is not { Count: > 0 })
        {
            throw new InvalidOperationException($"Could not create {plugin} recycler pod from file {path}: pod specification ({path}): does not contain any volume(s)");
        }
        return pod;
    }

    public static long TimeoutFor(PersistentVolume volume, int minimumTimeout, int timeoutIncrement)
    {
        var bytes = VolumeBinding.VolumeStorage(volume)?.Value() ?? 0;
        var timeout = bytes / (1L << 30) * timeoutIncrement;
        return timeout < minimumTimeout ? minimumTimeout : timeout;
    }

    public Pod PodFor(PersistentVolume volume, HostPathVolumeSource? hostPath, NFSVolumeSource? nfs)
    {
        var pod = KubeObjects.Clone(template);
        pod.Spec!.ActiveDeadlineSeconds = TimeoutFor(volume, minimumTimeout, timeoutIncrement);
        var first = pod.Spec.Volumes![0];
        pod.Spec.Volumes[0] = new Volume { Name = first.Name, HostPath = hostPath, Nfs = nfs };
        return pod;
    }
}

public interface IRecyclerPodRunner
{
    Task RecycleAsync(string pvName, Pod pod, Action<string, string> recorder, CancellationToken cancellationToken);
}

/// <summary>
/// recyclerclient.RecycleVolumeByWatchingPodUntilCompletion: creates "recycler-for-&lt;pv&gt;", forwards the pod's
/// events to the volume, waits for Succeeded or Failed, and always deletes the pod afterwards. A pod of that name
/// already there is deleted (it may be a forged one) and the recycling retried later.
/// </summary>
public sealed class ApiRecyclerPodRunner(KubeApiClient client, ILogger logger) : IRecyclerPodRunner
{
    public async Task RecycleAsync(string pvName, Pod pod, Action<string, string> recorder, CancellationToken cancellationToken)
    {
        pod.Metadata ??= new();
        pod.Metadata.Name = "recycler-for-" + pvName;
        pod.Metadata.GenerateName = null;
        var ns = string.IsNullOrEmpty(pod.Metadata.Namespace) ? "default" : pod.Metadata.Namespace;
        pod.Metadata.Namespace = ns;
        var name = pod.Metadata.Name;

        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var updates = Channel.CreateUnbounded<object>();
        var podWatch = PumpAsync(client.WatchAsync<Pod>(ns, new ListOptions { FieldSelector = "metadata.name=" + name }, stop.Token), updates.Writer, stop.Token);
        // The pod's watch ending ends the wait, as upstream's closed channel does.
        _ = podWatch.ContinueWith(_ => updates.Writer.TryComplete(), CancellationToken.None, TaskContinuationOptions.None, TaskScheduler.Default);
        var eventWatch = PumpAsync(client.WatchAsync<Event>(ns, new ListOptions { FieldSelector = "involvedObject.name=" + name }, stop.Token), updates.Writer, stop.Token);
        try
        {
            try
            {
                await client.CreateAsync(pod, ns, cancellationToken: cancellationToken).ConfigureAwait(false);
            }
            catch (AlreadyExistsException)
            {
                try
                {
                    await client.DeleteAsync<Pod>(ns, name, cancellationToken: cancellationToken).ConfigureAwait(false);
                }
                catch (KubeApiException e)
                {
                    throw new VolumePluginException($"failed to delete old recycler pod {ns}/{name}: {e.Message}", e);
                }
                throw new VolumePluginException("old recycler pod found, will retry later");
            }
            catch (KubeApiException e)
            {
                throw new VolumePluginException($"unexpected error creating recycler pod:  {e.Message}", e);
            }

            string? failure = await WaitForPodAsync(updates.Reader, recorder, cancellationToken).ConfigureAwait(false);
            logger.LogDebug("{Message}", $"deleting recycler pod {ns}/{name}");
            string? deleteFailure = null;
            try
            {
                await client.DeleteAsync<Pod>(ns, name, cancellationToken: cancellationToken).ConfigureAwait(false);
            }
            catch (KubeApiException e) when (e is not NotFoundException)
            {
                deleteFailure = e.Message;
                logger.LogError("failed to delete recycler pod {Namespace}/{Pod}: {Error}", ns, name, e.Message);
            }
            if (failure is not null)
            {
                throw new VolumePluginException("failed to recycle volume: " + failure);
            }
            if (deleteFailure is not null)
            {
                throw new VolumePluginException("failed to delete recycler pod: " + deleteFailure);
            }
        }
        finally
        {
            await stop.CancelAsync().ConfigureAwait(false);
            updates.Writer.TryComplete();
            await Task.WhenAll(podWatch, eventWatch).ConfigureAwait(false);
        }
    }

    /// <summary>Null once the pod succeeded, else why it did not.</summary>
    private static async Task<string?> WaitForPodAsync(ChannelReader<object> updates, Action<string, string> recorder, CancellationToken cancellationToken)
    {
        while (true)
        {
            object update;
            try
            {
                update = await updates.ReadAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (ChannelClosedException)
            {
                return "recycler pod watch channel had been closed";
            }
            switch (update)
            {
                case WatchEvent<Pod> { Type: WatchEventType.Added or WatchEventType.Modified } e when e.Object.Status?.Phase == "Succeeded":
                    return null;
                case WatchEvent<Pod> { Type: WatchEventType.Added or WatchEventType.Modified } e when e.Object.Status?.Phase == "Failed":
                    return string.IsNullOrEmpty(e.Object.Status.Message) ? "pod failed, pod.Status.Message unknown" : e.Object.Status.Message;
                case WatchEvent<Pod> { Type: WatchEventType.Deleted }:
                    return "recycler pod was deleted";
                case WatchEvent<Pod> { Type: WatchEventType.Error }:
                    return "recycler pod watcher failed";
                case WatchEvent<Event> { Type: WatchEventType.Added } e:
                    recorder(e.Object.Type ?? "Normal", e.Object.Message ?? "");
                    break;
            }
        }
    }

    private async Task PumpAsync<T>(IAsyncEnumerable<WatchEvent<T>> watch, ChannelWriter<object> writer, CancellationToken cancellationToken)
    {
        try
        {
            await foreach (var e in watch.ConfigureAwait(false))
            {
                await writer.WriteAsync(e, cancellationToken).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
        catch (Exception e) when (e is KubeApiException or IOException or HttpRequestException or ChannelClosedException)
        {
            logger.LogDebug("recycler watch ended: {Error}", e.Message);
        }
    }
}

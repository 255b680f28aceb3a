using System.Collections.Concurrent;
using System.Text.Json.Nodes;
using Kcm.Api.Core.V1;
using Kcm.Api.Meta.V1;
using Kcm.Api.Storage.V1;
using Kcm.Client.Errors;
using Kcm.Controllers.AttachDetach;
using Kcm.Runtime.Events;
using Kcm.Runtime.Informers;

namespace Kcm.Controllers.Tests.AttachDetach;

/// <summary>Events recorded from any thread.</summary>
internal sealed class RecordingEventRecorder : IEventRecorder
{
    public ConcurrentQueue<(string Name, string Type, string Reason, string Message)> Events { get; } = new();

    public void Event(ObjectReference reference, string type, string reason, string message) => Events.Enqueue((reference.Name ?? "", type, reason, message));
}

/// <summary>An API that also plays the informers: what it writes shows up in the caches the controller reads.</summary>
internal sealed class FakeAttachDetachClient(ThreadSafeStore<VolumeAttachment> attachments, ThreadSafeStore<Node> nodes) : IAttachDetachClient
{
    public ConcurrentQueue<VolumeAttachment> Created { get; } = new();
    public ConcurrentQueue<string> Deleted { get; } = new();
    public ConcurrentQueue<(string Node, string Patch)> NodePatches { get; } = new();
    public int NodeGets;

    public Task CreateVolumeAttachmentAsync(VolumeAttachment attachment, CancellationToken cancellationToken)
    {
        if (attachments.Get(new ObjectKey(null, attachment.Metadata!.Name!)) is not null)
        {
            throw new AlreadyExistsException(409, new Status { Reason = "AlreadyExists", Message = "exists" });
        }
        Created.Enqueue(attachment);
        attachments.Upsert(attachment);
        return Task.CompletedTask;
    }

    public Task<VolumeAttachment> GetVolumeAttachmentAsync(string name, CancellationToken cancellationToken)
        => attachments.Get(new ObjectKey(null, name)) is { } found ? Task.FromResult(found)
            : throw new NotFoundException(404, new Status { Reason = "NotFound", Message = "not found" });

    public Task DeleteVolumeAttachmentAsync(string name, CancellationToken cancellationToken)
    {
        Deleted.Enqueue(name);
        if (attachments.Delete(new ObjectKey(null, name)) is null)
        {
            throw new NotFoundException(404, new Status { Reason = "NotFound", Message = "not found" });
        }
        return Task.CompletedTask;
    }

    public Task<Node> GetNodeAsync(string name, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref NodeGets);
        return nodes.Get(new ObjectKey(null, name)) is { } node ? Task.FromResult(node)
            : throw new NotFoundException(404, new Status { Reason = "NotFound", Message = "not found" });
    }

    public Task PatchNodeStatusAsync(string name, string patch, CancellationToken cancellationToken)
    {
        NodePatches.Enqueue((name, patch));
        if (JsonNode.Parse(patch)?["status"] is JsonObject status && status.ContainsKey("volumesAttached") && nodes.Get(new ObjectKey(null, name)) is { } node)
        {
            var updated = Kcm.Controllers.Common.KubeObjects.Clone(node);
            updated.Status ??= new NodeStatus();
            updated.Status.VolumesAttached = status["volumesAttached"] is JsonArray list
                ? list.Select(v => new AttachedVolume { Name = (string?)v!["name"], DevicePath = (string?)v["devicePath"] }).ToList()
                : null;
            nodes.Upsert(updated);
        }
        return Task.CompletedTask;
    }
}

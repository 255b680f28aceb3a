using Kcm.Api.Core.V1;
using Kcm.Api.Storage.V1;
using Kcm.Client;

namespace Kcm.Controllers.AttachDetach;

/// <summary>The controller's writes and live reads (a seam for unit tests).</summary>
public interface IAttachDetachClient
{
    /// <summary>Creates it; an existing one of that name throws <see cref="Kcm.Client.Errors.AlreadyExistsException"/>.</summary>
    Task CreateVolumeAttachmentAsync(VolumeAttachment attachment, CancellationToken cancellationToken);

    Task<VolumeAttachment> GetVolumeAttachmentAsync(string name, CancellationToken cancellationToken);

    /// <summary>Deletes it; a missing one throws <see cref="Kcm.Client.Errors.NotFoundException"/>.</summary>
    Task DeleteVolumeAttachmentAsync(string name, CancellationToken cancellationToken);

    Task<Node> GetNodeAsync(string name, CancellationToken cancellationToken);

    /// <summary>A strategic merge patch of nodes/status.</summary>
    Task PatchNodeStatusAsync(string name, string patch, CancellationToken cancellationToken);
}

public sealed class ApiAttachDetachClient(KubeApiClient client) : IAttachDetachClient
{
    public Task CreateVolumeAttachmentAsync(VolumeAttachment attachment, CancellationToken cancellationToken)
        => client.CreateAsync(attachment, cancellationToken: cancellationToken);

    public Task<VolumeAttachment> GetVolumeAttachmentAsync(string name, CancellationToken cancellationToken)
        => client.GetAsync<VolumeAttachment>(null, name, cancellationToken);

    public Task DeleteVolumeAttachmentAsync(string name, CancellationToken cancellationToken)
        => client.DeleteAsync<VolumeAttachment>(null, name, cancellationToken: cancellationToken);

    public Task<Node> GetNodeAsync(string name, CancellationToken cancellationToken)
        => client.GetAsync<Node>(null, name, cancellationToken);

    public Task PatchNodeStatusAsync(string name, string patch, CancellationToken cancellationToken)
        => client.PatchAsync<Node>(null, name, PatchType.StrategicMerge, patch, "status", cancellationToken: cancellationToken);
}

using System.Text.Json.Nodes;
using Kcm.ApiServer.CustomResources;
using Kcm.ApiServer.Endpoints;
using Kcm.ApiServer.Storage;

namespace Kcm.ApiServer.Registry;

public sealed partial class GenericStore
{
    private static bool IsCustomResourceDefinition(ResourceRequest req)
        => req.Group == CustomResourceDefinitionController.Group && req.Resource == CustomResourceDefinitionController.Resource;

    /// <summary>
    /// Upstream's CRD REST Delete: the first delete only marks the CRD (deletionTimestamp, the customresourcecleanup finalizer,
    /// Terminating=True); the finalizer controller deletes the instances and then lets the CRD go.
    /// </summary>
    private DeletionOutcome? MarkCustomResourceDefinitionDeleted(ResourceRequest req, ResourceStore store, StoredObject current, JsonObject obj)
    {
        var meta = EnsureMetadata(obj);
        meta["deletionTimestamp"] = FormatTime(_time.GetUtcNow());
        var finalizers = Finalizers.FinalizersOf(meta);
        if (!finalizers.Contains(CustomResourceDefinitionInfo.CleanupFinalizer)) finalizers.Add(CustomResourceDefinitionInfo.CleanupFinalizer);
        Finalizers.SetFinalizers(meta, finalizers);
        if (obj["status"] is not JsonObject status) obj["status"] = status = new JsonObject();
        if (status["conditions"] is not JsonArray conditions) status["conditions"] = conditions = new JsonArray();
        var condition = new JsonObject
        {
            ["type"] = "Terminating",
            ["status"] = "True",
            ["lastTransitionTime"] = FormatTime(_time.GetUtcNow()),
            ["reason"] = "InstanceDeletionPending",
            ["message"] = "CustomResourceDefinition marked for deletion; CustomResource deletion will begin soon",
        };
        var index = conditions.Select((c, i) => (c, i)).FirstOrDefault(p => p.c?["type"]?.GetValue<string>() == "Terminating", (null, -1)).Item2;
        if (index >= 0) conditions[index] = condition; else conditions.Add((JsonNode)condition);
        var written = WriteDeletionUpdate(req, store, current, obj);
        return written is null ? null : new DeletionOutcome(DeletionKind.Pending, written);
    }
}

using System.Text.Json.Nodes;
using Kcm.Api.Catalog;
using Kcm.ApiServer.Apply;
using Kcm.ApiServer.Endpoints;

namespace Kcm.ApiServer.Registry;

public sealed partial class GenericStore
{
    /// <summary>
    /// Records the request's manager in managedFields (upstream FieldManager.UpdateNoErrors on create, update and patch).
    /// Runs after defaulting, so defaulted fields are attributed to the writer as upstream's decode-time defaults are.
    /// </summary>
    private void TrackFields(ResourceRequest req, ResourceStrategy strategy, JsonObject? live, JsonObject desired)
    {
        if (req.FieldManager is null) return;
        if (FieldContextFor(req, strategy, req.FieldManager) is { } ctx) Fields.TrackUpdate(live, desired, ctx);
    }

    /// <summary>The field-management context of a write; null for kinds without a schema.</summary>
    public static FieldContext? FieldContextFor(ResourceRequest req, ResourceStrategy strategy, string manager)
    {
        var definition = ApiCatalog.DefinitionFor(req.Group, req.Version, req.Entry.Kind);
        var subresource = req.Subresource;
        return definition is null ? null
            : new FieldContext(manager, req.GroupVersion, subresource, definition, strategy.HasStatus, strategy.StatusUpdateKeepsLabels);
    }
}

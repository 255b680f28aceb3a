using System.Globalization;
using System.Text.Json.Nodes;
using Kcm.ApiServer.Printing;

namespace Kcm.ApiServer.CustomResources;

/// <summary>A printer column of a CRD version (additionalPrinterColumns): a simple JSON path such as ".spec.replicas".</summary>
public sealed record CustomResourceColumn(string Name, string Type, string Format, int Priority, string JsonPath);

/// <summary>
/// Server-side printing of custom resources as upstream's CRD table convertor: Name, then the version's
/// additionalPrinterColumns, or Age (creationTimestamp) when it declares none.
/// </summary>
public static class CustomResourceTable
{
    private static readonly CustomResourceColumn[] DefaultColumns = [new("Age", "date", "", 0, ".metadata.creationTimestamp")];

    private static IReadOnlyList<CustomResourceColumn> Declared(CustomResourceVersion version) => version.Columns.Count > 0 ? version.Columns : DefaultColumns;

    public static IReadOnlyList<TableColumn> Columns(CustomResourceVersion version)
        => [new TableColumn("Name", "string", Format: "name"), .. Declared(version).Select(c => new TableColumn(c.Name, c.Type, c.Priority, c.Format))];

    public static List<object?> Row(CustomResourceVersion version, JsonObject obj, DateTimeOffset now)
    {
        var cells = new List<object?> { obj["metadata"]?["name"]?.GetValue<string>() ?? "" };
        foreach (var c in Declared(version))
        {
            JsonNode? node = obj;
            foreach (var part in c.JsonPath.TrimStart('.').Split('.', StringSplitOptions.RemoveEmptyEntries)) node = node is JsonObject o ? o[part] : null;
            cells.Add(node switch
            {
                null => null,
                JsonValue v when c.Type == "date" && v.TryGetValue<string>(out var t) => HumanDuration.Since(t, now),
                JsonValue v when v.TryGetValue<long>(out var n) => n,
                JsonValue v when v.TryGetValue<string>(out var s) => s,
                JsonValue v when v.TryGetValue<bool>(out var b) => b ? "true" : "false",
                JsonValue v when v.TryGetValue<double>(out var d) => d.ToString(CultureInfo.InvariantCulture),
                _ => node.ToJsonString(),
            });
        }
        return cells;
    }
}

namespace Kcm.Client;

/// <summary>metav1.ListOptions as query parameters of list, watch and deletecollection.</summary>
public sealed record ListOptions
{
    public string? LabelSelector { get; init; }

    public string? FieldSelector { get; init; }

    /// <summary>Page size; 0 or null means everything in one response.</summary>
    public long? Limit { get; init; }

    public string? Continue { get; init; }

    public string? ResourceVersion { get; init; }

    /// <summary>"NotOlderThan" or "Exact".</summary>
    public string? ResourceVersionMatch { get; init; }

    public long? TimeoutSeconds { get; init; }

    public bool AllowWatchBookmarks { get; init; }

    /// <summary>
    /// Read the objects without metadata.managedFields (not sent to the server): informers drop them, and leaving
    /// them out while decoding saves building them.
    /// </summary>
    public bool OmitManagedFields { get; init; }

    internal void AddTo(QueryBuilder query, bool watch)
    {
        if (watch)
        {
            query.Add("watch", "true");
            if (AllowWatchBookmarks)
            {
                query.Add("allowWatchBookmarks", "true");
            }
        }
        query.Add("labelSelector", LabelSelector);
        query.Add("fieldSelector", FieldSelector);
        if (Limit is > 0)
        {
            query.Add("limit", Limit.Value.ToString(System.Globalization.CultureInfo.InvariantCulture));
        }
        query.Add("continue", Continue);
        query.Add("resourceVersion", ResourceVersion);
        query.Add("resourceVersionMatch", ResourceVersionMatch);
        if (TimeoutSeconds is not null)
        {
            query.Add("timeoutSeconds", TimeoutSeconds.Value.ToString(System.Globalization.CultureInfo.InvariantCulture));
        }
    }
}

/// <summary>Query parameters of create, update and patch (metav1.CreateOptions/UpdateOptions/PatchOptions).</summary>
public sealed record WriteOptions
{
    public bool DryRun { get; init; }

    public string? FieldManager { get; init; }

    /// <summary>"Ignore", "Warn" or "Strict".</summary>
    public string? FieldValidation { get; init; }

    /// <summary>Only for server-side apply patches.</summary>
    public bool? Force { get; init; }

    internal void AddTo(QueryBuilder query)
    {
        if (DryRun)
        {
            query.Add("dryRun", "All");
        }
        query.Add("fieldManager", FieldManager);
        query.Add("fieldValidation", FieldValidation);
        if (Force is not null)
        {
            query.Add("force", Force.Value ? "true" : "false");
        }
    }
}

public enum PatchType
{
    /// <summary>RFC 6902, application/json-patch+json.</summary>
    Json,

    /// <summary>RFC 7386, application/merge-patch+json.</summary>
    Merge,

    /// <summary>application/strategic-merge-patch+json (built-in types only).</summary>
    StrategicMerge,

    /// <summary>Server-side apply, application/apply-patch+yaml (needs a field manager).</summary>
    Apply,
}

public static class PatchTypes
{
    public static string ContentType(PatchType type) => type switch
    {
        PatchType.Json => "application/json-patch+json",
        PatchType.Merge => "application/merge-patch+json",
        PatchType.StrategicMerge => "application/strategic-merge-patch+json",
        PatchType.Apply => "application/apply-patch+yaml",
        _ => throw new ArgumentOutOfRangeException(nameof(type), type, "unknown patch type"),
    };
}

internal sealed class QueryBuilder
{
    private readonly List<string> _parts = [];

    public void Add(string name, string? value)
    {
        if (!string.IsNullOrEmpty(value))
        {
            _parts.Add($"{name}={Uri.EscapeDataString(value)}");
        }
    }

    public override string ToString() => _parts.Count == 0 ? "" : "?" + string.Join('&', _parts);
}

using System.Text.Json;

namespace Kcm.ApiServer.Errors;

public sealed record StatusCauseInfo(string Reason, string Message, string? Field);

/// <summary>An error that is answered as a metav1.Status body, shaped as a v1.26 server writes it.</summary>
public sealed class ApiException : Exception
{
    public ApiException(int code, string reason, string message, string? name = null, string? group = null, string? kind = null,
        IReadOnlyList<StatusCauseInfo>? causes = null, bool emptyDetails = false, string? continueToken = null)
        : base(message)
    {
        Code = code;
        Reason = reason;
        Name = name;
        Group = group;
        Kind = kind;
        Causes = causes;
        EmptyDetails = emptyDetails;
        ContinueToken = continueToken;
    }

    public int Code { get; }
    public string Reason { get; }
    public string? Name { get; }
    public string? Group { get; }
    public string? Kind { get; }
    public IReadOnlyList<StatusCauseInfo>? Causes { get; }
    public bool EmptyDetails { get; }
    public string? ContinueToken { get; }

    /// <summary>details.retryAfterSeconds, also sent as a Retry-After header when positive.</summary>
    public int RetryAfterSeconds { get; init; }

    private bool HasDetails => EmptyDetails || Name is not null || Group is not null || Kind is not null || Causes is not null || RetryAfterSeconds > 0;

    /// <summary>"configmaps" or "deployments.apps": how upstream names a group resource in messages.</summary>
    public static string Qualified(string group, string resource) => group.Length == 0 ? resource : $"{resource}.{group}";

    public static ApiException NotFound(string group, string resource, string name)
        => new(404, "NotFound", $"{Qualified(group, resource)} \"{name}\" not found", name, NullIfEmpty(group), resource);

    public static ApiException AlreadyExists(string group, string resource, string name)
        => new(409, "AlreadyExists", $"{Qualified(group, resource)} \"{name}\" already exists", name, NullIfEmpty(group), resource);

    public static ApiException Conflict(string group, string resource, string name, string detail)
        => new(409, "Conflict", $"Operation cannot be fulfilled on {Qualified(group, resource)} \"{name}\": {detail}", name, NullIfEmpty(group), resource);

    public const string ModifiedMessage = "the object has been modified; please apply your changes to the latest version and try again";

    public static ApiException BadRequest(string message) => new(400, "BadRequest", message);

    /// <summary>A generated name collided with an existing object (upstream NewGenerateNameConflict; clients retry).</summary>
    public static ApiException GenerateNameConflict(string group, string resource, string name)
        => new(409, "AlreadyExists", $"{Qualified(group, resource)} \"{name}\" already exists, the server was not able to generate a unique name for the object",
            name, NullIfEmpty(group), resource) { RetryAfterSeconds = 1 };

    /// <summary>A request option that is not one of the supported values (ValidateCreateOptions and friends).</summary>
    public static ApiException InvalidOption(string optionsKind, string field, string message)
        => Invalid("meta.k8s.io", optionsKind, "", [new StatusCauseInfo("FieldValueNotSupported", message, field)]);

    public static ApiException Expired(string message, string? continueToken = null) => new(410, "Expired", message, continueToken: continueToken);

    public static ApiException InternalError(string message)
        => new(500, "InternalError", $"Internal error occurred: {message}", causes: [new StatusCauseInfo("", message, null)]);

    public static ApiException Invalid(string group, string kind, string name, IReadOnlyList<StatusCauseInfo> causes)
    {
        var qualifiedKind = group.Length == 0 ? kind : $"{kind}.{group}";
        var summary = causes.Count == 1
            ? FormatCause(causes[0])
            : "[" + string.Join(", ", causes.Select(FormatCause)) + "]";
        return new(422, "Invalid", $"{qualifiedKind} \"{name}\" is invalid: {summary}", name, NullIfEmpty(group), kind, causes);
    }

    private static string FormatCause(StatusCauseInfo c) => c.Field is null ? c.Message : $"{c.Field}: {c.Message}";

    public static ApiException PathNotFound()
        => new(404, "NotFound", "the server could not find the requested resource", emptyDetails: true);

    public static ApiException MethodNotAllowed()
        => new(405, "MethodNotAllowed", "the server does not allow this method on the requested resource", emptyDetails: true);

    public static ApiException Unauthorized() => new(401, "Unauthorized", "Unauthorized");

    public static ApiException UnsupportedMediaType(IReadOnlyList<string> accepted)
        => new(415, "UnsupportedMediaType",
            $"the body of the request was in an unknown format - accepted media types include: {string.Join(", ", accepted)}");

    public static ApiException NotAcceptable(IReadOnlyList<string> accepted)
        => new(406, "NotAcceptable", $"only the following media types are accepted: {string.Join(", ", accepted)}");

    public static ApiException RequestEntityTooLarge(long limit)
        => new(413, "RequestEntityTooLarge", $"Request entity too large: limit is {limit}");

    private static string? NullIfEmpty(string s) => s.Length == 0 ? null : s;

    /// <summary>Writes the Status in upstream field order (kind, apiVersion, metadata, status, message, reason, details, code).</summary>
    public void WriteStatus(Utf8JsonWriter w)
    {
        w.WriteStartObject();
        w.WriteString("kind", "Status");
        w.WriteString("apiVersion", "v1");
        w.WriteStartObject("metadata");
        if (ContinueToken is not null) w.WriteString("continue", ContinueToken);
        w.WriteEndObject();
        w.WriteString("status", "Failure");
        w.WriteString("message", Message);
        // Plain errors (componentstatuses' "Component not found") and Statuses returned as failed results carry no reason upstream.
        if (Reason.Length > 0) w.WriteString("reason", Reason);
        if (HasDetails)
        {
            w.WriteStartObject("details");
            if (Name is not null) w.WriteString("name", Name);
            if (Group is not null) w.WriteString("group", Group);
            if (Kind is not null) w.WriteString("kind", Kind);
            if (Causes is not null)
            {
                w.WriteStartArray("causes");
                foreach (var c in Causes)
                {
                    w.WriteStartObject();
                    if (c.Reason.Length > 0) w.WriteString("reason", c.Reason);
                    w.WriteString("message", c.Message);
                    if (c.Field is not null) w.WriteString("field", c.Field);
                    w.WriteEndObject();
                }
                w.WriteEndArray();
            }
            if (RetryAfterSeconds > 0) w.WriteNumber("retryAfterSeconds", RetryAfterSeconds);
            w.WriteEndObject();
        }
        w.WriteNumber("code", Code);
        w.WriteEndObject();
    }
}

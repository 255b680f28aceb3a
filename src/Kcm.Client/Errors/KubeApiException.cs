using Kcm.Api.Meta.V1;

namespace Kcm.Client.Errors;

/// <summary>A request the API server refused; carries the metav1.Status it returned (or one built from the HTTP code).</summary>
public class KubeApiException : Exception
{
    public KubeApiException(int statusCode, Status status, Exception? inner = null)
        : base(status.Message ?? $"the server returned HTTP {statusCode}", inner)
    {
        StatusCode = statusCode;
        Status = status;
    }

    /// <summary>HTTP status code (the Status body's code when present).</summary>
    public int StatusCode { get; }

    /// <summary>metav1.StatusReason, e.g. "NotFound"; empty when the server gave none.</summary>
    public string Reason => Status.Reason ?? "";

    public Status Status { get; }

    /// <summary>From the Retry-After header or details.retryAfterSeconds.</summary>
    public TimeSpan? RetryAfter { get; internal set; }
}

public sealed class NotFoundException(int statusCode, Status status) : KubeApiException(statusCode, status);

public sealed class AlreadyExistsException(int statusCode, Status status) : KubeApiException(statusCode, status);

/// <summary>409 Conflict: usually a stale resourceVersion on update.</summary>
public sealed class ConflictException(int statusCode, Status status) : KubeApiException(statusCode, status);

/// <summary>410: reason "Expired" (resourceVersion or continue token too old) or "Gone"; lists and watches must restart.</summary>
public sealed class GoneException(int statusCode, Status status) : KubeApiException(statusCode, status)
{
    public bool IsExpired => Reason == StatusReasons.Expired;
}

public sealed class ForbiddenException(int statusCode, Status status) : KubeApiException(statusCode, status);

public sealed class UnauthorizedException(int statusCode, Status status) : KubeApiException(statusCode, status);

/// <summary>429, thrown once the client has used up its Retry-After retries.</summary>
public sealed class TooManyRequestsException(int statusCode, Status status) : KubeApiException(statusCode, status);

/// <summary>Reason "ServerTimeout" (500, the server gave up) or "Timeout" (504, the request timed out).</summary>
public sealed class ServerTimeoutException(int statusCode, Status status) : KubeApiException(statusCode, status);

/// <summary>422 with field causes.</summary>
public sealed class InvalidException(int statusCode, Status status) : KubeApiException(statusCode, status)
{
    public IReadOnlyList<StatusCause> Causes => Status.Details?.Causes ?? [];
}

public sealed class BadRequestException(int statusCode, Status status) : KubeApiException(statusCode, status);

public sealed class MethodNotAllowedException(int statusCode, Status status) : KubeApiException(statusCode, status);

/// <summary>406: the server cannot answer in any media type (or conversion, e.g. PartialObjectMetadata) the request accepts.</summary>
public sealed class NotAcceptableException(int statusCode, Status status) : KubeApiException(statusCode, status);

public sealed class InternalErrorException(int statusCode, Status status) : KubeApiException(statusCode, status);

public sealed class ServiceUnavailableException(int statusCode, Status status) : KubeApiException(statusCode, status);

/// <summary>metav1.StatusReason values.</summary>
public static class StatusReasons
{
    public const string Unauthorized = "Unauthorized";
    public const string Forbidden = "Forbidden";
    public const string NotFound = "NotFound";
    public const string AlreadyExists = "AlreadyExists";
    public const string Conflict = "Conflict";
    public const string Gone = "Gone";
    public const string Invalid = "Invalid";
    public const string ServerTimeout = "ServerTimeout";
    public const string Timeout = "Timeout";
    public const string TooManyRequests = "TooManyRequests";
    public const string BadRequest = "BadRequest";
    public const string MethodNotAllowed = "MethodNotAllowed";
    public const string NotAcceptable = "NotAcceptable";
    public const string RequestEntityTooLarge = "RequestEntityTooLarge";
    public const string UnsupportedMediaType = "UnsupportedMediaType";
    public const string InternalError = "InternalError";
    public const string Expired = "Expired";
    public const string ServiceUnavailable = "ServiceUnavailable";
}

using System.Text;
using System.Text.Json;
using Kcm.Api;
using Kcm.Api.Meta.V1;

namespace Kcm.Client.Errors;

/// <summary>Maps API server failures to typed exceptions, like client-go's apierrors package.</summary>
public static class KubeApiErrors
{
    /// <summary>An error response: a metav1.Status body when the server sent one, otherwise a Status synthesized from the code.</summary>
    public static KubeApiException FromResponse(int httpCode, ReadOnlySpan<byte> body, TimeSpan? retryAfter = null)
    {
        var status = TryDecodeStatus(body);
        if (status is null || status.StatusValue == "Success")
        {
            status = StatusFromCode(httpCode, body);
        }
        return FromStatus(status, httpCode, retryAfter);
    }

    /// <summary>An exception for a Status object (e.g. from a watch ERROR event).</summary>
    public static KubeApiException FromStatus(Status status, int? httpCode = null, TimeSpan? retryAfter = null)
    {
        var code = status.Code is > 0 ? status.Code.Value : httpCode ?? 500;
        if (retryAfter is null && status.Details?.RetryAfterSeconds is > 0)
        {
            retryAfter = TimeSpan.FromSeconds(status.Details.RetryAfterSeconds.Value);
        }
        KubeApiException exception = (status.Reason ?? "") switch
        {
            StatusReasons.NotFound => new NotFoundException(code, status),
            StatusReasons.AlreadyExists => new AlreadyExistsException(code, status),
            StatusReasons.Conflict => new ConflictException(code, status),
            StatusReasons.Gone or StatusReasons.Expired => new GoneException(code, status),
            StatusReasons.Forbidden => new ForbiddenException(code, status),
            StatusReasons.Unauthorized => new UnauthorizedException(code, status),
            StatusReasons.TooManyRequests => new TooManyRequestsException(code, status),
            StatusReasons.ServerTimeout or StatusReasons.Timeout => new ServerTimeoutException(code, status),
            StatusReasons.Invalid => new InvalidException(code, status),
            StatusReasons.BadRequest => new BadRequestException(code, status),
            StatusReasons.MethodNotAllowed => new MethodNotAllowedException(code, status),
            StatusReasons.NotAcceptable => new NotAcceptableException(code, status),
            StatusReasons.InternalError => new InternalErrorException(code, status),
            StatusReasons.ServiceUnavailable => new ServiceUnavailableException(code, status),
            _ => FromCode(code, status),
        };
        exception.RetryAfter = retryAfter;
        return exception;
    }

    public static bool IsNotFound(Exception ex) => ex is NotFoundException;

    public static bool IsAlreadyExists(Exception ex) => ex is AlreadyExistsException;

    public static bool IsConflict(Exception ex) => ex is ConflictException;

    /// <summary>410 Gone or Expired: the resourceVersion is too old; relist.</summary>
    public static bool IsResourceExpired(Exception ex) => ex is GoneException;

    public static bool IsForbidden(Exception ex) => ex is ForbiddenException;

    public static bool IsInvalid(Exception ex) => ex is InvalidException;

    public static bool IsTooManyRequests(Exception ex) => ex is TooManyRequestsException;

    private static KubeApiException FromCode(int code, Status status) => code switch
    {
        400 => new BadRequestException(code, status),
        401 => new UnauthorizedException(code, status),
        403 => new ForbiddenException(code, status),
        404 => new NotFoundException(code, status),
        405 => new MethodNotAllowedException(code, status),
        406 => new NotAcceptableException(code, status),
        409 => new ConflictException(code, status),
        410 => new GoneException(code, status),
        422 => new InvalidException(code, status),
        429 => new TooManyRequestsException(code, status),
        500 => new InternalErrorException(code, status),
        503 => new ServiceUnavailableException(code, status),
        504 => new ServerTimeoutException(code, status),
        _ => new KubeApiException(code, status),
    };

    internal static Status? TryDecodeStatus(ReadOnlySpan<byte> body)
    {
        if (body.IsEmpty)
        {
            return null;
        }
        try
        {
            // The server answers errors in the negotiated type: a protobuf Status when protobuf was asked for.
            var status = Kcm.Api.Protobuf.ProtobufTranscoder.IsProtobuf(body)
                ? KubeJson.Deserialize<Status>(Kcm.Api.Protobuf.ProtobufTranscoder.ToJson(body))
                : KubeJson.Deserialize<Status>(body);
            return status is { Kind: "Status" } ? status : null;
        }
        catch (Exception ex) when (ex is JsonException or Kcm.Api.Protobuf.ProtobufDecodeException)
        {
            return null;
        }
    }

    /// <summary>client-go's newUnstructuredResponseError: a reason and message from the HTTP code, with the body text appended.</summary>
    private static Status StatusFromCode(int code, ReadOnlySpan<byte> body)
    {
        var (reason, message) = code switch
        {
            400 => (StatusReasons.BadRequest, "the server rejected our request for an unknown reason"),
            401 => (StatusReasons.Unauthorized, "the server has asked for the client to provide credentials"),
            403 => (StatusReasons.Forbidden, "the server does not allow access to the requested resource"),
            404 => (StatusReasons.NotFound, "the server could not find the requested resource"),
            405 => (StatusReasons.MethodNotAllowed, "the server does not allow this method on the requested resource"),
            406 => (StatusReasons.NotAcceptable, "the server was unable to respond with a content type that the client supports"),
            409 => (StatusReasons.Conflict, "the server reported a conflict"),
            410 => (StatusReasons.Gone, "the server no longer has the requested resource"),
            413 => (StatusReasons.RequestEntityTooLarge, "the server has rejected the request because it is too large"),
            415 => (StatusReasons.UnsupportedMediaType, "the server was unable to handle the media type of the request"),
            422 => (StatusReasons.Invalid, "the server rejected the request because it is invalid"),
            429 => (StatusReasons.TooManyRequests, "the server has received too many requests and has asked us to try again later"),
            500 => (StatusReasons.InternalError, "an error on the server has prevented the request from succeeding"),
            503 => (StatusReasons.ServiceUnavailable, "the server is currently unable to handle the request"),
            504 => (StatusReasons.Timeout, "the server was unable to return a response in the time allotted, but may still be processing the request"),
            _ => ("", $"an error on the server (HTTP {code}) has prevented the request from succeeding"),
        };
        var text = Encoding.UTF8.GetString(body.Length > 1024 ? body[..1024] : body).Trim();
        return new Status
        {
            Kind = "Status",
            ApiVersion = "v1",
            StatusValue = "Failure",
            Code = code,
            Reason = reason,
            Message = text.Length == 0 ? message : $"{message} ({text})",
        };
    }
}

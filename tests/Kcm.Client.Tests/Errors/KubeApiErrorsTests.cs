using System.Text;
using Kcm.Client.Errors;

namespace Kcm.Client.Tests.Errors;

public sealed class KubeApiErrorsTests
{
    private static string StatusJson(int code, string reason, string message, string details = """{"name":"web","kind":"configmaps"}""")
        => $$"""{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"{{message}}","reason":"{{reason}}","details":{{details}},"code":{{code}}}""";

    [Theory]
    [InlineData(404, "NotFound", typeof(NotFoundException))]
    [InlineData(409, "AlreadyExists", typeof(AlreadyExistsException))]
    [InlineData(409, "Conflict", typeof(ConflictException))]
    [InlineData(410, "Expired", typeof(GoneException))]
    [InlineData(410, "Gone", typeof(GoneException))]
    [InlineData(403, "Forbidden", typeof(ForbiddenException))]
    [InlineData(401, "Unauthorized", typeof(UnauthorizedException))]
    [InlineData(429, "TooManyRequests", typeof(TooManyRequestsException))]
    [InlineData(500, "ServerTimeout", typeof(ServerTimeoutException))]
    [InlineData(504, "Timeout", typeof(ServerTimeoutException))]
    [InlineData(422, "Invalid", typeof(InvalidException))]
    [InlineData(400, "BadRequest", typeof(BadRequestException))]
    [InlineData(405, "MethodNotAllowed", typeof(MethodNotAllowedException))]
    [InlineData(500, "InternalError", typeof(InternalErrorException))]
    [InlineData(503, "ServiceUnavailable", typeof(ServiceUnavailableException))]
    [InlineData(418, "Teapot", typeof(KubeApiException))]
    public void FromResponse_StatusBody_MapsReasonToType(int code, string reason, Type expected)
    {
        var ex = KubeApiErrors.FromResponse(code, Encoding.UTF8.GetBytes(StatusJson(code, reason, "boom")));

        Assert.IsType(expected, ex);
        Assert.Equal(code, ex.StatusCode);
        Assert.Equal(reason, ex.Reason);
        Assert.Equal("boom", ex.Message);
        Assert.Equal("web", ex.Status.Details?.Name);
    }

    [Fact]
    public void FromResponse_ConflictOnUpdate_CarriesServerMessage()
    {
        var body = StatusJson(409, "Conflict", "Operation cannot be fulfilled on configmaps \\\"web\\\": the object has been modified; please apply your changes to the latest version and try again");

        var ex = Assert.IsType<ConflictException>(KubeApiErrors.FromResponse(409, Encoding.UTF8.GetBytes(body)));

        Assert.Contains("the object has been modified", ex.Message);
        Assert.True(KubeApiErrors.IsConflict(ex));
    }

    [Fact]
    public void FromResponse_Invalid_ExposesCauses()
    {
        var body = StatusJson(422, "Invalid", "Secret \\\"X\\\" is invalid", """{"name":"X","kind":"Secret","causes":[{"reason":"FieldValueInvalid","message":"Invalid value: \"X\"","field":"metadata.name"}]}""");

        var ex = Assert.IsType<InvalidException>(KubeApiErrors.FromResponse(422, Encoding.UTF8.GetBytes(body)));

        var cause = Assert.Single(ex.Causes);
        Assert.Equal("metadata.name", cause.Field);
        Assert.Equal("FieldValueInvalid", cause.Reason);
    }

    [Fact]
    public void FromResponse_Expired_IsExpiredGone()
    {
        var ex = Assert.IsType<GoneException>(KubeApiErrors.FromResponse(410, Encoding.UTF8.GetBytes(StatusJson(410, "Expired", "too old resource version: 5 (90)"))));

        Assert.True(ex.IsExpired);
        Assert.True(KubeApiErrors.IsResourceExpired(ex));
    }

    [Theory]
    [InlineData(404, typeof(NotFoundException), "the server could not find the requested resource")]
    [InlineData(502, typeof(KubeApiException), "HTTP 502")]
    [InlineData(503, typeof(ServiceUnavailableException), "unable to handle the request")]
    [InlineData(409, typeof(ConflictException), "conflict")]
    public void FromResponse_NonStatusBody_UsesCodeAndKeepsBodyText(int code, Type expected, string messagePart)
    {
        var ex = KubeApiErrors.FromResponse(code, Encoding.UTF8.GetBytes("<html>upstream proxy says no</html>"));

        Assert.IsType(expected, ex);
        Assert.Equal(code, ex.StatusCode);
        Assert.Contains(messagePart, ex.Message);
        Assert.Contains("upstream proxy says no", ex.Message);
    }

    [Fact]
    public void FromResponse_EmptyBody_StillHasMessage()
    {
        var ex = KubeApiErrors.FromResponse(401, []);

        Assert.IsType<UnauthorizedException>(ex);
        Assert.Contains("credentials", ex.Message);
    }

    [Fact]
    public void FromResponse_RetryAfterDetails_SetsRetryAfter()
    {
        var body = StatusJson(429, "TooManyRequests", "slow down", """{"retryAfterSeconds":3}""");

        var ex = KubeApiErrors.FromResponse(429, Encoding.UTF8.GetBytes(body));

        Assert.Equal(TimeSpan.FromSeconds(3), ex.RetryAfter);
    }
}

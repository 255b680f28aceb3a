using System.Net;
using System.Text;

namespace Kcm.Client.Tests.Support;

public sealed record RecordedRequest(HttpMethod Method, Uri Uri, string? Body, string? ContentType, IReadOnlyDictionary<string, string> Headers)
{
    /// <summary>The body as sent (a protobuf body is not text).</summary>
    public byte[]? BodyBytes { get; init; }
}

/// <summary>Answers requests from a script of responders and records what was sent.</summary>
public sealed class StubHandler : HttpMessageHandler
{
    private readonly Queue<Func<RecordedRequest, HttpResponseMessage>> _responses = new();

    public List<RecordedRequest> Requests { get; } = [];

    /// <summary>Used when the script is exhausted.</summary>
    public Func<RecordedRequest, HttpResponseMessage>? Fallback { get; set; }

    public StubHandler Respond(HttpStatusCode code, string body, params (string Name, string Value)[] headers)
    {
        _responses.Enqueue(_ => Response(code, body, headers));
        return this;
    }

    public StubHandler Respond(Func<RecordedRequest, HttpResponseMessage> responder)
    {
        _responses.Enqueue(responder);
        return this;
    }

    public static HttpResponseMessage Response(HttpStatusCode code, string body, params (string Name, string Value)[] headers)
    {
        var response = new HttpResponseMessage(code) { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        foreach (var (name, value) in headers)
        {
            response.Headers.TryAddWithoutValidation(name, value);
        }
        return response;
    }

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var headers = request.Headers.ToDictionary(h => h.Key, h => string.Join(h.Key.Equals("User-Agent", StringComparison.OrdinalIgnoreCase) ? " " : ",", h.Value), StringComparer.OrdinalIgnoreCase);
        string? body = null;
        byte[]? bytes = null;
        string? contentType = null;
        if (request.Content is not null)
        {
            bytes = await request.Content.ReadAsByteArrayAsync(cancellationToken);
            body = Encoding.UTF8.GetString(bytes);
            contentType = request.Content.Headers.ContentType?.MediaType;
        }
        var recorded = new RecordedRequest(request.Method, request.RequestUri!, body, contentType, headers) { BodyBytes = bytes };
        Requests.Add(recorded);
        Func<RecordedRequest, HttpResponseMessage> responder;
        lock (_responses)
        {
            responder = _responses.Count > 0 ? _responses.Dequeue() : Fallback ?? (_ => Response(HttpStatusCode.NotImplemented, "no scripted response"));
        }
        var response = responder(recorded);
        response.RequestMessage = request;
        return response;
    }
}

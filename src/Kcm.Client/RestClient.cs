using System.Globalization;
using System.Net.Http.Headers;
using System.Text;
using Kcm.Client.Config;
using Kcm.Client.Errors;
using Kcm.Client.Flowcontrol;
using Kcm.Client.Observability;
using Kcm.Client.Transport;

namespace Kcm.Client;

/// <summary>
/// The HTTP layer shared by the typed, dynamic and discovery clients: rate limiting, authentication headers,
/// Retry-After retries, error mapping and metrics, as client-go's rest.Request does.
/// </summary>
public sealed class RestClient : IDisposable
{
    private readonly HttpClient _http;
    private readonly BearerTokenSource? _tokens;
    private readonly string? _basicAuth;
    private readonly string _baseUrl;
    private readonly string _userAgent;
    private readonly string _host;

    public RestClient(ClientConfig config, KubeClientOptions? options = null)
    {
        Config = config;
        Options = options ?? new KubeClientOptions();
        RateLimiter = Options.RateLimiter ?? TokenBucketRateLimiter.ForConfig(config, Options.TimeProvider);
        HttpMessageHandler handler = Options.Handler ?? Options.Transports?.Get(config) ?? KubeHttpHandlerFactory.Create(config);
        _http = new HttpClient(handler, disposeHandler: Options.Handler is null && Options.Transports is null) { Timeout = System.Threading.Timeout.InfiniteTimeSpan };
        if (!string.IsNullOrEmpty(config.BearerToken) || !string.IsNullOrEmpty(config.BearerTokenFile))
        {
            _tokens = new BearerTokenSource(config.BearerToken, config.BearerTokenFile, Options.TimeProvider);
        }
        if (config.Username is not null || config.Password is not null)
        {
            _basicAuth = Convert.ToBase64String(Encoding.UTF8.GetBytes($"{config.Username}:{config.Password}"));
        }
        // A server URL may carry a path prefix (e.g. behind a proxy); API paths are appended to it.
        _baseUrl = config.Server.GetLeftPart(UriPartial.Authority) + config.Server.AbsolutePath.TrimEnd('/');
        _userAgent = config.UserAgent ?? UserAgent.Default;
        _host = config.Server.Authority;
    }

    public ClientConfig Config { get; }

    public KubeClientOptions Options { get; }

    public IRateLimiter RateLimiter { get; }

    /// <summary>Sends a request and returns the body of a 2xx response; any other status throws a <see cref="KubeApiException"/>.</summary>
    public Task<byte[]> SendAsync(HttpMethod method, string pathAndQuery, ReadOnlyMemory<byte>? body, string? contentType, CancellationToken cancellationToken)
        => SendAsync(method, pathAndQuery, body, contentType, null, cancellationToken);

    /// <summary>As above with an Accept header other than application/json (e.g. a PartialObjectMetadata conversion).</summary>
    public async Task<byte[]> SendAsync(HttpMethod method, string pathAndQuery, ReadOnlyMemory<byte>? body, string? contentType, string? accept,
        CancellationToken cancellationToken)
    {
        using var timeout = Config.Timeout is { } t && t > TimeSpan.Zero
            ? new CancellationTokenSource(t, Options.TimeProvider)
            : null;
        using var linked = timeout is null ? null : CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token);
        var token = linked?.Token ?? cancellationToken;
        try
        {
            using var response = await SendWithRetriesAsync(method, pathAndQuery, body, contentType, accept, HttpCompletionOption.ResponseContentRead, token).ConfigureAwait(false);
            var bytes = await response.Content.ReadAsByteArrayAsync(token).ConfigureAwait(false);
            if (!response.IsSuccessStatusCode)
            {
                throw KubeApiErrors.FromResponse((int)response.StatusCode, bytes, RetryAfter(response));
            }
            return bytes;
        }
        catch (OperationCanceledException ex) when (timeout is not null && timeout.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            throw new TimeoutException($"{method} {pathAndQuery} did not complete within {Config.Timeout}", ex);
        }
        finally
        {
            // Failures too: the caller's error handling is its code as well.
            await LeaveSocketThread();
        }
    }

    /// <summary>
    /// With inline socket completions (Program) an HTTP/1.1 response completes on the socket engine's thread; the caller's
    /// code, a controller's sync, must not run there and hold up every other connection's reads. Watches stay on it on
    /// purpose: decoding and caching an event is short. HTTP/2 responses already arrive on pool threads: no hop then.
    /// </summary>
    private static async ValueTask LeaveSocketThread()
    {
        if (!Thread.CurrentThread.IsThreadPoolThread)
        {
            await Task.Yield();
        }
    }

    /// <summary>
    /// Sends a long-lived request (watch) and returns the response once its headers arrive; the caller reads and disposes it.
    /// No client timeout applies: the server ends the stream (timeoutSeconds) or the caller cancels.
    /// </summary>
    public Task<HttpResponseMessage> SendStreamingAsync(HttpMethod method, string pathAndQuery, CancellationToken cancellationToken)
        => SendStreamingAsync(method, pathAndQuery, null, cancellationToken);

    public async Task<HttpResponseMessage> SendStreamingAsync(HttpMethod method, string pathAndQuery, string? accept, CancellationToken cancellationToken)
    {
        var response = await SendWithRetriesAsync(method, pathAndQuery, null, null, accept, HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
        if (response.IsSuccessStatusCode)
        {
            return response;
        }
        using (response)
        {
            var bytes = await response.Content.ReadAsByteArrayAsync(cancellationToken).ConfigureAwait(false);
            throw KubeApiErrors.FromResponse((int)response.StatusCode, bytes, RetryAfter(response));
        }
    }

    private async Task<HttpResponseMessage> SendWithRetriesAsync(HttpMethod method, string pathAndQuery, ReadOnlyMemory<byte>? body, string? contentType, string? accept,
        HttpCompletionOption completion, CancellationToken cancellationToken)
    {
        var time = Options.TimeProvider;
        for (var attempt = 0; ; attempt++)
        {
            var waited = await RateLimiter.WaitAsync(cancellationToken).ConfigureAwait(false);
            Options.Metrics.RateLimiterLatency(method.Method, _host, waited);

            var providedToken = Options.TokenProvider is { } provider ? await provider.GetTokenAsync(cancellationToken).ConfigureAwait(false) : null;
            using var request = BuildRequest(method, pathAndQuery, body, contentType, accept, providedToken, streaming: completion == HttpCompletionOption.ResponseHeadersRead);
            var started = time.GetTimestamp();
            HttpResponseMessage response;
            try
            {
                response = await _http.SendAsync(request, completion, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is HttpRequestException or OperationCanceledException)
            {
                Options.Metrics.RequestLatency(method.Method, _host, time.GetElapsedTime(started));
                Options.Metrics.RequestCompleted("<error>", method.Method, _host);
                throw;
            }
            Options.Metrics.RequestLatency(method.Method, _host, time.GetElapsedTime(started));
            Options.Metrics.RequestCompleted(((int)response.StatusCode).ToString(CultureInfo.InvariantCulture), method.Method, _host);

            // client-go's checkWait: 429 or 5xx carrying Retry-After seconds is retried after sleeping that long.
            var code = (int)response.StatusCode;
            if (attempt < Options.MaxRetries && (code == 429 || code >= 500) && RetryAfter(response) is { } delay)
            {
                response.Dispose();
                if (delay > TimeSpan.Zero)
                {
                    await Task.Delay(delay, time, cancellationToken).ConfigureAwait(false);
                }
                continue;
            }
            return response;
        }
    }

    private HttpRequestMessage BuildRequest(HttpMethod method, string pathAndQuery, ReadOnlyMemory<byte>? body, string? contentType, string? accept,
        string? providedToken, bool streaming)
    {
        var request = new HttpRequestMessage(method, _baseUrl + pathAndQuery);
        if (Config.PreferHttp2 && !(streaming && Config.WatchOverHttp1))
        {
            request.Version = System.Net.HttpVersion.Version20;
            request.VersionPolicy = HttpVersionPolicy.RequestVersionOrLower;
        }
        if (accept is null)
        {
            request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
        }
        else
        {
            // Taken as given: media type parameters such as as=PartialObjectMetadata must reach the server unchanged.
            request.Headers.TryAddWithoutValidation("Accept", accept);
        }
        request.Headers.TryAddWithoutValidation("User-Agent", _userAgent);
        if ((providedToken ?? _tokens?.GetToken()) is { Length: > 0 } token)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }
        else if (_basicAuth is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Basic", _basicAuth);
        }
        if (body is { } content)
        {
            request.Content = new ReadOnlyMemoryContent(content);
            request.Content.Headers.ContentType = new MediaTypeHeaderValue(contentType ?? "application/json");
        }
        return request;
    }

    /// <summary>Whole seconds from Retry-After, as client-go reads it (HTTP-date forms are ignored).</summary>
    private static TimeSpan? RetryAfter(HttpResponseMessage response)
    {
        if (response.Headers.TryGetValues("Retry-After", out var values)
            && int.TryParse(values.FirstOrDefault(), NumberStyles.None, CultureInfo.InvariantCulture, out var seconds))
        {
            return TimeSpan.FromSeconds(seconds);
        }
        return null;
    }

    public void Dispose() => _http.Dispose();
}

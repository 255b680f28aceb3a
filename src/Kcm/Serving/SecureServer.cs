using System.Net;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using Kcm.Runtime.Metrics;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.AspNetCore.Server.Kestrel.Https;
using Microsoft.AspNetCore.Server.Kestrel.Transport.Sockets;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;

namespace Kcm.Serving;

public sealed record SecureServingSettings
{
    public required IPAddress BindAddress { get; init; }

    /// <summary>0 picks a free port (tests, the dev command).</summary>
    public required int Port { get; init; }

    /// <summary>Null serves plain HTTP: only for the deprecated insecure port (--port/--address).</summary>
    public required X509Certificate2? Certificate { get; init; }

    /// <summary>--tls-min-version and --tls-cipher-suites.</summary>
    public TlsServingPolicy Tls { get; init; } = TlsServingPolicy.Default;

    /// <summary>--tls-sni-cert-key: certificates chosen by the host name the client asks for; the most specific wins.</summary>
    public IReadOnlyList<SniCertificate> SniCertificates { get; init; } = [];

    /// <summary>--http2-max-streams-per-connection; 0 keeps Go's default of 250, which upstream serves with.</summary>
    public int Http2MaxStreamsPerConnection { get; init; }

    /// <summary>--permit-address-sharing (SO_REUSEADDR) and --permit-port-sharing (SO_REUSEPORT).</summary>
    public bool ReuseAddress { get; init; }

    public bool ReusePort { get; init; }

    /// <summary>The flag that names the port, for a listener that cannot be created.</summary>
    public string PortFlag { get; init; } = "--secure-port";
}

/// <summary>
/// The controller manager's secure port: /healthz, /livez, /readyz (with per-check paths and
/// ?verbose), /metrics and /configz behind delegated authentication and authorization, with the TLS versions and
/// suites of <see cref="TlsServingPolicy"/>. A port that cannot be bound fails the start with upstream's one line.
/// </summary>
public sealed class SecureServer : IAsyncDisposable
{
    private readonly WebApplication _app;

    private SecureServer(WebApplication app, int port)
    {
        _app = app;
        Port = port;
    }

    public int Port { get; }

    public static async Task<SecureServer> StartAsync(SecureServingSettings settings, DelegatingAuthenticator authenticator,
        DelegatingAuthorizer authorizer, HealthChecks health, MetricsRegistry metrics, Func<object> configz, ILoggerFactory loggers,
        CancellationToken ct)
    {
        var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions());
        builder.Services.AddLogging();
        builder.Services.Replace(ServiceDescriptor.Singleton(loggers));
        builder.WebHost.UseKestrelCore();
        builder.WebHost.UseSockets(sockets => sockets.CreateBoundListenSocket = endpoint => BindListenSocket(endpoint, settings));
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            kestrel.Limits.Http2.MaxStreamsPerConnection = settings.Http2MaxStreamsPerConnection > 0 ? settings.Http2MaxStreamsPerConnection : 250;
            kestrel.Listen(settings.BindAddress, settings.Port, listen =>
            {
                if (settings.Certificate == null)
                {
                    listen.Protocols = HttpProtocols.Http1;
                    return;
                }
                listen.Protocols = HttpProtocols.Http1AndHttp2;
                listen.UseHttps(new HttpsConnectionAdapterOptions
                {
                    ServerCertificate = settings.Certificate,
                    ServerCertificateSelector = settings.SniCertificates.Count == 0 ? null : (_, host) => SelectCertificate(settings, host),
                    SslProtocols = settings.Tls.Protocols,
                    ClientCertificateMode = ClientCertificateMode.AllowCertificate,
                    // Chains are checked by the authenticator against the configured CAs, not the system store.
                    ClientCertificateValidation = (_, _, _) => true,
                    OnAuthenticate = (_, ssl) => settings.Tls.Apply(ssl),
                });
            });
        });
        var app = builder.Build();
        var handler = new Handler(authenticator, authorizer, health, metrics, configz);
        app.Run(handler.HandleAsync);
        try
        {
            await app.StartAsync(ct);
        }
        catch (IOException e)
        {
            await app.DisposeAsync();
            throw new Kcm.Startup.StartupException(ListenError(settings, e), e);
        }
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        var port = new Uri(address.Replace("[::]", "localhost", StringComparison.Ordinal).Replace("0.0.0.0", "localhost", StringComparison.Ordinal)).Port;
        return new SecureServer(app, port);
    }

    public ValueTask DisposeAsync() => _app.DisposeAsync();

    // Exact names before wildcards, as upstream's SNI lookup; the default certificate otherwise.
    private static X509Certificate2? SelectCertificate(SecureServingSettings settings, string? host)
    {
        if (string.IsNullOrEmpty(host)) return settings.Certificate;
        return settings.SniCertificates.FirstOrDefault(c => c.Names.Contains(host, StringComparer.OrdinalIgnoreCase))?.Certificate
            ?? settings.SniCertificates.FirstOrDefault(c => c.Serves(host))?.Certificate
            ?? settings.Certificate;
    }

    private static Socket BindListenSocket(EndPoint endpoint, SecureServingSettings settings)
    {
        if (!settings.ReuseAddress && !settings.ReusePort) return SocketTransportOptions.CreateDefaultBoundListenSocket(endpoint);
        var ip = (IPEndPoint)endpoint;
        var socket = new Socket(ip.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            if (ip.Address.Equals(IPAddress.IPv6Any)) socket.DualMode = true;
            if (settings.ReuseAddress) socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
            // SO_REUSEPORT (15 at SOL_SOCKET on Linux) has no managed name.
            if (settings.ReusePort && OperatingSystem.IsLinux()) socket.SetRawSocketOption(1, 15, BitConverter.GetBytes(1));
            socket.Bind(ip);
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    // Go's wording ("listen tcp 0.0.0.0:10257: bind: address already in use"), naming the flag.
    private static string ListenError(SecureServingSettings settings, IOException e)
    {
        var address = settings.BindAddress.AddressFamily == AddressFamily.InterNetworkV6 ? $"[{settings.BindAddress}]" : settings.BindAddress.ToString();
        var endpoint = $"{address}:{settings.Port}";
        var socket = e.InnerException as SocketException ?? e.InnerException?.InnerException as SocketException;
        var reason = e.InnerException is Microsoft.AspNetCore.Connections.AddressInUseException || socket?.SocketErrorCode == SocketError.AddressAlreadyInUse
            ? "bind: address already in use"
            : socket?.SocketErrorCode == SocketError.AccessDenied ? "bind: permission denied"
            : socket?.SocketErrorCode == SocketError.AddressNotAvailable ? "bind: cannot assign requested address"
            : (e.InnerException ?? e).Message;
        return $"{settings.PortFlag} {settings.Port}: failed to create listener: failed to listen on {endpoint}: listen tcp {endpoint}: {reason}";
    }

    private sealed class Handler(DelegatingAuthenticator authenticator, DelegatingAuthorizer authorizer, HealthChecks health,
        MetricsRegistry metrics, Func<object> configz)
    {
        private static readonly string[] HealthEndpoints = ["healthz", "livez", "readyz"];

        public async Task HandleAsync(HttpContext context)
        {
            var ct = context.RequestAborted;
            var path = context.Request.Path.Value ?? "/";
            var user = await authenticator.AuthenticateAsync(context, ct);
            if (!authorizer.IsAlwaysAllowed(path))
            {
                if (user == null)
                {
                    await WriteStatusAsync(context, 401, "Unauthorized", "Unauthorized");
                    return;
                }
                var verb = context.Request.Method.ToLowerInvariant();
                if (await authorizer.AuthorizeAsync(user, verb, path, ct) != AuthorizationDecision.Allow)
                {
                    // As upstream's WithAuthorization: a metav1.Status naming the user, the verb and the path.
                    await WriteStatusAsync(context, 403, "Forbidden", $"forbidden: User \"{user.Name}\" cannot {verb} path \"{path}\"");
                    return;
                }
            }
            if (context.Request.Method != "GET" && context.Request.Method != "HEAD")
            {
                await WriteAsync(context, 405, "Method Not Allowed\n");
                return;
            }
            var segments = path.Trim('/').Split('/');
            if (HealthEndpoints.Contains(segments[0]) && segments.Length <= 2)
            {
                var query = context.Request.Query;
                var (status, body) = await health.EvaluateAsync(segments[0], segments.Length == 2 ? segments[1] : null,
                    query.ContainsKey("verbose"), query["exclude"].Select(v => v ?? "").ToHashSet(), ct);
                await WriteAsync(context, status, body);
                return;
            }
            switch (path)
            {
                case "/metrics":
                    await WriteAsync(context, 200, metrics.Render(), "text/plain; version=0.0.4; charset=utf-8");
                    return;
                case "/configz":
                    context.Response.StatusCode = 200;
                    context.Response.ContentType = "application/json";
                    await context.Response.WriteAsync(JsonSerializer.Serialize(configz(), ConfigzJson.Default.Object), ct);
                    return;
                default:
                    await WriteAsync(context, 404, "404 page not found\n");
                    return;
            }
        }

        private static Task WriteStatusAsync(HttpContext context, int status, string reason, string message)
        {
            var body = new System.Text.Json.Nodes.JsonObject
            {
                ["kind"] = "Status",
                ["apiVersion"] = "v1",
                ["metadata"] = new System.Text.Json.Nodes.JsonObject(),
                ["status"] = "Failure",
                ["message"] = message,
                ["reason"] = reason,
                ["details"] = new System.Text.Json.Nodes.JsonObject(),
                ["code"] = status,
            };
            if (status == 401) body.Remove("details");
            context.Response.Headers["X-Content-Type-Options"] = "nosniff";
            // As apimachinery: quotes escaped as \" (not \u0022), and indented for curl and wget, which it pretty-prints for.
            var agent = context.Request.Headers.UserAgent.ToString();
            var pretty = agent.StartsWith("curl", StringComparison.Ordinal) || agent.StartsWith("Wget", StringComparison.Ordinal) || context.Request.Query.ContainsKey("pretty");
            var json = body.ToJsonString(new System.Text.Json.JsonSerializerOptions
            {
                Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
                WriteIndented = pretty,
                IndentSize = 2,
            });
            return WriteAsync(context, status, json + "\n", "application/json");
        }

        private static async Task WriteAsync(HttpContext context, int status, string body, string contentType = "text/plain; charset=utf-8")
        {
            context.Response.StatusCode = status;
            context.Response.ContentType = contentType;
            context.Response.Headers["X-Content-Type-Options"] = "nosniff";
            await context.Response.WriteAsync(body, context.RequestAborted);
        }
    }
}

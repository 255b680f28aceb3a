using Kcm.Api.Security;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using Kcm.Client.Config;

namespace Kcm.Client.Transport;

/// <summary>
/// Builds the transport for a <see cref="ClientConfig"/>: CA-bundle-only trust, hostname checks, mTLS, and client-go's
/// connection behaviour. HTTP/2 is negotiated by ALPN when the request asks for it (see RestClient) and the server
/// offers it; otherwise, and always over plain http, requests use HTTP/1.1.
/// </summary>
public static class KubeHttpHandlerFactory
{
    /// <summary>client-go's dialer: 30 s to connect, TCP keep-alive probes every 30 s.</summary>
    public static readonly TimeSpan DialTimeout = TimeSpan.FromSeconds(30);
    public static readonly TimeSpan TcpKeepAlive = TimeSpan.FromSeconds(30);

    public static SocketsHttpHandler Create(ClientConfig config) => Create(config, Http2Settings.FromEnvironment);

    public static SocketsHttpHandler Create(ClientConfig config, Http2Settings http2)
    {
        var keepAlive = KeepAliveFor(http2);
        var handler = new SocketsHttpHandler
        {
            // Go's http.Transport closes connections idle for 90 s; watches keep theirs busy.
            PooledConnectionIdleTimeout = TimeSpan.FromSeconds(90),
            ConnectTimeout = DialTimeout,
            ConnectCallback = (context, cancellationToken) => ConnectAsync(context, keepAlive, cancellationToken),
            // client-go's HTTP/2 health check: a PING after ReadIdleTimeout without a frame, and the connection (every
            // watch on it) fails when the PING goes unanswered for PingTimeout. Go checks idle connections too.
            KeepAlivePingPolicy = HttpKeepAlivePingPolicy.Always,
            KeepAlivePingDelay = http2.ReadIdleTimeout > TimeSpan.Zero ? http2.ReadIdleTimeout : Timeout.InfiniteTimeSpan,
            KeepAlivePingTimeout = http2.PingTimeout,
            // Go's transport (StrictMaxConcurrentStreams=false, client-go's setting) dials another connection once every
            // stream the server allows is busy (kube-apiserver: 250). With one connection only, request 251 would wait
            // for a watch to end, minutes, and writes would queue behind watches; so a second connection opens instead.
            EnableMultipleHttp2Connections = true,
            AutomaticDecompression = System.Net.DecompressionMethods.GZip,
            UseCookies = false,
            AllowAutoRedirect = false,
        };

        var expectedName = string.IsNullOrEmpty(config.TlsServerName) ? config.Server.IdnHost : config.TlsServerName;
        var validator = new ServerCertificateValidator(config.CertificateAuthorities, expectedName, config.InsecureSkipTlsVerify);
        handler.SslOptions.RemoteCertificateValidationCallback = validator.Validate;

        if (config.ClientCertificate is { } clientCertificate)
        {
            handler.SslOptions.ClientCertificates = [clientCertificate];
            // Present the certificate whatever issuers the server advertises, as Go's TLS client does with one certificate.
            handler.SslOptions.LocalCertificateSelectionCallback = (_, _, _, _, _) => clientCertificate;
        }
        return handler;
    }

    /// <summary>TCP keep-alive probing: when, how often, how many unanswered probes end the connection.</summary>
    public readonly record struct KeepAlive(TimeSpan Idle, TimeSpan Interval, int? Probes);

    /// <summary>
    /// Go's dialer probes after 30 s idle, every 30 s, as many times as the kernel's default. HTTP/1.1 connections (the
    /// watches, see ClientConfig.WatchOverHttp1) have no HTTP/2 PING, so while that health check is on their probes
    /// keep its time instead: after its read-idle time, three probes within its ping timeout.
    /// </summary>
    public static KeepAlive KeepAliveFor(Http2Settings http2)
    {
        if (!http2.Enabled || http2.ReadIdleTimeout <= TimeSpan.Zero)
        {
            return new KeepAlive(TcpKeepAlive, TcpKeepAlive, null);
        }
        const int probes = 3;
        var interval = TimeSpan.FromSeconds(Math.Max(1, (int)(http2.PingTimeout.TotalSeconds / probes)));
        return new KeepAlive(TimeSpan.FromSeconds(Math.Max(1, (int)Math.Ceiling(http2.ReadIdleTimeout.TotalSeconds))), interval, probes);
    }

    private static async ValueTask<Stream> ConnectAsync(SocketsHttpConnectionContext context, KeepAlive keepAlive, CancellationToken cancellationToken)
    {
        // Without TCP keep-alive a half-dead HTTP/1.1 watch (no HTTP/2 PING there) would hang until the kernel gives up.
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.KeepAlive, true);
            socket.SetSocketOption(SocketOptionLevel.Tcp, SocketOptionName.TcpKeepAliveTime, (int)keepAlive.Idle.TotalSeconds);
            socket.SetSocketOption(SocketOptionLevel.Tcp, SocketOptionName.TcpKeepAliveInterval, (int)keepAlive.Interval.TotalSeconds);
            if (keepAlive.Probes is { } probes)
            {
                socket.SetSocketOption(SocketOptionLevel.Tcp, SocketOptionName.TcpKeepAliveRetryCount, probes);
            }
            await socket.ConnectAsync(context.DnsEndPoint, cancellationToken).ConfigureAwait(false);
            return new NetworkStream(socket, ownsSocket: true);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }
}

/// <summary>Verifies the server certificate against the configured CA bundle only, and its SANs against the expected name.</summary>
public sealed class ServerCertificateValidator(IReadOnlyList<X509Certificate2> authorities, string expectedName, bool insecure)
{
    public bool Validate(object sender, X509Certificate? certificate, X509Chain? chain, SslPolicyErrors errors)
    {
        if (insecure)
        {
            return true;
        }
        if (certificate is null)
        {
            return false;
        }
        var owned = certificate is X509Certificate2 ? null : X509CertificateLoader.LoadCertificate(certificate.GetRawCertData());
        using var ownedScope = owned;
        var serverCertificate = owned ?? (X509Certificate2)certificate;

        // Go does not fall back to the subject CN; only DNS and IP SANs count.
        if (!serverCertificate.MatchesHostname(expectedName, allowWildcards: true, allowCommonName: false))
        {
            return false;
        }

        if (authorities.Count == 0)
        {
            // System trust: accept what the platform chain validation accepted, ignoring its own name check (done above).
            return (errors & ~SslPolicyErrors.RemoteCertificateNameMismatch) == SslPolicyErrors.None;
        }

        // Intermediates the server sent along (SslStream puts them in the extra store). Like Go, the
        // serverAuth usage is required when the certificate names usages.
        var intermediates = chain is null ? [] : chain.ChainPolicy.ExtraStore.Cast<X509Certificate2>()
            .Concat(chain.ChainElements.Select(e => e.Certificate)).ToList();
        return CertificateChains.IsTrusted(serverCertificate, authorities, CertificateChains.ServerAuth, intermediates);
    }
}

using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Kcm.Client.Config;

namespace Kcm.Client.Transport;

/// <summary>
/// client-go's TLS transport cache: clients whose TLS settings are equal get the same handler, so one HTTP/2 connection
/// carries every request and watch of all of them (the controller manager builds one client per controller; with
/// --use-service-account-credentials they differ only in bearer token). Authentication, rate limiting and the user agent
/// are per request and stay with each client. The cache owns the handlers: it closes their connections when disposed.
/// </summary>
public sealed class TransportCache(Http2Settings? http2 = null) : IDisposable
{
    private readonly Http2Settings _http2 = http2 ?? Http2Settings.FromEnvironment;
    private readonly Lock _gate = new();
    private readonly Dictionary<Key, SocketsHttpHandler> _handlers = [];
    private bool _disposed;

    /// <summary>Handlers created so far, one per distinct TLS configuration.</summary>
    public int Count
    {
        get
        {
            lock (_gate) return _handlers.Count;
        }
    }

    public HttpMessageHandler Get(ClientConfig config)
    {
        var key = Key.For(config);
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (!_handlers.TryGetValue(key, out var handler))
            {
                handler = KubeHttpHandlerFactory.Create(config, _http2);
                _handlers[key] = handler;
            }
            return handler;
        }
    }

    public void Dispose()
    {
        List<SocketsHttpHandler> handlers;
        lock (_gate)
        {
            if (_disposed) return;
            _disposed = true;
            handlers = [.. _handlers.Values];
            _handlers.Clear();
        }
        foreach (var handler in handlers) handler.Dispose();
    }

    /// <summary>
    /// What the handler's TLS depends on, as client-go's tlsCacheKey: trust roots, client certificate, the name the server
    /// certificate must carry, and whether verification is off. Certificates compare by content; a certificate fixes its
    /// key pair, so the private key needs no part of its own.
    /// </summary>
    private readonly record struct Key(bool Insecure, string Authorities, string ClientCertificate, string ServerName)
    {
        public static Key For(ClientConfig config) => new(
            config.InsecureSkipTlsVerify,
            string.Join(',', config.CertificateAuthorities.Select(Fingerprint)),
            config.ClientCertificate is { } certificate ? Fingerprint(certificate) : "",
            string.IsNullOrEmpty(config.TlsServerName) ? config.Server.IdnHost : config.TlsServerName);

        private static string Fingerprint(X509Certificate2 certificate) => certificate.GetCertHashString(HashAlgorithmName.SHA256);
    }
}

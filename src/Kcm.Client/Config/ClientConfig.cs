using System.Security.Cryptography.X509Certificates;

namespace Kcm.Client.Config;

/// <summary>
/// Everything needed to talk to one API server, the equivalent of client-go's rest.Config.
/// Immutable: derive variants with <c>with</c>.
/// </summary>
public sealed record ClientConfig
{
    /// <summary>client-go's DefaultQPS / DefaultBurst, used when QPS or Burst is 0.</summary>
    public const float DefaultQps = 5;
    public const int DefaultBurst = 10;

    public required Uri Server { get; init; }

    /// <summary>Roots to trust for the server certificate; empty means the system trust store.</summary>
    public IReadOnlyList<X509Certificate2> CertificateAuthorities { get; init; } = [];

    /// <summary>Client certificate with its private key for mTLS.</summary>
    public X509Certificate2? ClientCertificate { get; init; }

    public string? BearerToken { get; init; }

    /// <summary>When set, the token is re-read from this file periodically so rotated tokens are picked up.</summary>
    public string? BearerTokenFile { get; init; }

    public string? Username { get; init; }

    public string? Password { get; init; }

    /// <summary>Name to verify the server certificate against instead of the server URL's host.</summary>
    public string? TlsServerName { get; init; }

    public bool InsecureSkipTlsVerify { get; init; }

    /// <summary>Requests per second; 0 means <see cref="DefaultQps"/>, negative disables client-side rate limiting.</summary>
    public float Qps { get; init; }

    /// <summary>Token bucket size; 0 means <see cref="DefaultBurst"/>.</summary>
    public int Burst { get; init; }

    /// <summary>Null means <see cref="Transport.UserAgent.Default"/>.</summary>
    public string? UserAgent { get; init; }

    /// <summary>Per-request timeout for non-watch requests; null or zero means none (client-go's default).</summary>
    public TimeSpan? Timeout { get; init; }

    /// <summary>Namespace from the kubeconfig context or the service account's namespace file, if any.</summary>
    public string? Namespace { get; init; }

    /// <summary>
    /// Offer HTTP/2 (falls back to HTTP/1.1 when the server does not negotiate it, and over plain http); on unless
    /// DISABLE_HTTP2 is set, as client-go.
    /// </summary>
    public bool PreferHttp2 { get; init; } = Transport.Http2Settings.FromEnvironment.Enabled;

    /// <summary>
    /// Watches take an HTTP/1.1 connection of their own even when other requests share HTTP/2. A watch event then needs
    /// one thread: the one its socket wakes reads, decodes and caches it. Over HTTP/2 the connection's frame loop hands
    /// every event to the stream's reader on another pool thread. With 1,000 nodes' Lease renewals that hop was about a
    /// tenth of the steady-state CPU. Dead peers are still found in the HTTP/2 health check's time, by TCP keep-alive.
    /// </summary>
    public bool WatchOverHttp1 { get; init; } = true;

    /// <summary>rest.Config's ContentType: "application/vnd.kubernetes.protobuf" for built-in kinds in protobuf; null or JSON otherwise.</summary>
    public string? ContentType { get; init; }

    /// <summary>Where this configuration came from, used in messages.</summary>
    public string? SourceDescription { get; init; }

    public float EffectiveQps => Qps == 0 ? DefaultQps : Qps;

    public int EffectiveBurst => Burst == 0 ? DefaultBurst : Burst;
}

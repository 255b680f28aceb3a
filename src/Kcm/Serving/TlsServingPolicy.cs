using System.Net.Security;
using System.Security.Authentication;

namespace Kcm.Serving;

/// <summary>
/// --tls-min-version and --tls-cipher-suites as Go's crypto/tls applies them to the secure port: TLS 1.2 is the
/// floor unless a lower version is asked for; the listed suites restrict TLS 1.0-1.2 only, because Go does not let
/// TLS 1.3 suites be configured (all three stay on whatever the list says).
/// </summary>
public sealed record TlsServingPolicy(SslProtocols Protocols, IReadOnlyList<TlsCipherSuite>? CipherSuites)
{
    public static TlsServingPolicy Default { get; } = new(SslProtocols.Tls12 | SslProtocols.Tls13, null);

    private static readonly TlsCipherSuite[] Tls13Suites =
    [
        TlsCipherSuite.TLS_AES_128_GCM_SHA256, TlsCipherSuite.TLS_AES_256_GCM_SHA384, TlsCipherSuite.TLS_CHACHA20_POLY1305_SHA256,
    ];

    /// <summary>From upstream's flag values; names were validated before (unknown ones are skipped here).</summary>
    public static TlsServingPolicy FromFlags(string minVersion, IReadOnlyList<string> cipherSuites)
    {
#pragma warning disable SYSLIB0039 // TLS 1.0/1.1 only when the operator asks for them, as upstream allows.
        var protocols = minVersion switch
        {
            "VersionTLS10" => SslProtocols.Tls | SslProtocols.Tls11 | SslProtocols.Tls12 | SslProtocols.Tls13,
            "VersionTLS11" => SslProtocols.Tls11 | SslProtocols.Tls12 | SslProtocols.Tls13,
            "VersionTLS13" => SslProtocols.Tls13,
            _ => SslProtocols.Tls12 | SslProtocols.Tls13,
        };
#pragma warning restore SYSLIB0039
        if (cipherSuites.Count == 0) return new(protocols, null);
        var suites = new List<TlsCipherSuite>();
        foreach (var name in cipherSuites)
        {
            if (TryMap(name, out var suite) && !Tls13Suites.Contains(suite) && !suites.Contains(suite)) suites.Add(suite);
        }
        suites.AddRange(Tls13Suites);
        return new(protocols, suites);
    }

    // Go's names are IANA's except its short aliases for the ChaCha20 suites.
    private static bool TryMap(string goName, out TlsCipherSuite suite)
    {
        var name = goName switch
        {
            "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305" => "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
            "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305" => "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
            _ => goName,
        };
        return Enum.TryParse(name, ignoreCase: false, out suite) && Enum.IsDefined(suite);
    }

    /// <summary>Applies the policy to one TLS handshake's options (CipherSuitesPolicy needs OpenSSL, i.e. Linux).</summary>
    public void Apply(SslServerAuthenticationOptions options)
    {
        options.EnabledSslProtocols = Protocols;
        if (CipherSuites != null && !OperatingSystem.IsWindows()) options.CipherSuitesPolicy = new CipherSuitesPolicy(CipherSuites);
    }
}

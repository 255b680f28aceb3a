using Kcm.Api.Security;
using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using Kcm.Client.Config;

namespace Kcm.Client.Transport;

/// <summary>Builds the HTTPS transport for a <see cref="ClientConfig"/>: CA-bundle-only trust, hostname checks, mTLS.</summary>
public static class KubeHttpHandlerFactory
{
    public static SocketsHttpHandler Create(ClientConfig config)
    {
        var handler = new SocketsHttpHandler
        {
            // Watches hold connections open for minutes; idle pooled connections are recycled as usual.
            PooledConnectionIdleTimeout = TimeSpan.FromSeconds(90),
            ConnectTimeout = TimeSpan.FromSeconds(30),
            KeepAlivePingPolicy = HttpKeepAlivePingPolicy.WithActiveRequests,
            KeepAlivePingDelay = TimeSpan.FromSeconds(30),
            KeepAlivePingTimeout = TimeSpan.FromSeconds(15),
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

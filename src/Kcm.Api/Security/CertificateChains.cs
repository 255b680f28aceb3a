using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Kcm.Api.Security;

/// <summary>
/// Verifies a certificate against a cluster's own CA bundle (never the system store) for one usage,
/// as Go's x509.Verify with explicit roots: no revocation checks, no fetching of intermediates.
/// Shared by the client (server certificates), the embedded API server and the secure port (client certificates).
/// </summary>
public static class CertificateChains
{
    public const string ServerAuth = "1.3.6.1.5.5.7.3.1";
    public const string ClientAuth = "1.3.6.1.5.5.7.3.2";

    public static bool IsTrusted(X509Certificate2 certificate, IEnumerable<X509Certificate2> roots, string usage,
        IEnumerable<X509Certificate2>? intermediates = null)
    {
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        chain.ChainPolicy.DisableCertificateDownloads = true;
        chain.ChainPolicy.ApplicationPolicy.Add(new Oid(usage));
        foreach (var root in roots) chain.ChainPolicy.CustomTrustStore.Add(root);
        if (intermediates != null)
        {
            foreach (var intermediate in intermediates) chain.ChainPolicy.ExtraStore.Add(intermediate);
        }
        return chain.Build(certificate);
    }
}

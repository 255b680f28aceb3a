using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Kcm.Client.Config;

/// <summary>Turns PEM text into certificates usable by SslStream.</summary>
public static class PemLoader
{
    /// <summary>All CERTIFICATE blocks of a CA bundle.</summary>
    /// <exception cref="FormatException">No certificate could be read.</exception>
    public static IReadOnlyList<X509Certificate2> LoadCertificateBundle(string pem)
    {
        var collection = new X509Certificate2Collection();
        try
        {
            collection.ImportFromPem(pem);
        }
        catch (CryptographicException ex)
        {
            throw new FormatException($"invalid PEM certificate data: {ex.Message}", ex);
        }
        if (collection.Count == 0)
        {
            throw new FormatException("no PEM CERTIFICATE block found");
        }
        return [.. collection];
    }

    /// <summary>
    /// The first certificate of <paramref name="certificatePem"/> joined with the key of <paramref name="keyPem"/>
    /// (RSA PRIVATE KEY, EC PRIVATE KEY or PRIVATE KEY). Round-tripped through PKCS#12 because on Linux
    /// SslStream cannot present a certificate whose key is only an ephemeral in-memory handle.
    /// </summary>
    /// <exception cref="FormatException">The PEM is malformed or the key does not match the certificate.</exception>
    public static X509Certificate2 LoadClientCertificate(string certificatePem, string keyPem)
    {
        X509Certificate2 ephemeral;
        try
        {
            ephemeral = X509Certificate2.CreateFromPem(certificatePem, keyPem);
        }
        catch (CryptographicException ex)
        {
            throw new FormatException($"invalid client certificate or key PEM: {ex.Message}", ex);
        }
        catch (ArgumentException ex)
        {
            throw new FormatException($"invalid client certificate or key PEM: {ex.Message}", ex);
        }
        using (ephemeral)
        {
            var pkcs12 = ephemeral.Export(X509ContentType.Pkcs12);
            return X509CertificateLoader.LoadPkcs12(pkcs12, password: null, X509KeyStorageFlags.Exportable);
        }
    }
}

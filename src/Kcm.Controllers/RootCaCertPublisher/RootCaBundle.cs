using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Kcm.Client.Config;

namespace Kcm.Controllers.RootCaCertPublisher;

/// <summary>--root-ca-file cannot be read or holds no certificates.</summary>
public sealed class RootCaFileException(string path, string detail) : Exception($"error parsing root-ca-file at {path}: {detail}");

/// <summary>
/// The CA bundle published to namespaces and put into token Secrets: --root-ca-file verbatim once it parses as
/// PEM certificates (upstream's readCA), or else the CA the controller manager's own client trusts.
/// </summary>
public static class RootCaBundle
{
    public static byte[] ReadFile(string path)
    {
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new RootCaFileException(path, e.Message);
        }
        var text = Encoding.UTF8.GetString(bytes);
        var rest = text.AsSpan();
        var found = 0;
        while (PemEncoding.TryFind(rest, out var fields))
        {
            var label = rest[fields.Label].ToString();
            var base64 = rest[fields.Base64Data].ToString();
            rest = rest[fields.Location.End..];
            if (label != "CERTIFICATE") continue;
            try
            {
                using var cert = X509CertificateLoader.LoadCertificate(Convert.FromBase64String(base64));
            }
            catch (Exception e) when (e is CryptographicException or FormatException)
            {
                throw new RootCaFileException(path, e.Message);
            }
            found++;
        }
        // certutil.ParseCertsPEM's error when no certificate block is present.
        if (found == 0) throw new RootCaFileException(path, "data does not contain any valid RSA or ECDSA certificates");
        return bytes;
    }

    /// <summary>The client's trusted CAs as PEM (upstream uses the rest config's CAData); empty when it has none.</summary>
    public static byte[] FromClientConfig(ClientConfig config)
    {
        var sb = new StringBuilder();
        foreach (var ca in config.CertificateAuthorities)
        {
            sb.Append(ca.ExportCertificatePem()).Append('\n');
        }
        return Encoding.ASCII.GetBytes(sb.ToString());
    }

    /// <summary>--root-ca-file when set, else the client's CA.</summary>
    public static byte[] Resolve(string rootCaFile, ClientConfig clientConfig)
        => rootCaFile.Length > 0 ? ReadFile(rootCaFile) : FromClientConfig(clientConfig);
}

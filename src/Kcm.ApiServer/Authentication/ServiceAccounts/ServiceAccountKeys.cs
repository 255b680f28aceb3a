using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json.Nodes;
using Kcm.Api.Security;

namespace Kcm.ApiServer.Authentication.ServiceAccounts;

/// <summary>A --service-account-key-file or signing key that cannot be used.</summary>
public sealed class ServiceAccountKeyException(string path, string message) : Exception($"{path}: {message}");

/// <summary>A verification key (RSA or ECDSA) kept as its SubjectPublicKeyInfo DER.</summary>
public sealed record ServiceAccountPublicKey(bool IsRsa, byte[] SubjectPublicKeyInfo);

public static class ServiceAccountKeys
{
    /// <summary>
    /// Every public key in the PEM files, as upstream's keyutil.ParsePublicKeysPEM plus certificates: PUBLIC KEY,
    /// RSA PUBLIC KEY, CERTIFICATE, and the public halves of RSA/EC/PKCS#8 private keys.
    /// </summary>
    public static IReadOnlyList<ServiceAccountPublicKey> LoadPublicKeys(IEnumerable<string> paths)
    {
        var keys = new List<ServiceAccountPublicKey>();
        foreach (var path in paths)
        {
            var found = 0;
            foreach (var (label, der) in PemBlocks(path))
            {
                var key = label switch
                {
                    "CERTIFICATE" => FromCertificate(der),
                    "PUBLIC KEY" => FromSpki(der),
                    "RSA PUBLIC KEY" => FromRsa(r => r.ImportRSAPublicKey(der, out _)),
                    "RSA PRIVATE KEY" => FromRsa(r => r.ImportRSAPrivateKey(der, out _)),
                    "EC PRIVATE KEY" => FromEc(e => e.ImportECPrivateKey(der, out _)),
                    "PRIVATE KEY" => FromPkcs8(der),
                    _ => null,
                };
                if (key is null) continue;
                keys.Add(key);
                found++;
            }
            if (found == 0) throw new ServiceAccountKeyException(path, "data does not contain any valid RSA or ECDSA public keys");
        }
        return keys;
    }

    private static IEnumerable<(string Label, byte[] Der)> PemBlocks(string path)
    {
        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ServiceAccountKeyException(path, e.Message);
        }
        var rest = text.AsMemory();
        var blocks = new List<(string, byte[])>();
        while (PemEncoding.TryFind(rest.Span, out var fields))
        {
            var span = rest.Span;
            var label = span[fields.Label].ToString();
            var der = Convert.FromBase64String(span[fields.Base64Data].ToString());
            blocks.Add((label, der));
            rest = rest[fields.Location.End..];
        }
        return blocks;
    }

    private static ServiceAccountPublicKey? FromCertificate(byte[] der)
    {
        using var cert = X509CertificateLoader.LoadCertificate(der);
        if (cert.GetRSAPublicKey() is { } rsa)
        {
            using (rsa) return new ServiceAccountPublicKey(true, rsa.ExportSubjectPublicKeyInfo());
        }
        if (cert.GetECDsaPublicKey() is { } ec)
        {
            using (ec) return new ServiceAccountPublicKey(false, ec.ExportSubjectPublicKeyInfo());
        }
        return null;
    }

    private static ServiceAccountPublicKey? FromSpki(byte[] der)
    {
        try
        {
            return FromRsa(r => r.ImportSubjectPublicKeyInfo(der, out _));
        }
        catch (CryptographicException)
        {
            return FromEc(e => e.ImportSubjectPublicKeyInfo(der, out _));
        }
    }

    private static ServiceAccountPublicKey? FromPkcs8(byte[] der)
    {
        try
        {
            return FromRsa(r => r.ImportPkcs8PrivateKey(der, out _));
        }
        catch (CryptographicException)
        {
            return FromEc(e => e.ImportPkcs8PrivateKey(der, out _));
        }
    }

    private static ServiceAccountPublicKey FromRsa(Action<RSA> import)
    {
        using var rsa = RSA.Create();
        import(rsa);
        return new ServiceAccountPublicKey(true, rsa.ExportSubjectPublicKeyInfo());
    }

    private static ServiceAccountPublicKey FromEc(Action<ECDsa> import)
    {
        using var ec = ECDsa.Create();
        import(ec);
        return new ServiceAccountPublicKey(false, ec.ExportSubjectPublicKeyInfo());
    }
}

/// <summary>
/// Signs service account tokens with --service-account-signing-key-file (RSA → RS256, EC → ES256/384/512),
/// with "kid" derived from the public key as upstream (base64url SHA-256 of its DER).
/// </summary>
public sealed class ServiceAccountTokenSigner
{
    private readonly byte[] _pkcs8;
    private readonly bool _isRsa;
    private readonly string _algorithm;
    private readonly string _keyId;

    private ServiceAccountTokenSigner(byte[] pkcs8, bool isRsa, string algorithm, byte[] spki)
    {
        _pkcs8 = pkcs8;
        _isRsa = isRsa;
        _algorithm = algorithm;
        _keyId = Jws.KeyId(spki);
    }

    public static ServiceAccountTokenSigner Load(string path)
    {
        string pem;
        try
        {
            pem = File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ServiceAccountKeyException(path, e.Message);
        }
        try
        {
            using var rsa = RSA.Create();
            rsa.ImportFromPem(pem);
            return new ServiceAccountTokenSigner(rsa.ExportPkcs8PrivateKey(), true, "RS256", rsa.ExportSubjectPublicKeyInfo());
        }
        catch (Exception e) when (e is CryptographicException or ArgumentException)
        {
            // Not RSA: try ECDSA below.
        }
        try
        {
            using var ec = ECDsa.Create();
            ec.ImportFromPem(pem);
            var alg = Jws.AlgorithmFor(ec) ?? throw new ServiceAccountKeyException(path, $"unsupported curve size {ec.KeySize}");
            return new ServiceAccountTokenSigner(ec.ExportPkcs8PrivateKey(), false, alg, ec.ExportSubjectPublicKeyInfo());
        }
        catch (Exception e) when (e is CryptographicException or ArgumentException)
        {
            throw new ServiceAccountKeyException(path, "does not contain an RSA or ECDSA private key");
        }
    }

    /// <summary>header.payload.signature for the claims.</summary>
    public string Sign(JsonObject claims)
    {
        var header = new JsonObject { ["alg"] = _algorithm, ["kid"] = _keyId };
        // Only the PKCS#8 bytes are kept; a key object lives for one signature.
        using AsymmetricAlgorithm key = _isRsa ? RSA.Create() : ECDsa.Create();
        key.ImportPkcs8PrivateKey(_pkcs8, out _);
        return Jws.Sign(header.ToJsonString(), claims.ToJsonString(), key, _algorithm);
    }
}

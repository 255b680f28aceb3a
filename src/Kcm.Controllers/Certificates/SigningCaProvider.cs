using Kcm.Api.Security;
using Microsoft.Extensions.Logging;

namespace Kcm.Controllers.Certificates;

/// <summary>The signing CA files cannot be used: missing, not PEM, or a key that does not match the certificate.</summary>
public sealed class SigningCaLoadException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>
/// The CA a signer uses, read from its certificate and key files. Like upstream's dynamic cert/key content, a change
/// of either file is picked up on the next signature; an unusable new pair is logged and the previous CA kept.
/// </summary>
public sealed class SigningCaProvider : IDisposable
{
    private readonly string _certFile;
    private readonly string _keyFile;
    private readonly ILogger _logger;
    private readonly object _lock = new();
    private CertificateAuthority _current;

    /// <summary>Loads the pair now; a pair that cannot be used is an error, as upstream's start-up check.</summary>
    public SigningCaProvider(string certFile, string keyFile, ILogger logger)
    {
        _certFile = certFile;
        _keyFile = keyFile;
        _logger = logger;
        _current = Load(ReadFile(certFile), ReadFile(keyFile));
        _logger.LogDebug("Loaded a new cert/key pair {name}", Name);
    }

    /// <summary>What upstream's DynamicCertKeyPairContent calls the pair in its log lines.</summary>
    public string Name => $"csr-controller::{_certFile}::{_keyFile}";

    public CertificateAuthority Current()
    {
        lock (_lock)
        {
            byte[] cert, key;
            try
            {
                cert = ReadFile(_certFile);
                key = ReadFile(_keyFile);
            }
            catch (SigningCaLoadException e)
            {
                _logger.LogError("Keeping the current signing CA: {Message}", e.Message);
                return _current;
            }
            if (cert.AsSpan().SequenceEqual(_current.RawCertificate) && key.AsSpan().SequenceEqual(_current.RawKey))
            {
                return _current;
            }
            try
            {
                var next = Load(cert, key);
                _logger.LogDebug("Loaded a new cert/key pair {name}", Name);
                // Not disposed: a worker may still be signing with the old one; the GC reclaims it.
                _current = next;
            }
            catch (SigningCaLoadException e)
            {
                _logger.LogError("Keeping the current signing CA, the new files are unusable: {Message}", e.Message);
            }
            return _current;
        }
    }

    private static byte[] ReadFile(string path)
    {
        try
        {
            return File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new SigningCaLoadException($"error reading {path}: {e.Message}", e);
        }
    }

    /// <summary>
    /// The first certificate of the cert file (upstream takes certs[0]) with the key that matches it, refused with
    /// upstream's texts (crypto/tls X509KeyPair's), under the cert file's name as upstream, or the key file's when
    /// the key input is what is wrong.
    /// </summary>
    internal CertificateAuthority Load(byte[] certPem, byte[] keyPem)
    {
        if (certPem.Length == 0 || keyPem.Length == 0)
        {
            throw new SigningCaLoadException($"error reading CA cert file \"{_certFile}\": missing content for serving cert \"csr-controller::{_certFile}::{_keyFile}\"");
        }
        try
        {
            return new CertificateAuthority(GoPem.X509KeyPair(certPem, keyPem), certPem, keyPem);
        }
        catch (FormatException e)
        {
            var keyInput = e.Message.Contains("key input", StringComparison.Ordinal) || e.Message.Contains("for the private key", StringComparison.Ordinal)
                || e.Message == "tls: failed to parse private key";
            throw new SigningCaLoadException(keyInput
                ? $"error reading CA key file \"{_keyFile}\": {e.Message}"
                : $"error reading CA cert file \"{_certFile}\": {e.Message}", e);
        }
    }

    public void Dispose()
    {
        lock (_lock)
        {
            _current.Dispose();
        }
    }
}

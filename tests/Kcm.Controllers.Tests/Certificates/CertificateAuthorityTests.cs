using System.Net;
using System.Security.Cryptography.X509Certificates;
using Kcm.Controllers.Certificates;
using Microsoft.Extensions.Logging.Abstractions;
using static Kcm.Controllers.Tests.Certificates.CertificateTestData;

namespace Kcm.Controllers.Tests.Certificates;

public sealed class CertificateAuthorityTests : IDisposable
{
    private static readonly DateTimeOffset Now = new(2026, 3, 1, 12, 0, 0, TimeSpan.Zero);
    private static readonly TimeSpan Backdate = TimeSpan.FromMinutes(5);
    private static readonly TimeSpan Short = TimeSpan.FromHours(8);

    private readonly string _dir = Path.Combine(Path.GetTempPath(), "kcm-ca-" + Guid.NewGuid().ToString("N")[..8]);

    public void Dispose()
    {
        if (Directory.Exists(_dir)) Directory.Delete(_dir, recursive: true);
    }

    private static SigningPolicy Policy(TimeSpan ttl, params string[] usages) => new(ttl, usages, Backdate, Short);

    [Fact]
    public void Boundaries_LongLived_BackdatesBothEnds()
    {
        var (notBefore, notAfter) = CertificateAuthority.Boundaries(Policy(TimeSpan.FromHours(8760)), Now, Now.AddYears(5));

        Assert.Equal(Now - Backdate, notBefore);
        Assert.Equal(Now + TimeSpan.FromHours(8760) - Backdate, notAfter);
    }

    [Fact]
    public void Boundaries_ShortLived_KeepsFullLifetimeFromNow()
    {
        var (notBefore, notAfter) = CertificateAuthority.Boundaries(Policy(TimeSpan.FromHours(1)), Now, Now.AddYears(5));

        Assert.Equal(Now - Backdate, notBefore);
        Assert.Equal(Now + TimeSpan.FromHours(1), notAfter);
    }

    [Fact]
    public void Boundaries_CaExpiresFirst_EndsWithTheCa()
    {
        var caNotAfter = Now.AddDays(30);

        var (_, notAfter) = CertificateAuthority.Boundaries(Policy(TimeSpan.FromHours(8760)), Now, caNotAfter);

        Assert.Equal(caNotAfter, notAfter);
    }

    [Theory]
    [InlineData(-1, "refusing to sign a certificate that expired in the past")]
    [InlineData(-24 * 60, "the signer has expired")] // even the backdated NotBefore is past the CA's end
    public void Boundaries_CaExpired_Refuses(int caEndMinutesFromNow, string expected)
    {
        var e = Assert.Throws<SigningRefusedException>(() => CertificateAuthority.Boundaries(Policy(TimeSpan.FromHours(1)), Now, Now.AddMinutes(caEndMinutesFromNow)));

        Assert.StartsWith(expected, e.Message);
    }

    [Theory]
    [InlineData(null, 8760 * 3600)]
    [InlineData(3600, 3600)]
    [InlineData(2 * 8760 * 3600, 8760 * 3600)] // longer than configured: capped
    [InlineData(60, 600)] // below the 10 minute floor: raised
    public void Duration_ExpirationSeconds_ShortensButNotBelowTenMinutes(int? expirationSeconds, int expectedSeconds)
    {
        Assert.Equal(TimeSpan.FromSeconds(expectedSeconds), CsrSigningController.Duration(expirationSeconds, TimeSpan.FromHours(8760)));
    }

    [Fact]
    public void ParseUsages_UnknownUsage_Throws()
    {
        var e = Assert.Throws<UnknownUsageException>(() => CertificateAuthority.ParseUsages(["client auth", "teleport"]));

        Assert.Equal("unrecognized usage values: [\"teleport\"]", e.Message);
    }

    [Theory]
    [InlineData(KeyKind.Rsa, KeyKind.Rsa)]
    [InlineData(KeyKind.Rsa, KeyKind.Ecdsa)]
    [InlineData(KeyKind.Ecdsa, KeyKind.Rsa)]
    [InlineData(KeyKind.Ecdsa, KeyKind.Ecdsa)]
    public void Sign_ServingRequest_CopiesSubjectAndNamesAndSetsPolicyExtensions(KeyKind caKind, KeyKind requestKind)
    {
        var (certFile, keyFile) = WriteCa(_dir, caKind, DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddYears(2));
        using var provider = new SigningCaProvider(certFile, keyFile, NullLogger.Instance);
        var pem = CsrPem("system:node:node01", ["system:nodes"], requestKind, dnsNames: ["node01.example"], ips: [IPAddress.Parse("10.0.0.7")]);
        var request = CertificateRequestInfo.Parse(pem, checkSignature: true);
        var now = DateTimeOffset.UtcNow;

        var der = provider.Current().Sign(request, Policy(TimeSpan.FromHours(24), [.. KubeletServingUsages]), now);

        using var cert = X509CertificateLoader.LoadCertificate(der);
        using var ca = X509Certificate2.CreateFromPem(File.ReadAllText(certFile));
        Assert.Equal(GoName.Parse(request.Subject).Encode().RawData, cert.SubjectName.RawData); // re-encoded as Go does
        Assert.Equal("CN=system:node:node01, O=system:nodes", cert.Subject);
        Assert.Equal(ca.SubjectName.RawData, cert.IssuerName.RawData);
        var basic = Assert.Single(cert.Extensions.OfType<X509BasicConstraintsExtension>());
        Assert.False(basic.CertificateAuthority);
        Assert.True(basic.Critical);
        var keyUsage = Assert.Single(cert.Extensions.OfType<X509KeyUsageExtension>());
        Assert.Equal(X509KeyUsageFlags.DigitalSignature | X509KeyUsageFlags.KeyEncipherment, keyUsage.KeyUsages);
        var eku = Assert.Single(cert.Extensions.OfType<X509EnhancedKeyUsageExtension>());
        Assert.Equal(["1.3.6.1.5.5.7.3.1"], eku.EnhancedKeyUsages.Cast<System.Security.Cryptography.Oid>().Select(o => o.Value));
        var san = Assert.Single(cert.Extensions.OfType<X509SubjectAlternativeNameExtension>());
        Assert.Equal(["node01.example"], san.EnumerateDnsNames());
        Assert.Equal([IPAddress.Parse("10.0.0.7")], san.EnumerateIPAddresses());
        var aki = Assert.Single(cert.Extensions.OfType<X509AuthorityKeyIdentifierExtension>());
        Assert.Equal(ca.Extensions.OfType<X509SubjectKeyIdentifierExtension>().Single().SubjectKeyIdentifierBytes.ToArray(), aki.KeyIdentifier!.Value.ToArray());
        Assert.True(cert.SerialNumberBytes.Length is >= 1 and <= 17);
        Assert.Equal((now - Backdate).UtcDateTime, cert.NotBefore.ToUniversalTime(), TimeSpan.FromSeconds(1));
        Assert.Equal((now + TimeSpan.FromHours(24) - Backdate).UtcDateTime, cert.NotAfter.ToUniversalTime(), TimeSpan.FromSeconds(1));
        using var chain = new X509Chain { ChainPolicy = { TrustMode = X509ChainTrustMode.CustomRootTrust, RevocationMode = X509RevocationMode.NoCheck } };
        chain.ChainPolicy.CustomTrustStore.Add(ca);
        Assert.True(chain.Build(cert), string.Join("; ", chain.ChainStatus.Select(s => s.StatusInformation)));
    }

    [Fact]
    public void Sign_TwoCertificates_GetDifferentRandomSerials()
    {
        var (certFile, keyFile) = WriteCa(_dir, KeyKind.Ecdsa, DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddYears(2));
        using var provider = new SigningCaProvider(certFile, keyFile, NullLogger.Instance);
        var request = CertificateRequestInfo.Parse(CsrPem("system:node:n", ["system:nodes"]), checkSignature: true);

        using var a = X509CertificateLoader.LoadCertificate(provider.Current().Sign(request, Policy(TimeSpan.FromHours(1), "client auth"), DateTimeOffset.UtcNow));
        using var b = X509CertificateLoader.LoadCertificate(provider.Current().Sign(request, Policy(TimeSpan.FromHours(1), "client auth"), DateTimeOffset.UtcNow));

        Assert.NotEqual(a.SerialNumber, b.SerialNumber);
    }

    [Fact]
    public void Current_FilesReplaced_LoadsTheNewCa()
    {
        var (certFile, keyFile) = WriteCa(_dir, KeyKind.Rsa, DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddYears(1));
        using var provider = new SigningCaProvider(certFile, keyFile, NullLogger.Instance);
        var first = provider.Current().Certificate.Thumbprint;

        WriteCa(_dir, KeyKind.Ecdsa, DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddYears(1));

        Assert.NotEqual(first, provider.Current().Certificate.Thumbprint);
    }

    [Fact]
    public void Current_KeyReplacedByMismatchingOne_KeepsThePreviousCa()
    {
        var (certFile, keyFile) = WriteCa(_dir, KeyKind.Rsa, DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddYears(1));
        using var provider = new SigningCaProvider(certFile, keyFile, NullLogger.Instance);
        var first = provider.Current().Certificate.Thumbprint;

        WriteCa(Path.Combine(_dir, "other"), KeyKind.Rsa, DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddYears(1));
        File.Copy(Path.Combine(_dir, "other", "ca-key.pem"), keyFile, overwrite: true);

        Assert.Equal(first, provider.Current().Certificate.Thumbprint);
    }

    [Fact]
    public void Constructor_KeyDoesNotMatchCertificate_Throws()
    {
        var (certFile, _) = WriteCa(_dir, KeyKind.Rsa, DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddYears(1));
        var (_, otherKey) = WriteCa(Path.Combine(_dir, "other"), KeyKind.Rsa, DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddYears(1));

        Assert.Throws<SigningCaLoadException>(() => new SigningCaProvider(certFile, otherKey, NullLogger.Instance));
    }
}

using System.Security.Cryptography.X509Certificates;
using System.Text;
using Kcm.Api.Certificates.V1;
using Kcm.Controllers.Certificates;
using Kcm.Controllers.Tests.Support;
using Kcm.Testing;
using static Kcm.Controllers.Tests.Certificates.CertificateTestData;

namespace Kcm.Controllers.Tests.Certificates;

[Collection(CsrCollection.Name)]
public sealed class CsrSigningControllerTests(RbacServerFixture fixture) : IClassFixture<RbacServerFixture>, IDisposable
{
    private static readonly TimeSpan Year = TimeSpan.FromHours(8760);
    private static readonly TimeSpan Backdate = TimeSpan.FromMinutes(5);
    private static readonly string[] AllSigners = [Csr.KubeletServingSignerName, Csr.KubeApiServerClientKubeletSignerName, Csr.KubeApiServerClientSignerName, Csr.LegacyUnknownSignerName];

    private readonly string _dir = Path.Combine(Path.GetTempPath(), "kcm-signing-" + Guid.NewGuid().ToString("N")[..8]);

    public void Dispose()
    {
        if (Directory.Exists(_dir)) Directory.Delete(_dir, recursive: true);
    }

    private ControllerTestHost StartSigners(string certFile, string keyFile)
    {
        var host = new ControllerTestHost(fixture);
        var controllers = AllSigners.Select(s => new CsrSigningController(host.Context, new CsrSignerOptions(s, certFile, keyFile, Year))).ToList();
        host.Start([.. controllers.Select(c => (RunController)(ct => c.RunAsync(2, ct)))]);
        return host;
    }

    private (string CertFile, string KeyFile) ValidCa(KeyKind kind = KeyKind.Rsa)
        => WriteCa(_dir, kind, DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddYears(5));

    private static async Task<CertificateSigningRequest> CreateApprovedAsync(ControllerTestHost host, CertificateSigningRequest csr)
    {
        var created = await host.Client.CreateAsync(csr);
        created.Status ??= new CertificateSigningRequestStatus();
        created.Status.Conditions = [new CertificateSigningRequestCondition { Type = Csr.Approved, Status = "True", Reason = "TestApproval", Message = "approved by the test" }];
        return await host.Client.UpdateApprovalAsync(created);
    }

    private static Task<CertificateSigningRequest> IssuedAsync(ControllerTestHost host, string name)
        => Eventually.GetAsync($"CSR {name} to be issued", async () =>
        {
            var csr = await host.Client.GetAsync<CertificateSigningRequest>(null, name);
            return Csr.IsIssued(csr) ? csr : null;
        });

    private static Task<CertificateSigningRequestCondition> FailedAsync(ControllerTestHost host, string name)
        => Eventually.GetAsync($"CSR {name} to fail", async () =>
        {
            var csr = await host.Client.GetAsync<CertificateSigningRequest>(null, name);
            Assert.False(Csr.IsIssued(csr), "a refused CSR must not get a certificate");
            return csr.Status?.Conditions?.FirstOrDefault(c => c.Type == Csr.Failed);
        });

    [Theory]
    [InlineData(KeyKind.Rsa, KeyKind.Rsa)]
    [InlineData(KeyKind.Ecdsa, KeyKind.Ecdsa)]
    [InlineData(KeyKind.Rsa, KeyKind.Ecdsa)]
    public async Task Sign_ApprovedKubeletClientRequest_IssuesYearLongBackdatedCertificate(KeyKind caKind, KeyKind requestKind)
    {
        var (certFile, keyFile) = ValidCa(caKind);
        await using var host = StartSigners(certFile, keyFile);
        var name = UniqueName("client");
        var before = DateTimeOffset.UtcNow;

        await CreateApprovedAsync(host, NewCsr(name, Csr.KubeApiServerClientKubeletSignerName, CsrPem("system:node:node01", ["system:nodes"], requestKind), KubeletClientUsages));
        var issued = await IssuedAsync(host, name);
        var after = DateTimeOffset.UtcNow;

        using var cert = IssuedCertificate(issued);
        using var ca = X509Certificate2.CreateFromPem(File.ReadAllText(certFile));
        Assert.Equal("system:node:node01", cert.GetNameInfo(X509NameType.SimpleName, forIssuer: false));
        Assert.Contains("O=system:nodes", cert.Subject);
        Assert.InRange(cert.NotBefore.ToUniversalTime(), (before - Backdate).UtcDateTime.AddSeconds(-1), (after - Backdate).UtcDateTime);
        Assert.InRange(cert.NotAfter.ToUniversalTime(), (before + Year - Backdate).UtcDateTime.AddSeconds(-1), (after + Year - Backdate).UtcDateTime);
        Assert.Equal(["1.3.6.1.5.5.7.3.2"], cert.Extensions.OfType<X509EnhancedKeyUsageExtension>().Single().EnhancedKeyUsages.Cast<System.Security.Cryptography.Oid>().Select(o => o.Value));
        using var chain = new X509Chain { ChainPolicy = { TrustMode = X509ChainTrustMode.CustomRootTrust, RevocationMode = X509RevocationMode.NoCheck } };
        chain.ChainPolicy.CustomTrustStore.Add(ca);
        Assert.True(chain.Build(cert));
    }

    [Fact]
    public async Task Sign_ExpirationSecondsShorterThanDuration_UsesRequestedLifetime()
    {
        var (certFile, keyFile) = ValidCa();
        await using var host = StartSigners(certFile, keyFile);
        var name = UniqueName("short");
        var before = DateTimeOffset.UtcNow;

        await CreateApprovedAsync(host, NewCsr(name, Csr.KubeApiServerClientSignerName, CsrPem("jane", ["devs"]), ["client auth"], expirationSeconds: 3600));
        var issued = await IssuedAsync(host, name);
        var after = DateTimeOffset.UtcNow;

        using var cert = IssuedCertificate(issued);
        // Short-lived: the end is not backdated.
        Assert.InRange(cert.NotAfter.ToUniversalTime(), before.UtcDateTime.AddHours(1).AddSeconds(-1), after.UtcDateTime.AddHours(1));
    }

    [Fact]
    public async Task Sign_CaEndsBeforeDuration_CertificateEndsWithCa()
    {
        var caEnd = DateTimeOffset.UtcNow.AddDays(2);
        var (certFile, keyFile) = WriteCa(_dir, KeyKind.Ecdsa, DateTimeOffset.UtcNow.AddDays(-1), caEnd);
        await using var host = StartSigners(certFile, keyFile);
        var name = UniqueName("capped");

        await CreateApprovedAsync(host, NewCsr(name, Csr.KubeApiServerClientSignerName, CsrPem("anything", ["any-org"]), ["client auth"]));
        var issued = await IssuedAsync(host, name);

        using var cert = IssuedCertificate(issued);
        using var ca = X509Certificate2.CreateFromPem(File.ReadAllText(certFile));
        Assert.Equal(ca.NotAfter, cert.NotAfter);
    }

    public static TheoryData<string, string, Func<byte[]>, string[], string> BrokenRequests => new()
    {
        { "wrong-o", Csr.KubeApiServerClientKubeletSignerName, () => CsrPem("system:node:n1", ["acme"]), KubeletClientUsages, "subject organization is not system:nodes" },
        { "extra-o", Csr.KubeApiServerClientKubeletSignerName, () => CsrPem("system:node:n1", ["system:nodes", "system:masters"]), KubeletClientUsages, "subject organization is not system:nodes" },
        { "dns-san", Csr.KubeApiServerClientKubeletSignerName, () => CsrPem("system:node:n1", ["system:nodes"], dnsNames: ["n1.example"]), KubeletClientUsages, "DNS subjectAltNames are not allowed" },
        { "ip-san", Csr.KubeApiServerClientKubeletSignerName, () => CsrPem("system:node:n1", ["system:nodes"], ips: [System.Net.IPAddress.Loopback]), KubeletClientUsages, "IP subjectAltNames are not allowed" },
        { "server-usage", Csr.KubeApiServerClientSignerName, () => CsrPem("jane", ["devs"]), ["client auth", "server auth"], "invalid usage for client certificate: server auth" },
        { "serving-cn", Csr.KubeletServingSignerName, () => CsrPem("node01", ["system:nodes"], dnsNames: ["node01"]), KubeletServingUsages, "subject common name does not begin with system:node:" },
        { "ed25519-serving-not-node", Csr.KubeletServingSignerName, () => Ed25519Requests.Bytes(Ed25519Requests.NotNode), ["digital signature", "server auth"], "subject organization is not system:nodes" },
        { "ed25519-client-not-node", Csr.KubeApiServerClientKubeletSignerName, () => Ed25519Requests.Bytes(Ed25519Requests.NotNode), ["digital signature", "client auth"], "subject organization is not system:nodes" },
        { "ed25519-server-usage", Csr.KubeApiServerClientSignerName, () => Ed25519Requests.Bytes(Ed25519Requests.Client), ["server auth"], "invalid usage for client certificate: server auth" },
    };

    // Issue 20: Ed25519 requests valid for their signer are issued, their key embedded as is, signed by the (RSA) CA.
    [Theory]
    [InlineData(Csr.KubeApiServerClientSignerName, Ed25519Requests.Client, new[] { "client auth", "digital signature" }, "CN=alice, O=devs")]
    [InlineData(Csr.KubeApiServerClientKubeletSignerName, Ed25519Requests.KubeletClient, new[] { "client auth", "digital signature" }, "CN=system:node:n1, O=system:nodes")]
    [InlineData(Csr.KubeletServingSignerName, Ed25519Requests.KubeletServing, new[] { "server auth", "digital signature" }, "CN=system:node:n1, O=system:nodes")]
    [InlineData(Csr.KubeApiServerClientSignerName, Ed25519Requests.WithEmailAndUri, new[] { "client auth" }, "CN=dave")]
    public async Task Sign_ApprovedEd25519Request_IssuesCertificateForItsKey(string signer, string requestPem, string[] usages, string subject)
    {
        var (certFile, keyFile) = ValidCa();
        await using var host = StartSigners(certFile, keyFile);
        var name = UniqueName("ed25519");

        await CreateApprovedAsync(host, NewCsr(name, signer, Ed25519Requests.Bytes(requestPem), usages));
        var issued = await IssuedAsync(host, name);

        using var cert = IssuedCertificate(issued);
        using var ca = X509Certificate2.CreateFromPem(File.ReadAllText(certFile));
        var request = CertificateRequestInfo.Parse(Ed25519Requests.Bytes(requestPem), checkSignature: true);
        Assert.Equal("1.3.101.112", cert.PublicKey.Oid.Value);
        Assert.Equal(request.PublicKey.EncodedKeyValue.RawData, cert.PublicKey.EncodedKeyValue.RawData);
        Assert.Equal(subject, cert.Subject);
        Assert.Equal(ca.SubjectName.RawData, cert.IssuerName.RawData);
        using var caKey = ca.GetRSAPublicKey()!;
        Assert.True(caKey.VerifyData(TbsOf(cert.RawData), SignatureOf(cert.RawData), System.Security.Cryptography.HashAlgorithmName.SHA256, System.Security.Cryptography.RSASignaturePadding.Pkcs1));
    }

    // Issue 20 (found by kcm-differ): upstream copies the parsed subject, which Go re-encodes in its own attribute
    // order (O before CN) with repeated attributes in one RDN.
    [Fact]
    public async Task Sign_SubjectWithRepeatedAndUnknownAttributes_ReencodedAsUpstream()
    {
        var (certFile, keyFile) = ValidCa();
        await using var host = StartSigners(certFile, keyFile);
        var name = UniqueName("subject");
        var pem = CsrPem("bob", ["b-team", "a-team"]);

        await CreateApprovedAsync(host, NewCsr(name, Csr.KubeApiServerClientSignerName, pem, ["client auth"]));
        var issued = await IssuedAsync(host, name);

        using var cert = IssuedCertificate(issued);
        Assert.Equal("CN=bob, O=a-team + O=b-team", cert.Subject);
    }

    private static byte[] TbsOf(byte[] certificate)
        => new System.Formats.Asn1.AsnReader(certificate, System.Formats.Asn1.AsnEncodingRules.DER).ReadSequence().ReadEncodedValue().ToArray();

    private static byte[] SignatureOf(byte[] certificate)
    {
        var outer = new System.Formats.Asn1.AsnReader(certificate, System.Formats.Asn1.AsnEncodingRules.DER).ReadSequence();
        outer.ReadEncodedValue();
        outer.ReadEncodedValue();
        return outer.ReadBitString(out _);
    }

    [Theory]
    [MemberData(nameof(BrokenRequests))]
    public async Task Sign_RequestBreaksSignerRules_FailedConditionAndNoCertificate(string prefix, string signer, Func<byte[]> request, string[] usages, string expectedMessage)
    {
        var (certFile, keyFile) = ValidCa();
        await using var host = StartSigners(certFile, keyFile);
        var name = UniqueName(prefix);

        await CreateApprovedAsync(host, NewCsr(name, signer, request(), usages));
        var failed = await FailedAsync(host, name);

        Assert.Equal("True", failed.Status);
        Assert.Equal(CsrSigningController.FailureReason, failed.Reason);
        Assert.Contains(expectedMessage, failed.Message);
        Assert.NotNull(failed.LastUpdateTime);
    }

    [Fact]
    public async Task Create_GarbagePem_RejectedByTheServerSoNothingIsSigned()
    {
        // As upstream's CSR validation: an unparseable request never reaches the signer; the server answers 422.
        await using var host = new ControllerTestHost(fixture);
        var error = await Assert.ThrowsAsync<Kcm.Client.Errors.InvalidException>(() => host.Client.CreateAsync(
            NewCsr(UniqueName("garbage"), Csr.KubeApiServerClientSignerName, Encoding.ASCII.GetBytes("-----BEGIN GARBAGE-----\nAAAA\n-----END GARBAGE-----\n"), ["client auth"])));
        Assert.Contains("PEM block type must be CERTIFICATE REQUEST", error.Message);
    }

    // Upstream's CSR validation checks the request's signature, so a badly signed request never reaches the signers.
    [EmbeddedDiffersFact("does not check a CSR's signature at create (it only parses the PEM block)")]
    public async Task Create_BadlySignedRequest_RejectedByTheServer()
    {
        await using var host = new ControllerTestHost(fixture);
        var error = await Assert.ThrowsAsync<Kcm.Client.Errors.InvalidException>(() => host.Client.CreateAsync(
            NewCsr(UniqueName("bad-signature"), Csr.KubeApiServerClientSignerName, CsrPemWithBadSignature("jane", ["devs"]), ["client auth"])));
        Assert.Contains("spec.request: Invalid value", error.Message);
    }

    [Fact]
    public async Task Sign_AfterRefusedRequest_KeepsSigningOthers()
    {
        var (certFile, keyFile) = ValidCa();
        await using var host = StartSigners(certFile, keyFile);
        var refused = UniqueName("refused");
        var good = UniqueName("good");

        await CreateApprovedAsync(host, NewCsr(refused, Csr.KubeApiServerClientSignerName, CsrPem("jane", ["devs"]), ["client auth", "server auth"]));
        await FailedAsync(host, refused);
        await CreateApprovedAsync(host, NewCsr(good, Csr.KubeApiServerClientSignerName, CsrPem("jane", ["devs"]), ["client auth"]));

        await IssuedAsync(host, good);
    }

    [Fact]
    public async Task Sign_PendingOrDenied_NotSigned()
    {
        var (certFile, keyFile) = ValidCa();
        await using var host = StartSigners(certFile, keyFile);
        var pending = UniqueName("pending");
        var denied = UniqueName("denied");
        var marker = UniqueName("marker");

        await host.Client.CreateAsync(NewCsr(pending, Csr.KubeApiServerClientSignerName, CsrPem("jane", ["devs"]), ["client auth"]));
        var d = await host.Client.CreateAsync(NewCsr(denied, Csr.KubeApiServerClientSignerName, CsrPem("joe", ["devs"]), ["client auth"]));
        d.Status = new CertificateSigningRequestStatus { Conditions = [new() { Type = Csr.Denied, Status = "True", Reason = "No", Message = "no" }] };
        await host.Client.UpdateApprovalAsync(d);
        // A later approved request being issued shows the controller has looked at the earlier ones.
        await CreateApprovedAsync(host, NewCsr(marker, Csr.KubeApiServerClientSignerName, CsrPem("marker", ["devs"]), ["client auth"]));
        await IssuedAsync(host, marker);

        Assert.False(Csr.IsIssued(await host.Client.GetAsync<CertificateSigningRequest>(null, pending)));
        Assert.False(Csr.IsIssued(await host.Client.GetAsync<CertificateSigningRequest>(null, denied)));
    }

    [Fact]
    public async Task Sign_CaExpired_NoCertificateUntilTheCaFilesAreRenewed()
    {
        // Upstream's authority refuses with "the signer has expired" and the CSR is retried (not failed), so a renewed CA signs it.
        var (certFile, keyFile) = WriteCa(_dir, KeyKind.Rsa, DateTimeOffset.UtcNow.AddDays(-10), DateTimeOffset.UtcNow.AddDays(-1));
        await using var host = StartSigners(certFile, keyFile);
        var name = UniqueName("expired-ca");
        var marker = UniqueName("expired-ca-marker");

        await CreateApprovedAsync(host, NewCsr(name, Csr.KubeApiServerClientSignerName, CsrPem("jane", ["devs"]), ["client auth"]));
        // Another signer's refused CSR getting its Failed condition shows the workers have run meanwhile.
        await CreateApprovedAsync(host, NewCsr(marker, Csr.KubeApiServerClientKubeletSignerName, CsrPem("system:node:n1", ["acme"]), KubeletClientUsages));
        await FailedAsync(host, marker);
        var stillWaiting = await host.Client.GetAsync<CertificateSigningRequest>(null, name);
        Assert.False(Csr.IsIssued(stillWaiting));
        Assert.False(Csr.HasTrueCondition(stillWaiting, Csr.Failed));

        WriteCa(_dir, KeyKind.Rsa, DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddYears(1));
        var issued = await IssuedAsync(host, name);

        using var cert = IssuedCertificate(issued);
        Assert.True(cert.NotAfter.ToUniversalTime() > DateTime.UtcNow.AddDays(300));
    }
}

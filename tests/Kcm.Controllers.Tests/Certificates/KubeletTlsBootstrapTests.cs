using System.Diagnostics;
using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Kcm.Api.Certificates.V1;
using Kcm.Api.Core.V1;
using Kcm.Api.Meta.V1;
using Kcm.Api.Rbac.V1;
using Kcm.ApiServer.Hosting;
using Kcm.Client;
using Kcm.Client.Config;
using Kcm.Controllers.Certificates;
using Kcm.Controllers.Tests.Support;
using Kcm.Testing;
using static Kcm.Controllers.Tests.Certificates.CertificateTestData;

namespace Kcm.Controllers.Tests.Certificates;

/// <summary>The guides' API server authorization (Node,RBAC) for the kubelet TLS bootstrap walk-through.</summary>
public sealed class NodeRbacServerFixture : EmbeddedServerFixture
{
    protected override void Configure(EmbeddedApiServerOptions options) => options.AuthorizationModes = ["Node", "RBAC"];
}

/// <summary>
/// The kubelet TLS bootstrap as the deployment guide scripts it: a bootstrap token, the csr-crb.yaml bindings,
/// kubelets asking for client certificates (approved and issued without a human), a node renewing its own
/// certificate, and a kubelet serving certificate that waits for a manual approval. The cluster signing CA is the
/// server's own ca.pem / ca-key.pem, as the guides' kube-controller-manager unit configures it.
/// </summary>
[Collection(CsrCollection.Name)]
public sealed class KubeletTlsBootstrapTests(NodeRbacServerFixture fixture) : IClassFixture<NodeRbacServerFixture>, IDisposable
{
    // A fresh token id per run: the token's Secret lives in kube-system of a possibly shared, reused cluster.
    private readonly string _tokenId = "t" + Guid.NewGuid().ToString("N")[..5];
    private const string TokenSecret = "0123456789abcdef";
    private static readonly TimeSpan Year = TimeSpan.FromHours(8760);

    private readonly string _dir = Path.Combine(Path.GetTempPath(), "kcm-bootstrap-" + Guid.NewGuid().ToString("N")[..8]);

    public void Dispose()
    {
        if (Directory.Exists(_dir)) Directory.Delete(_dir, recursive: true);
    }

    private string CaFile => fixture.CaPath;

    private ControllerTestHost StartCertificateControllers()
    {
        var host = new ControllerTestHost(fixture);
        var keyFile = fixture.CaKeyPath;
        string[] signers = [Csr.KubeletServingSignerName, Csr.KubeApiServerClientKubeletSignerName, Csr.KubeApiServerClientSignerName, Csr.LegacyUnknownSignerName];
        var signing = signers.Select(s => new CsrSigningController(host.Context, new CsrSignerOptions(s, CaFile, keyFile, Year))).ToList();
        var approving = new CsrApprovingController(host.Context);
        host.Start([.. signing.Select(c => (RunController)(ct => c.RunAsync(2, ct))), ct => approving.RunAsync(2, ct)]);
        return host;
    }

    private async Task SetUpBootstrapAsync(KubeApiClient admin)
    {
        await admin.CreateAsync(new Secret
        {
            Metadata = new ObjectMeta { Name = $"bootstrap-token-{_tokenId}", Namespace = "kube-system" },
            Type = "bootstrap.kubernetes.io/token",
            Data = new Dictionary<string, byte[]>
            {
                ["token-id"] = Encoding.ASCII.GetBytes(_tokenId),
                ["token-secret"] = Encoding.ASCII.GetBytes(TokenSecret),
                ["usage-bootstrap-authentication"] = "true"u8.ToArray(),
                ["usage-bootstrap-signing"] = "true"u8.ToArray(),
                ["auth-extra-groups"] = "system:bootstrappers:kubeadm:default-node-token"u8.ToArray(),
            },
        }, "kube-system");
        await BindAsync(admin, "kubelet-bootstrap", "system:node-bootstrapper", "system:bootstrappers");
        await BindAsync(admin, "auto-approve-csrs-for-group", "system:certificates.k8s.io:certificatesigningrequests:nodeclient", "system:bootstrappers");
        await BindAsync(admin, "node-client-cert-renewal", "system:certificates.k8s.io:certificatesigningrequests:selfnodeclient", "system:nodes");
    }

    // The guide's binding names; a cluster reused from an earlier run may have them already.
    private static async Task BindAsync(KubeApiClient admin, string name, string clusterRole, string group)
    {
        try
        {
            await admin.CreateAsync(new ClusterRoleBinding
            {
                Metadata = new ObjectMeta { Name = name },
                RoleRef = new RoleRef { ApiGroup = "rbac.authorization.k8s.io", Kind = "ClusterRole", Name = clusterRole },
                Subjects = [new Subject { ApiGroup = "rbac.authorization.k8s.io", Kind = "Group", Name = group }],
            });
        }
        catch (Kcm.Client.Errors.AlreadyExistsException)
        {
        }
    }

    private KubeApiClient ClientWith(string? bearerToken = null, X509Certificate2? clientCertificate = null) => new(new ClientConfig
    {
        Server = fixture.Url,
        CertificateAuthorities = PemLoader.LoadCertificateBundle(File.ReadAllText(CaFile)),
        BearerToken = bearerToken,
        ClientCertificate = clientCertificate,
    });

    /// <summary>What a kubelet sends: a fresh key, a CSR named csr-xxxxx, the kubelet's usages.</summary>
    private static async Task<(CertificateSigningRequest Csr, ECDsa Key)> RequestAsync(KubeApiClient client, string signer, string commonName,
        string[] usages, string[]? dnsNames = null, IPAddress[]? ips = null)
    {
        var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var subject = new X500DistinguishedNameBuilder();
        subject.AddOrganizationName("system:nodes");
        subject.AddCommonName(commonName);
        var request = new CertificateRequest(subject.Build(), key, HashAlgorithmName.SHA256);
        if (dnsNames is not null || ips is not null)
        {
            var san = new SubjectAlternativeNameBuilder();
            foreach (var d in dnsNames ?? []) san.AddDnsName(d);
            foreach (var ip in ips ?? []) san.AddIpAddress(ip);
            request.CertificateExtensions.Add(san.Build());
        }
        var csr = await client.CreateAsync(new CertificateSigningRequest
        {
            Metadata = new ObjectMeta { GenerateName = "csr-" },
            Spec = new CertificateSigningRequestSpec
            {
                SignerName = signer,
                Request = Encoding.ASCII.GetBytes(request.CreateSigningRequestPem()),
                Usages = [.. usages],
            },
        });
        return (csr, key);
    }

    private static Task<CertificateSigningRequest> IssuedAsync(KubeApiClient admin, string name)
        => Eventually.GetAsync($"CSR {name} to be issued", async () =>
        {
            var csr = await admin.GetAsync<CertificateSigningRequest>(null, name);
            return Csr.IsIssued(csr) ? csr : null;
        });

    private string OpensslVerify(CertificateSigningRequest csr)
    {
        Directory.CreateDirectory(_dir);
        var certFile = Path.Combine(_dir, csr.Metadata!.Name + ".pem");
        File.WriteAllBytes(certFile, csr.Status!.Certificate!);
        using var process = Process.Start(new ProcessStartInfo("openssl", ["verify", "-CAfile", CaFile, certFile])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        })!;
        var output = process.StandardOutput.ReadToEnd() + process.StandardError.ReadToEnd();
        Assert.True(process.WaitForExit(TimeSpan.FromSeconds(30)), "openssl verify did not finish");
        Assert.Equal(0, process.ExitCode);
        return output.Trim();
    }

    [Fact]
    public async Task Bootstrap_KubeletClientThenRenewalThenServing_AsTheGuideScriptsIt()
    {
        await using var host = StartCertificateControllers();
        await SetUpBootstrapAsync(host.Client);

        // 1. The kubelet authenticates with the bootstrap token and asks for its client certificate.
        using var bootstrap = ClientWith(bearerToken: $"{_tokenId}.{TokenSecret}");
        var before = DateTimeOffset.UtcNow;
        // A real apiserver knows the token and the bindings once its informers have seen them: retry until then.
        var (first, firstKey) = (await Eventually.GetAsync("the bootstrap token admitted",
            async () => Tuple.Create(await RequestAsync(bootstrap, Csr.KubeApiServerClientKubeletSignerName, "system:node:node01", KubeletClientUsages)))).Item1;
        Assert.Equal($"system:bootstrap:{_tokenId}", first.Spec!.Username);
        Assert.Contains("system:bootstrappers", first.Spec.Groups!);
        var issued = await IssuedAsync(host.Client, first.Metadata!.Name!);
        var after = DateTimeOffset.UtcNow;

        var approval = Assert.Single(issued.Status!.Conditions!, c => c.Type == Csr.Approved);
        Assert.Equal("True", approval.Status);
        Assert.Equal("AutoApproved", approval.Reason);
        Assert.Equal("Auto approving kubelet client certificate after SubjectAccessReview.", approval.Message);
        Assert.EndsWith(": OK", OpensslVerify(issued));
        using var clientCert = X509Certificate2.CreateFromPem(Encoding.ASCII.GetString(issued.Status.Certificate!), firstKey.ExportECPrivateKeyPem());
        Assert.Equal(Year, clientCert.NotAfter - clientCert.NotBefore);
        Assert.InRange(clientCert.NotAfter.ToUniversalTime(), (before + Year - TimeSpan.FromMinutes(5)).UtcDateTime.AddSeconds(-1), (after + Year - TimeSpan.FromMinutes(5)).UtcDateTime);

        // 2. Now a node: a kubelet serving certificate request waits for a human.
        using var node = ClientWith(clientCertificate: clientCert);
        var (serving, _) = await RequestAsync(node, Csr.KubeletServingSignerName, "system:node:node01", KubeletServingUsages,
            dnsNames: ["node01"], ips: [IPAddress.Parse("172.16.60.244")]);
        Assert.Equal("system:node:node01", serving.Spec!.Username);

        // 3. The node renews its own client certificate: approved as selfnodeclient.
        var (renewal, _) = await RequestAsync(node, Csr.KubeApiServerClientKubeletSignerName, "system:node:node01", KubeletClientUsages);
        var renewed = await IssuedAsync(host.Client, renewal.Metadata!.Name!);
        Assert.Equal("Auto approving self kubelet client certificate after SubjectAccessReview.",
            renewed.Status!.Conditions!.Single(c => c.Type == Csr.Approved).Message);

        // 4. A node asking for another node's identity is not approved (system:nodes has no nodeclient permission).
        var (foreign, _) = await RequestAsync(node, Csr.KubeApiServerClientKubeletSignerName, "system:node:node02", KubeletClientUsages);
        var (marker, _) = await RequestAsync(bootstrap, Csr.KubeApiServerClientKubeletSignerName, "system:node:node03", KubeletClientUsages);
        await IssuedAsync(host.Client, marker.Metadata!.Name!);
        var stillPending = await host.Client.GetAsync<CertificateSigningRequest>(null, serving.Metadata!.Name!);
        Assert.Empty(stillPending.Status?.Conditions ?? []);
        Assert.False(Csr.IsIssued(stillPending));
        Assert.Empty((await host.Client.GetAsync<CertificateSigningRequest>(null, foreign.Metadata!.Name!)).Status?.Conditions ?? []);

        // 5. kubectl certificate approve: the serving certificate is issued.
        stillPending.Status ??= new CertificateSigningRequestStatus();
        stillPending.Status.Conditions = [new CertificateSigningRequestCondition { Type = Csr.Approved, Status = "True", Reason = "KubectlApprove", Message = "This CSR was approved by kubectl certificate approve." }];
        await host.Client.UpdateApprovalAsync(stillPending);
        var servingIssued = await IssuedAsync(host.Client, serving.Metadata.Name!);
        Assert.EndsWith(": OK", OpensslVerify(servingIssued));
        using var servingCert = X509Certificate2.CreateFromPem(Encoding.ASCII.GetString(servingIssued.Status!.Certificate!));
        var san = servingCert.Extensions.OfType<X509SubjectAlternativeNameExtension>().Single();
        Assert.Equal(["node01"], san.EnumerateDnsNames());
        Assert.Equal([IPAddress.Parse("172.16.60.244")], san.EnumerateIPAddresses());
    }
}

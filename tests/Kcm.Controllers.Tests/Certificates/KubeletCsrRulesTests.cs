using System.Net;
using System.Text;
using Kcm.Controllers.Certificates;
using static Kcm.Controllers.Tests.Certificates.CertificateTestData;

namespace Kcm.Controllers.Tests.Certificates;

public sealed class KubeletCsrRulesTests
{
    private static CertificateRequestInfo Request(string cn, string[] orgs, string[]? dns = null, string[]? ips = null, string[]? emails = null)
        => CertificateRequestInfo.Parse(CsrPem(cn, orgs, KeyKind.Ecdsa, dns, ips?.Select(IPAddress.Parse), emails), checkSignature: true);

    [Theory]
    [InlineData("system:node:node01", new[] { "system:nodes" }, null, null, null, new[] { "digital signature", "key encipherment", "client auth" }, null)]
    [InlineData("system:node:node01", new[] { "system:nodes" }, null, null, null, new[] { "digital signature", "client auth" }, null)]
    [InlineData("system:node:node01", new[] { "system:masters" }, null, null, null, new[] { "digital signature", "key encipherment", "client auth" }, "subject organization is not system:nodes")]
    [InlineData("system:node:node01", new[] { "system:nodes", "system:masters" }, null, null, null, new[] { "digital signature", "key encipherment", "client auth" }, "subject organization is not system:nodes")]
    [InlineData("system:node:node01", new[] { "system:nodes" }, "node01", null, null, new[] { "digital signature", "key encipherment", "client auth" }, "DNS subjectAltNames are not allowed")]
    [InlineData("system:node:node01", new[] { "system:nodes" }, null, "10.0.0.1", null, new[] { "digital signature", "key encipherment", "client auth" }, "IP subjectAltNames are not allowed")]
    [InlineData("system:node:node01", new[] { "system:nodes" }, null, null, "a@b.c", new[] { "digital signature", "key encipherment", "client auth" }, "Email subjectAltNames are not allowed")]
    [InlineData("node01", new[] { "system:nodes" }, null, null, null, new[] { "digital signature", "key encipherment", "client auth" }, "subject common name does not begin with system:node:")]
    [InlineData("system:node:node01", new[] { "system:nodes" }, null, null, null, new[] { "digital signature", "key encipherment", "client auth", "server auth" }, "usages did not match [client auth digital signature key encipherment]")]
    public void ValidateKubeletClient_Table_MatchesUpstream(string cn, string[] orgs, string? dns, string? ip, string? email, string[] usages, string? expectedError)
    {
        var request = Request(cn, orgs, dns is null ? null : [dns], ip is null ? null : [ip], email is null ? null : [email]);

        var error = Record.Exception(() => KubeletCsrRules.ValidateKubeletClient(request, usages));

        Assert.Equal(expectedError, error?.Message);
        Assert.Equal(expectedError is null, KubeletCsrRules.IsKubeletClient(request, usages));
    }

    [Theory]
    [InlineData("system:node:node01", new[] { "system:nodes" }, "node01", null, new[] { "digital signature", "key encipherment", "server auth" }, null)]
    [InlineData("system:node:node01", new[] { "system:nodes" }, null, "10.0.0.1", new[] { "digital signature", "server auth" }, null)]
    [InlineData("system:node:node01", new[] { "system:nodes" }, null, null, new[] { "digital signature", "key encipherment", "server auth" }, "DNS or IP subjectAltName is required")]
    [InlineData("system:node:node01", new[] { "acme" }, "node01", null, new[] { "digital signature", "key encipherment", "server auth" }, "subject organization is not system:nodes")]
    [InlineData("system:node:node01", new[] { "system:nodes" }, "node01", null, new[] { "digital signature", "key encipherment", "client auth" }, "usages did not match [digital signature key encipherment server auth]")]
    [InlineData("node01", new[] { "system:nodes" }, "node01", null, new[] { "digital signature", "key encipherment", "server auth" }, "subject common name does not begin with system:node:")]
    public void ValidateKubeletServing_Table_MatchesUpstream(string cn, string[] orgs, string? dns, string? ip, string[] usages, string? expectedError)
    {
        var request = Request(cn, orgs, dns is null ? null : [dns], ip is null ? null : [ip]);

        var error = Record.Exception(() => KubeletCsrRules.ValidateKubeletServing(request, usages));

        Assert.Equal(expectedError, error?.Message);
    }

    [Theory]
    [InlineData(new[] { "client auth" }, null)]
    [InlineData(new[] { "digital signature", "key encipherment", "client auth" }, null)]
    [InlineData(new[] { "client auth", "server auth" }, "invalid usage for client certificate: server auth")]
    [InlineData(new[] { "digital signature" }, "missing required usage for client certificate: client auth")]
    public void ValidateKubeApiServerClient_Usages_MatchUpstream(string[] usages, string? expectedError)
    {
        Assert.Equal(expectedError, Record.Exception(() => KubeletCsrRules.ValidateKubeApiServerClient(usages))?.Message);
    }

    [Fact]
    public void Parse_NotPem_Throws()
    {
        var e = Assert.Throws<CertificateRequestFormatException>(() => CertificateRequestInfo.Parse(Encoding.ASCII.GetBytes("garbage"), checkSignature: false));

        Assert.Equal("PEM block type must be CERTIFICATE REQUEST", e.Message);
    }

    [Fact]
    public void Parse_BadSignatureChecked_Throws()
    {
        var pem = CsrPemWithBadSignature("system:node:n", ["system:nodes"]);

        CertificateRequestInfo.Parse(pem, checkSignature: false);
        var e = Assert.Throws<CertificateRequestFormatException>(() => CertificateRequestInfo.Parse(pem, checkSignature: true));
        Assert.StartsWith("unable to verify certificate request signature", e.Message);
    }
}

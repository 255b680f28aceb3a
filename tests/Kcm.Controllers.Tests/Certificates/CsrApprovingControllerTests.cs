using Kcm.Api.Certificates.V1;
using Kcm.Controllers.Certificates;
using Kcm.Controllers.Tests.Support;
using Kcm.Testing;
using static Kcm.Controllers.Tests.Certificates.CertificateTestData;

namespace Kcm.Controllers.Tests.Certificates;

[Collection(CsrCollection.Name)]
public sealed class CsrApprovingControllerTests(RbacServerFixture fixture) : IClassFixture<RbacServerFixture>
{
    [Fact]
    public async Task Approve_RequesterMayDoAnything_OnlyKubeletClientRequestsAutoApproved()
    {
        // The admin (system:masters) passes every SubjectAccessReview: what gets approved is decided by recognition alone.
        await using var host = new ControllerTestHost(fixture);
        var approver = new CsrApprovingController(host.Context);
        host.Start(ct => approver.RunAsync(2, ct));
        var serving = await host.Client.CreateAsync(NewCsr(UniqueName("serving"), Csr.KubeletServingSignerName,
            CsrPem("system:node:node01", ["system:nodes"], dnsNames: ["node01"]), KubeletServingUsages));
        var otherSigner = await host.Client.CreateAsync(NewCsr(UniqueName("apiserver-client"), Csr.KubeApiServerClientSignerName,
            CsrPem("system:node:node01", ["system:nodes"]), KubeletClientUsages));
        var notKubelet = await host.Client.CreateAsync(NewCsr(UniqueName("wrong-o"), Csr.KubeApiServerClientKubeletSignerName,
            CsrPem("system:node:node01", ["system:nodes", "system:masters"]), KubeletClientUsages));
        var client = await host.Client.CreateAsync(NewCsr(UniqueName("client"), Csr.KubeApiServerClientKubeletSignerName,
            CsrPem("system:node:node01", ["system:nodes"]), KubeletClientUsages));

        var approved = await Eventually.GetAsync("the kubelet client CSR to be approved", async () =>
        {
            var csr = await host.Client.GetAsync<CertificateSigningRequest>(null, client.Metadata!.Name!);
            return csr.Status?.Conditions?.FirstOrDefault(c => c.Type == Csr.Approved);
        });

        Assert.Equal(CsrApprovingController.ApprovedReason, approved.Reason);
        Assert.Equal("Auto approving kubelet client certificate after SubjectAccessReview.", approved.Message);
        foreach (var untouched in new[] { serving, otherSigner, notKubelet })
        {
            var csr = await host.Client.GetAsync<CertificateSigningRequest>(null, untouched.Metadata!.Name!);
            Assert.Empty(csr.Status?.Conditions ?? []);
        }
    }

    // Issue 20: Ed25519 requests are read like any other (the BCL's CertificateRequest cannot parse them).
    [Fact]
    public async Task Approve_Ed25519KubeletClientRequest_AutoApproved()
    {
        await using var host = new ControllerTestHost(fixture);
        var approver = new CsrApprovingController(host.Context);
        host.Start(ct => approver.RunAsync(2, ct));
        var client = await host.Client.CreateAsync(NewCsr(UniqueName("ed25519-client"), Csr.KubeApiServerClientKubeletSignerName,
            Ed25519Requests.Bytes(Ed25519Requests.KubeletClient), ["digital signature", "client auth"]));

        var approved = await Eventually.GetAsync("the Ed25519 kubelet client CSR to be approved", async () =>
        {
            var csr = await host.Client.GetAsync<CertificateSigningRequest>(null, client.Metadata!.Name!);
            return csr.Status?.Conditions?.FirstOrDefault(c => c.Type == Csr.Approved);
        });

        Assert.Equal(CsrApprovingController.ApprovedReason, approved.Reason);
    }

    [Fact]
    public async Task Approve_AlreadyDenied_LeftAlone()
    {
        await using var host = new ControllerTestHost(fixture);
        var denied = await host.Client.CreateAsync(NewCsr(UniqueName("denied"), Csr.KubeApiServerClientKubeletSignerName,
            CsrPem("system:node:node02", ["system:nodes"]), KubeletClientUsages));
        denied.Status = new CertificateSigningRequestStatus { Conditions = [new() { Type = Csr.Denied, Status = "True", Reason = "Test", Message = "no" }] };
        await host.Client.UpdateApprovalAsync(denied);
        var approver = new CsrApprovingController(host.Context);
        host.Start(ct => approver.RunAsync(2, ct));
        var marker = await host.Client.CreateAsync(NewCsr(UniqueName("marker"), Csr.KubeApiServerClientKubeletSignerName,
            CsrPem("system:node:node03", ["system:nodes"]), KubeletClientUsages));

        await Eventually.TrueAsync("the marker CSR to be approved", async () =>
            Csr.IsApproved(await host.Client.GetAsync<CertificateSigningRequest>(null, marker.Metadata!.Name!)));

        var after = await host.Client.GetAsync<CertificateSigningRequest>(null, denied.Metadata!.Name!);
        Assert.Equal([Csr.Denied], after.Status!.Conditions!.Select(c => c.Type));
    }
}

using System.Security.Cryptography;
using Kcm.Api.Certificates.V1;
using Kcm.Client.Errors;
using Kcm.Controllers.Certificates;
using Kcm.Controllers.Tests.Support;
using Kcm.Testing;
using Microsoft.Extensions.Logging.Abstractions;
using static Kcm.Controllers.Tests.Certificates.CertificateTestData;

namespace Kcm.Controllers.Tests.Certificates;

[Collection(CsrCollection.Name)]
public sealed class CsrCleanerControllerTests(RbacServerFixture fixture) : IClassFixture<RbacServerFixture>, IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "kcm-cleaner-" + Guid.NewGuid().ToString("N")[..8]);

    public void Dispose()
    {
        if (Directory.Exists(_dir)) Directory.Delete(_dir, recursive: true);
    }

    /// <summary>The real clock moved by <see cref="Offset"/>: the cleaner judges ages against it.</summary>
    private sealed class ShiftedClock : TimeProvider
    {
        public TimeSpan Offset { get; set; }

        public override DateTimeOffset GetUtcNow() => base.GetUtcNow() + Offset;
    }

    private static async Task<CertificateSigningRequest> WithConditionAsync(ControllerTestHost host, CertificateSigningRequest csr, string type)
    {
        csr.Status ??= new CertificateSigningRequestStatus();
        csr.Status.Conditions = [new CertificateSigningRequestCondition { Type = type, Status = "True", Reason = "Test", Message = "set by the test" }];
        return await host.Client.UpdateApprovalAsync(csr);
    }

    private static async Task<CertificateSigningRequest> IssueAsync(ControllerTestHost host, CertificateSigningRequest csr, CertificateAuthority ca, TimeSpan ttl)
    {
        var request = CertificateRequestInfo.Parse(csr.Spec!.Request, checkSignature: true);
        var der = ca.Sign(request, new SigningPolicy(ttl, ["client auth"], TimeSpan.FromMinutes(5), TimeSpan.FromHours(8)), DateTimeOffset.UtcNow);
        csr.Status!.Certificate = System.Text.Encoding.ASCII.GetBytes(PemEncoding.WriteString("CERTIFICATE", der));
        return await host.Client.UpdateStatusAsync(csr);
    }

    private static async Task<bool> ExistsAsync(ControllerTestHost host, string name)
    {
        try
        {
            await host.Client.GetAsync<CertificateSigningRequest>(null, name);
            return true;
        }
        catch (NotFoundException)
        {
            return false;
        }
    }

    [Fact]
    public async Task CleanOnce_AsTimePasses_DeletesEachKindAtItsUpstreamDeadline()
    {
        var (certFile, keyFile) = WriteCa(_dir, KeyKind.Ecdsa, DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddYears(2));
        using var caProvider = new SigningCaProvider(certFile, keyFile, NullLogger.Instance);
        await using var host = new ControllerTestHost(fixture);
        var clock = new ShiftedClock();
        var context = new ControllerContext
        {
            Clients = host.Context.Clients,
            Informers = host.Context.Informers,
            Events = host.Context.Events,
            QueueMetrics = host.Context.QueueMetrics,
            Loggers = host.Context.Loggers,
            Time = clock,
        };
        var cleaner = new CsrCleanerController(context);
        host.Start();

        CertificateSigningRequest New(string prefix) => NewCsr(UniqueName(prefix), Csr.KubeApiServerClientSignerName, CsrPem(prefix, ["devs"]), ["client auth"]);
        var issued = await IssueAsync(host, await WithConditionAsync(host, await host.Client.CreateAsync(New("issued")), Csr.Approved), caProvider.Current(), TimeSpan.FromDays(30));
        var expired = await IssueAsync(host, await WithConditionAsync(host, await host.Client.CreateAsync(New("expired")), Csr.Approved), caProvider.Current(), TimeSpan.FromMinutes(10));
        var denied = await WithConditionAsync(host, await host.Client.CreateAsync(New("denied")), Csr.Denied);
        var approvedOnly = await WithConditionAsync(host, await host.Client.CreateAsync(New("approved-only")), Csr.Approved);
        var failing = await WithConditionAsync(host, await host.Client.CreateAsync(New("failed")), Csr.Approved);
        failing.Status!.Conditions!.Add(new CertificateSigningRequestCondition { Type = Csr.Failed, Status = "True", Reason = "Test", Message = "failed by the test" });
        var failed = await host.Client.UpdateStatusAsync(failing);
        var pending = await host.Client.CreateAsync(New("pending"));
        var cache = host.Context.Informers.InformerFor<CertificateSigningRequest>().Cache;
        await Eventually.TrueAsync("the cache to hold every CSR", () => Task.FromResult(
            cache.Get(new Runtime.Informers.ObjectKey(null, pending.Metadata!.Name!)) is not null
            && cache.Get(new Runtime.Informers.ObjectKey(null, failed.Metadata!.Name!))?.Status?.Conditions?.Count == 2
            && new[] { issued, expired }.All(c => cache.Get(new Runtime.Informers.ObjectKey(null, c.Metadata!.Name!)) is { } cached && Csr.IsIssued(cached))));

        async Task<string[]> RemainingAfterAsync(TimeSpan offset)
        {
            clock.Offset = offset;
            await cleaner.CleanOnceAsync(CancellationToken.None);
            var remaining = new List<string>();
            foreach (var csr in new[] { issued, expired, denied, approvedOnly, failed, pending })
            {
                if (await ExistsAsync(host, csr.Metadata!.Name!)) remaining.Add(csr.Metadata.Name!.Split('-')[0]);
            }
            return [.. remaining];
        }

        Assert.Equal(["issued", "expired", "denied", "approved", "failed", "pending"], await RemainingAfterAsync(TimeSpan.Zero));
        // The 10-minute certificate has expired; nothing is an hour old yet.
        Assert.Equal(["issued", "denied", "approved", "failed", "pending"], await RemainingAfterAsync(TimeSpan.FromMinutes(30)));
        // An hour after approval/denial/failure those go; pending waits 24h, approved without a certificate stays.
        Assert.Equal(["approved", "pending"], await RemainingAfterAsync(TimeSpan.FromHours(2)));
        Assert.Equal(["approved"], await RemainingAfterAsync(TimeSpan.FromHours(25)));
    }
}

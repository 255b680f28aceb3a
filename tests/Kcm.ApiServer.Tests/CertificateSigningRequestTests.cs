using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json.Nodes;
using Kcm.Testing;
using static Kcm.ApiServer.Tests.Http;

namespace Kcm.ApiServer.Tests;

[Collection(ServerCollection.Name)]
public sealed class CertificateSigningRequestTests(ApiServerFixture fixture)
{
    private const string Base = "/apis/certificates.k8s.io/v1/certificatesigningrequests";
    // Upstream validation parses both: the request must be a signed CSR, a certificate must be PEM CERTIFICATE blocks.
    private static readonly string RequestB64 = Pem64(new CertificateRequest("CN=x", ECDsa.Create(ECCurve.NamedCurves.nistP256), HashAlgorithmName.SHA256).CreateSigningRequestPem());
    private static readonly string CertificateB64 = SelfSignedPem64("CN=issued");
    private static readonly string OtherCertificateB64 = SelfSignedPem64("CN=other");

    private static string Pem64(string pem) => Convert.ToBase64String(Encoding.ASCII.GetBytes(pem + "\n"));

    private static string SelfSignedPem64(string subject)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        using var cert = new CertificateRequest(subject, key, HashAlgorithmName.SHA256).CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-1), DateTimeOffset.UtcNow.AddDays(1));
        return Pem64(cert.ExportCertificatePem());
    }

    private readonly HttpClient _client = fixture.HttpClient;

    private async Task<(string Path, JsonNode Csr)> CreateAsync()
    {
        var name = "csr-" + Guid.NewGuid().ToString("N")[..8];
        var (code, created) = await PostAsync(_client, Base,
            """{"metadata":{"name":"NAME"},"spec":{"request":"REQ","signerName":"example.com/x","usages":["client auth"],"username":"mallory","groups":["system:masters"]},"status":{"certificate":"CERT"}}"""
                .Replace("NAME", name).Replace("REQ", RequestB64).Replace("CERT", CertificateB64));
        Assert.Equal(HttpStatusCode.Created, code);
        return ($"{Base}/{name}", created!);
    }

    [Fact(Timeout = 30000)]
    public async Task Create_RequesterInBody_ReplacedByAuthenticatedUserAndStatusCleared()
    {
        var (_, csr) = await CreateAsync();

        Assert.Equal("admin", Str(csr["spec"]!["username"]));
        Assert.Contains("system:masters", csr["spec"]!["groups"]!.AsArray().Select(g => Str(g)));
        Assert.Contains("system:authenticated", csr["spec"]!["groups"]!.AsArray().Select(g => Str(g)));
        Assert.Equal("{}", csr["status"]!.ToJsonString());
    }

    [Fact(Timeout = 30000)]
    public async Task Approval_SetsApprovalConditionWithTimestampsButNoCertificate()
    {
        var (path, csr) = await CreateAsync();
        csr["status"] = JsonNode.Parse("""{"certificate":"CERT","conditions":[{"type":"Approved","status":"True","reason":"R","message":"M"}]}""".Replace("CERT", CertificateB64));

        var (code, approved) = await PutAsync(_client, path + "/approval", csr);

        Assert.Equal(HttpStatusCode.OK, code);
        var condition = Assert.Single(approved!["status"]!["conditions"]!.AsArray());
        Assert.Equal("Approved", Str(condition!["type"]));
        Assert.NotEqual("", Str(condition["lastUpdateTime"]));
        Assert.NotEqual("", Str(condition["lastTransitionTime"]));
        Assert.Null(approved["status"]!["certificate"]);
    }

    [EmbeddedDiffersFact("keeps only Approved/Denied conditions from an /approval update; upstream takes the submitted conditions whole", Timeout = 30000)]
    public async Task Approval_OtherConditions_TakenAsSubmitted()
    {
        var (path, csr) = await CreateAsync();
        csr["status"] = JsonNode.Parse("""{"conditions":[{"type":"Approved","status":"True","reason":"R"},{"type":"Failed","status":"True","reason":"F"}]}""");

        var (code, approved) = await PutAsync(_client, path + "/approval", csr);

        Assert.Equal(HttpStatusCode.OK, code);
        Assert.Equal(["Approved", "Failed"], approved!["status"]!["conditions"]!.AsArray().Select(c => Str(c!["type"])));
    }

    [Fact(Timeout = 30000)]
    public async Task Status_KeepsApprovalConditionsAndFixesTheCertificate()
    {
        var (path, csr) = await CreateAsync();
        csr["status"] = JsonNode.Parse("""{"conditions":[{"type":"Approved","status":"True","reason":"R"}]}""");
        var (_, approved) = await PutAsync(_client, path + "/approval", csr);

        approved!["status"] = JsonNode.Parse("""{"certificate":"CERT","conditions":[{"type":"Approved","status":"True","reason":"Sneaky"}]}""".Replace("CERT", CertificateB64));
        var (code, issued) = await PutAsync(_client, path + "/status", approved);

        Assert.Equal(HttpStatusCode.OK, code);
        Assert.Equal(CertificateB64, Str(issued!["status"]!["certificate"]));
        var condition = Assert.Single(issued["status"]!["conditions"]!.AsArray())!;
        Assert.Equal("Approved", Str(condition["type"]));
        Assert.Equal("R", Str(condition["reason"]));

        issued["status"]!["certificate"] = OtherCertificateB64;
        var (changeCode, error) = await PutAsync(_client, path + "/status", issued);
        Assert.Equal(HttpStatusCode.UnprocessableEntity, changeCode);
        Assert.Contains("updates may not modify existing certificate content", Str(error!["message"]));
    }

    [EmbeddedDiffersFact("silently keeps the stored Approved condition when a /status update removes it or adds Denied; upstream refuses the update", Timeout = 30000)]
    public async Task Status_ReplacingApprovedWithDenied_IsInvalid()
    {
        var (path, csr) = await CreateAsync();
        csr["status"] = JsonNode.Parse("""{"conditions":[{"type":"Approved","status":"True","reason":"R"}]}""");
        var (_, approved) = await PutAsync(_client, path + "/approval", csr);

        approved!["status"] = JsonNode.Parse("""{"conditions":[{"type":"Denied","status":"True","reason":"Sneaky"}]}""");
        var (code, error) = await PutAsync(_client, path + "/status", approved);

        Assert.Equal(HttpStatusCode.UnprocessableEntity, code);
        Assert.Contains("status.conditions: Forbidden: updates may not remove a condition of type \"Approved\"", Str(error!["message"]));
        Assert.Contains("status.conditions: Forbidden: updates may not add a condition of type \"Denied\"", Str(error["message"]));
    }

    [Fact(Timeout = 30000)]
    public async Task Approval_RemovingApproved_IsInvalid()
    {
        var (path, csr) = await CreateAsync();
        csr["status"] = JsonNode.Parse("""{"conditions":[{"type":"Approved","status":"True","reason":"R"}]}""");
        var (_, approved) = await PutAsync(_client, path + "/approval", csr);

        approved!["status"] = JsonNode.Parse("""{"conditions":[{"type":"Denied","status":"True","reason":"R"}]}""");
        var (code, error) = await PutAsync(_client, path + "/approval", approved);

        Assert.Equal(HttpStatusCode.UnprocessableEntity, code);
        Assert.Contains("updates may not remove a condition of type \"Approved\"", Str(error!["message"]));
    }
}

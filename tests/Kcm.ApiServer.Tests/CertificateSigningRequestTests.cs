using System.Net;
using System.Text.Json.Nodes;
using static Kcm.ApiServer.Tests.Http;

namespace Kcm.ApiServer.Tests;

[Collection(ServerCollection.Name)]
public sealed class CertificateSigningRequestTests(ApiServerFixture fixture)
{
    private const string Base = "/apis/certificates.k8s.io/v1/certificatesigningrequests";
    // Any base64 will do: the server does not parse the request.
    private const string RequestB64 = "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURSBSRVFVRVNULS0tLS0KLS0tLS1FTkQgQ0VSVElGSUNBVEUgUkVRVUVTVC0tLS0tCg==";
    private const string CertificateB64 = "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCk1JSUIKLS0tLS1FTkQgQ0VSVElGSUNBVEUtLS0tLQo=";

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
    public async Task Approval_SetsOnlyApprovalConditionsWithTimestamps()
    {
        var (path, csr) = await CreateAsync();
        csr["status"] = JsonNode.Parse("""{"certificate":"CERT","conditions":[{"type":"Approved","status":"True","reason":"R","message":"M"},{"type":"Failed","status":"True","reason":"F"}]}""".Replace("CERT", CertificateB64));

        var (code, approved) = await PutAsync(_client, path + "/approval", csr);

        Assert.Equal(HttpStatusCode.OK, code);
        var condition = Assert.Single(approved!["status"]!["conditions"]!.AsArray());
        Assert.Equal("Approved", Str(condition!["type"]));
        Assert.NotEqual("", Str(condition["lastUpdateTime"]));
        Assert.NotEqual("", Str(condition["lastTransitionTime"]));
        Assert.Null(approved["status"]!["certificate"]);
    }

    [Fact(Timeout = 30000)]
    public async Task Status_KeepsApprovalConditionsAndFixesTheCertificate()
    {
        var (path, csr) = await CreateAsync();
        csr["status"] = JsonNode.Parse("""{"conditions":[{"type":"Approved","status":"True","reason":"R"}]}""");
        var (_, approved) = await PutAsync(_client, path + "/approval", csr);

        approved!["status"] = JsonNode.Parse("""{"certificate":"CERT","conditions":[{"type":"Denied","status":"True","reason":"Sneaky"}]}""".Replace("CERT", CertificateB64));
        var (code, issued) = await PutAsync(_client, path + "/status", approved);

        Assert.Equal(HttpStatusCode.OK, code);
        Assert.Equal(CertificateB64, Str(issued!["status"]!["certificate"]));
        Assert.Equal(["Approved"], issued["status"]!["conditions"]!.AsArray().Select(c => Str(c!["type"])));

        issued["status"]!["certificate"] = RequestB64;
        var (changeCode, error) = await PutAsync(_client, path + "/status", issued);
        Assert.Equal(HttpStatusCode.UnprocessableEntity, changeCode);
        Assert.Contains("updates may not modify existing certificate content", Str(error!["message"]));
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

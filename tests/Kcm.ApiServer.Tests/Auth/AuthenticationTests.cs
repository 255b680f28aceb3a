using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Kcm.ApiServer.Authentication.ServiceAccounts;
using static Kcm.ApiServer.Tests.Auth.AuthHttp;
using static Kcm.ApiServer.Tests.Http;

namespace Kcm.ApiServer.Tests.Auth;

[Collection(AuthCollection.Name)]
public sealed class AuthenticationTests(AuthServerFixture fixture)
{
    private readonly HttpClient _admin = fixture.HttpClient;

    [Fact(Timeout = 30000)]
    public async Task StaticToken_FromTokenFile_AuthenticatesWithUidAndGroups()
    {
        var status = await TokenReviewAsync(_admin, AuthServerFixture.AliceToken);
        Assert.True(status["authenticated"]!.GetValue<bool>());
        Assert.Equal("alice", Str(status["user"]!["username"]));
        Assert.Equal("uid-alice", Str(status["user"]!["uid"]));
        Assert.Equal(["team-a", "team-b", "system:authenticated"], Strings(status["user"]!["groups"]));
        Assert.Equal(["https://kubernetes.default.svc.cluster.local"], Strings(status["audiences"]));

        using var root = fixture.ClientWithToken(AuthServerFixture.RootToken);
        Assert.Equal(HttpStatusCode.OK, (await GetAsync(root, "/api/v1/namespaces")).Code);
    }

    [Fact(Timeout = 30000)]
    public async Task AdminToken_InStateDirectory_IsSuperuser()
    {
        var token = File.ReadAllText(Path.Combine(fixture.StateDirectory, "admin-token")).Trim();
        using var client = fixture.ClientWithToken(token);
        Assert.Equal(HttpStatusCode.OK, (await GetAsync(client, "/api/v1/namespaces/kube-system/secrets")).Code);
    }

    [Fact(Timeout = 30000)]
    public async Task UnknownBearerToken_Request_Unauthorized()
    {
        using var client = fixture.ClientWithToken("nope");
        var (code, body) = await GetAsync(client, "/api/v1/namespaces");
        Assert.Equal(HttpStatusCode.Unauthorized, code);
        Assert.Equal("Unauthorized", Str(body!["reason"]));
        var status = await TokenReviewAsync(_admin, "nope");
        Assert.Null(status["authenticated"]);
        Assert.Equal("invalid bearer token", Str(status["error"]));
    }

    [Fact(Timeout = 30000)]
    public async Task BootstrapToken_Valid_AuthenticatesAsBootstrapUser()
    {
        await CreateBootstrapSecretAsync("abc123", "0123456789abcdef", fixture.Clock.GetUtcNow().AddHours(1), usage: true,
            extraGroups: "system:bootstrappers:kubeadm:default-node-token");
        var status = await TokenReviewAsync(_admin, "abc123.0123456789abcdef");
        Assert.True(status["authenticated"]!.GetValue<bool>());
        Assert.Equal("system:bootstrap:abc123", Str(status["user"]!["username"]));
        Assert.Equal(["system:bootstrappers", "system:bootstrappers:kubeadm:default-node-token", "system:authenticated"],
            Strings(status["user"]!["groups"]));

        using var client = fixture.ClientWithToken("abc123.0123456789abcdef");
        var (code, body) = await GetAsync(client, "/api/v1/namespaces");
        Assert.Equal(HttpStatusCode.Forbidden, code);
        Assert.Contains("User \"system:bootstrap:abc123\"", Str(body!["message"]));

        using var wrongSecret = fixture.ClientWithToken("abc123.0123456789abcdee");
        Assert.Equal(HttpStatusCode.Unauthorized, (await GetAsync(wrongSecret, "/api/v1/namespaces")).Code);
    }

    [Fact(Timeout = 30000)]
    public async Task BootstrapToken_Expired_Unauthorized()
    {
        await CreateBootstrapSecretAsync("exp123", "0123456789abcdef", fixture.Clock.GetUtcNow().AddMinutes(-1), usage: true, extraGroups: null);
        using var client = fixture.ClientWithToken("exp123.0123456789abcdef");
        Assert.Equal(HttpStatusCode.Unauthorized, (await GetAsync(client, "/api/v1/namespaces")).Code);
        Assert.Null((await TokenReviewAsync(_admin, "exp123.0123456789abcdef"))["authenticated"]);
    }

    [Fact(Timeout = 30000)]
    public async Task BootstrapToken_WithoutAuthenticationUsage_Unauthorized()
    {
        await CreateBootstrapSecretAsync("nou123", "0123456789abcdef", fixture.Clock.GetUtcNow().AddHours(1), usage: false, extraGroups: null);
        using var client = fixture.ClientWithToken("nou123.0123456789abcdef");
        Assert.Equal(HttpStatusCode.Unauthorized, (await GetAsync(client, "/api/v1/namespaces")).Code);
    }

    [Fact(Timeout = 30000)]
    public async Task LegacyServiceAccountToken_WhileSecretAndAccountExist_Authenticates()
    {
        var ns = await CreateNamespaceAsync(_admin);
        var uid = await CreateServiceAccountAsync(_admin, ns, "legacy");
        var signer = ServiceAccountTokenSigner.Load(Path.Combine(fixture.StateDirectory, "ca-key.pem"));
        var token = signer.Sign(new JsonObject
        {
            ["iss"] = "kubernetes/serviceaccount",
            ["kubernetes.io/serviceaccount/namespace"] = ns,
            ["kubernetes.io/serviceaccount/secret.name"] = "legacy-token",
            ["kubernetes.io/serviceaccount/service-account.name"] = "legacy",
            ["kubernetes.io/serviceaccount/service-account.uid"] = uid,
            ["sub"] = $"system:serviceaccount:{ns}:legacy",
        });
        // Before its secret exists the token is not honoured.
        Assert.Equal("Token has been invalidated", Str((await TokenReviewAsync(_admin, token))["error"]));
        var data = Convert.ToBase64String(Encoding.UTF8.GetBytes(token));
        await CreateAsync(_admin, $"/api/v1/namespaces/{ns}/secrets",
            $$$"""{"apiVersion":"v1","kind":"Secret","metadata":{"name":"legacy-token"},"type":"kubernetes.io/service-account-token","data":{"token":"{{{data}}}"}}""");

        var status = await TokenReviewAsync(_admin, token);
        Assert.True(status["authenticated"]!.GetValue<bool>(), status.ToJsonString());
        Assert.Equal($"system:serviceaccount:{ns}:legacy", Str(status["user"]!["username"]));
        Assert.Equal(uid, Str(status["user"]!["uid"]));
        Assert.Equal(["system:serviceaccounts", $"system:serviceaccounts:{ns}", "system:authenticated"], Strings(status["user"]!["groups"]));

        using var client = fixture.ClientWithToken(token);
        var (code, body) = await GetAsync(client, $"/api/v1/namespaces/{ns}/pods");
        Assert.Equal(HttpStatusCode.Forbidden, code);
        Assert.Equal($"pods is forbidden: User \"system:serviceaccount:{ns}:legacy\" cannot list resource \"pods\" in API group \"\" in the namespace \"{ns}\"",
            Str(body!["message"]));

        Assert.Equal(HttpStatusCode.OK, (await DeleteAsync(_admin, $"/api/v1/namespaces/{ns}/serviceaccounts/legacy")).Code);
        Assert.Equal("serviceaccounts \"legacy\" not found", Str((await TokenReviewAsync(_admin, token))["error"]));
        Assert.Equal(HttpStatusCode.Unauthorized, (await GetAsync(client, $"/api/v1/namespaces/{ns}/pods")).Code);
    }

    [Fact(Timeout = 30000)]
    public async Task TokenRequest_Token_AuthenticatesUntilAccountDeleted()
    {
        var ns = await CreateNamespaceAsync(_admin);
        var uid = await CreateServiceAccountAsync(_admin, ns, "bound");
        var response = await RequestTokenAsync(_admin, ns, "bound");
        Assert.Equal("TokenRequest", Str(response["kind"]));
        Assert.Equal(3600, response["spec"]!["expirationSeconds"]!.GetValue<long>());
        Assert.Equal(["https://kubernetes.default.svc.cluster.local"], Strings(response["spec"]!["audiences"]));
        var token = Str(response["status"]!["token"]);
        Assert.NotEmpty(Str(response["status"]!["expirationTimestamp"]));

        var status = await TokenReviewAsync(_admin, token);
        Assert.True(status["authenticated"]!.GetValue<bool>(), status.ToJsonString());
        Assert.Equal($"system:serviceaccount:{ns}:bound", Str(status["user"]!["username"]));
        Assert.Equal(uid, Str(status["user"]!["uid"]));

        using var client = fixture.ClientWithToken(token);
        Assert.Equal(HttpStatusCode.Forbidden, (await GetAsync(client, $"/api/v1/namespaces/{ns}/configmaps")).Code);
        await CreateAsync(_admin, $"/apis/rbac.authorization.k8s.io/v1/namespaces/{ns}/rolebindings",
            $$"""{"apiVersion":"rbac.authorization.k8s.io/v1","kind":"RoleBinding","metadata":{"name":"sa-view"},"roleRef":{"apiGroup":"rbac.authorization.k8s.io","kind":"ClusterRole","name":"view"},"subjects":[{"kind":"ServiceAccount","name":"bound"}]}""");
        Assert.Equal(HttpStatusCode.OK, (await GetAsync(client, $"/api/v1/namespaces/{ns}/configmaps")).Code);

        Assert.Equal(HttpStatusCode.OK, (await DeleteAsync(_admin, $"/api/v1/namespaces/{ns}/serviceaccounts/bound")).Code);
        Assert.Equal(HttpStatusCode.Unauthorized, (await GetAsync(client, $"/api/v1/namespaces/{ns}/configmaps")).Code);
        Assert.Equal("serviceaccounts \"bound\" not found", Str((await TokenReviewAsync(_admin, token))["error"]));
    }

    [Fact(Timeout = 30000)]
    public async Task TokenRequest_OtherAudience_RejectedForApiButReviewable()
    {
        var ns = await CreateNamespaceAsync(_admin);
        await CreateServiceAccountAsync(_admin, ns, "aud");
        var token = Str((await RequestTokenAsync(_admin, ns, "aud", """{"audiences":["vault"]}"""))["status"]!["token"]);
        using var client = fixture.ClientWithToken(token);
        Assert.Equal(HttpStatusCode.Unauthorized, (await GetAsync(client, "/api/v1/namespaces")).Code);
        var status = await TokenReviewAsync(_admin, token);
        Assert.Equal("token audiences [\"vault\"] is invalid for the target audiences [\"https://kubernetes.default.svc.cluster.local\"]", Str(status["error"]));
        var forVault = await TokenReviewAsync(_admin, token, "vault");
        Assert.True(forVault["authenticated"]!.GetValue<bool>());
        Assert.Equal(["vault"], Strings(forVault["audiences"]));
    }

    [Fact(Timeout = 30000)]
    public async Task TokenRequest_BoundToPod_CarriesPodAndDiesWithIt()
    {
        var ns = await CreateNamespaceAsync(_admin);
        await CreateServiceAccountAsync(_admin, ns, "runner");
        await CreateAsync(_admin, $"/api/v1/namespaces/{ns}/pods",
            """{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},"spec":{"serviceAccountName":"runner","containers":[{"name":"c","image":"busybox"}]}}""");
        var podUid = Str((await GetAsync(_admin, $"/api/v1/namespaces/{ns}/pods/p")).Body!["metadata"]!["uid"]);
        var token = Str((await RequestTokenAsync(_admin, ns, "runner", """{"boundObjectRef":{"apiVersion":"v1","kind":"Pod","name":"p"}}"""))["status"]!["token"]);
        var status = await TokenReviewAsync(_admin, token);
        Assert.Equal(["p"], Strings(status["user"]!["extra"]!["authentication.kubernetes.io/pod-name"]));
        Assert.Equal([podUid], Strings(status["user"]!["extra"]!["authentication.kubernetes.io/pod-uid"]));
        Assert.Equal(HttpStatusCode.OK, (await DeleteAsync(_admin, $"/api/v1/namespaces/{ns}/pods/p")).Code);
        Assert.Equal("service account token has been invalidated", Str((await TokenReviewAsync(_admin, token))["error"]));
    }

    [Fact(Timeout = 30000)]
    public async Task TokenRequest_ExpirationBelowTenMinutes_Invalid()
    {
        var ns = await CreateNamespaceAsync(_admin);
        await CreateServiceAccountAsync(_admin, ns, "short");
        var (code, body) = await PostAsync(_admin, $"/api/v1/namespaces/{ns}/serviceaccounts/short/token",
            """{"apiVersion":"authentication.k8s.io/v1","kind":"TokenRequest","spec":{"expirationSeconds":599}}""");
        Assert.Equal(HttpStatusCode.UnprocessableEntity, code);
        Assert.Equal("TokenRequest.authentication.k8s.io \"\" is invalid: spec.expirationSeconds: Invalid value: 599: may not specify a duration less than 10 minutes",
            Str(body!["message"]));
        Assert.Equal(HttpStatusCode.NotFound, (await PostAsync(_admin, $"/api/v1/namespaces/{ns}/serviceaccounts/missing/token",
            """{"apiVersion":"authentication.k8s.io/v1","kind":"TokenRequest","spec":{}}""")).Code);
    }

    [Fact(Timeout = 30000)]
    public async Task TokenRequest_AfterExpiry_Unauthorized()
    {
        var ns = await CreateNamespaceAsync(_admin);
        await CreateServiceAccountAsync(_admin, ns, "ages");
        var token = Str((await RequestTokenAsync(_admin, ns, "ages", """{"expirationSeconds":600}"""))["status"]!["token"]);
        Assert.True((await TokenReviewAsync(_admin, token))["authenticated"]!.GetValue<bool>());
        // Past exp plus go-jose's one-minute leeway. Tokens in other tests are issued against the moved clock.
        fixture.Clock.Advance(TimeSpan.FromMinutes(12));
        Assert.Equal("service account token has expired", Str((await TokenReviewAsync(_admin, token))["error"]));
        using var client = fixture.ClientWithToken(token);
        Assert.Equal(HttpStatusCode.Unauthorized, (await GetAsync(client, "/api/v1/namespaces")).Code);
    }

    private async Task CreateBootstrapSecretAsync(string id, string secret, DateTimeOffset expiration, bool usage, string? extraGroups)
    {
        static string B64(string s) => Convert.ToBase64String(Encoding.UTF8.GetBytes(s));
        var data = new JsonObject
        {
            ["token-id"] = B64(id),
            ["token-secret"] = B64(secret),
            ["expiration"] = B64(expiration.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'")),
        };
        if (usage) data["usage-bootstrap-authentication"] = B64("true");
        if (extraGroups is not null) data["auth-extra-groups"] = B64(extraGroups);
        var body = new JsonObject
        {
            ["apiVersion"] = "v1",
            ["kind"] = "Secret",
            ["metadata"] = new JsonObject { ["name"] = "bootstrap-token-" + id },
            ["type"] = "bootstrap.kubernetes.io/token",
            ["data"] = data,
        };
        await CreateAsync(_admin, "/api/v1/namespaces/kube-system/secrets", body.ToJsonString());
    }
}

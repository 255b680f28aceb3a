using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Kcm.ApiServer.Authentication.ServiceAccounts;
using Kcm.Testing;
using static Kcm.ApiServer.Tests.Auth.AuthHttp;
using static Kcm.ApiServer.Tests.Http;

namespace Kcm.ApiServer.Tests.Auth;

[Collection(AuthCollection.Name)]
public sealed class AuthenticationTests(AuthServerFixture fixture)
{
    private readonly HttpClient _admin = fixture.HttpClient;

    [EmbeddedOnlyFact("static tokens come from the fixture's --token-auth-file", Timeout = 30000)]
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

    [EmbeddedOnlyFact("reads the admin-token file the embedded server writes into its state directory", Timeout = 30000)]
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
        var id = NewTokenId();
        await CreateBootstrapSecretAsync(id, "0123456789abcdef", fixture.Clock.GetUtcNow().AddHours(1), usage: true,
            extraGroups: "system:bootstrappers:kubeadm:default-node-token");
        var status = await Eventually.GetAsync("bootstrap token accepted", async () =>
        {
            var review = await TokenReviewAsync(_admin, $"{id}.0123456789abcdef");
            return review["authenticated"] is null ? null : review;
        });
        Assert.True(status["authenticated"]!.GetValue<bool>());
        Assert.Equal($"system:bootstrap:{id}", Str(status["user"]!["username"]));
        Assert.Equal(["system:bootstrappers", "system:bootstrappers:kubeadm:default-node-token", "system:authenticated"],
            Strings(status["user"]!["groups"]));

        using var client = fixture.ClientWithToken($"{id}.0123456789abcdef");
        var (code, body) = await GetAsync(client, "/api/v1/namespaces");
        Assert.Equal(HttpStatusCode.Forbidden, code);
        Assert.Contains($"User \"system:bootstrap:{id}\"", Str(body!["message"]));

        using var wrongSecret = fixture.ClientWithToken($"{id}.0123456789abcdee");
        Assert.Equal(HttpStatusCode.Unauthorized, (await GetAsync(wrongSecret, "/api/v1/namespaces")).Code);
    }

    [Fact(Timeout = 30000)]
    public async Task BootstrapToken_Expired_Unauthorized()
    {
        var id = NewTokenId();
        await CreateBootstrapSecretAsync(id, "0123456789abcdef", fixture.Clock.GetUtcNow().AddMinutes(-1), usage: true, extraGroups: null);
        using var client = fixture.ClientWithToken($"{id}.0123456789abcdef");
        Assert.Equal(HttpStatusCode.Unauthorized, (await GetAsync(client, "/api/v1/namespaces")).Code);
        Assert.Null((await TokenReviewAsync(_admin, $"{id}.0123456789abcdef"))["authenticated"]);
    }

    [Fact(Timeout = 30000)]
    public async Task BootstrapToken_WithoutAuthenticationUsage_Unauthorized()
    {
        var id = NewTokenId();
        await CreateBootstrapSecretAsync(id, "0123456789abcdef", fixture.Clock.GetUtcNow().AddHours(1), usage: false, extraGroups: null);
        using var client = fixture.ClientWithToken($"{id}.0123456789abcdef");
        Assert.Equal(HttpStatusCode.Unauthorized, (await GetAsync(client, "/api/v1/namespaces")).Code);
    }

    [Fact(Timeout = 30000)]
    public async Task LegacyServiceAccountToken_WhileSecretAndAccountExist_Authenticates()
    {
        var ns = await CreateNamespaceAsync(_admin);
        var uid = await CreateServiceAccountAsync(_admin, ns, "legacy");
        var signer = ServiceAccountTokenSigner.Load(fixture.ServiceAccountKeyPath);
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
        Assert.Contains("Token has been invalidated", Str((await TokenReviewAsync(_admin, token))["error"]));
        var data = Convert.ToBase64String(Encoding.UTF8.GetBytes(token));
        await CreateAsync(_admin, $"/api/v1/namespaces/{ns}/secrets",
            $$$"""{"apiVersion":"v1","kind":"Secret","metadata":{"name":"legacy-token","annotations":{"kubernetes.io/service-account.name":"legacy"}},"type":"kubernetes.io/service-account-token","data":{"token":"{{{data}}}"}}""");

        // A real apiserver looks the secret up in its informer cache, so the token is honoured once that has caught up.
        var status = await AuthenticatedReviewAsync(token);
        Assert.Equal($"system:serviceaccount:{ns}:legacy", Str(status["user"]!["username"]));
        Assert.Equal(uid, Str(status["user"]!["uid"]));
        Assert.Equal(["system:serviceaccounts", $"system:serviceaccounts:{ns}", "system:authenticated"], Strings(status["user"]!["groups"]));

        using var client = fixture.ClientWithToken(token);
        var (code, body) = await GetAsync(client, $"/api/v1/namespaces/{ns}/pods");
        Assert.Equal(HttpStatusCode.Forbidden, code);
        Assert.Equal($"pods is forbidden: User \"system:serviceaccount:{ns}:legacy\" cannot list resource \"pods\" in API group \"\" in the namespace \"{ns}\"",
            Str(body!["message"]));

        Assert.Equal(HttpStatusCode.OK, (await DeleteAsync(_admin, $"/api/v1/namespaces/{ns}/serviceaccounts/legacy")).Code);
        await ReviewErrorAsync(token, "serviceaccounts \"legacy\" not found");
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

        var status = await AuthenticatedReviewAsync(token);
        Assert.Equal($"system:serviceaccount:{ns}:bound", Str(status["user"]!["username"]));
        Assert.Equal(uid, Str(status["user"]!["uid"]));

        using var client = fixture.ClientWithToken(token);
        Assert.Equal(HttpStatusCode.Forbidden, (await GetAsync(client, $"/api/v1/namespaces/{ns}/configmaps")).Code);
        // A Role of our own: the aggregated `view` gets its rules from a controller that a bare apiserver lacks.
        await CreateAsync(_admin, $"/apis/rbac.authorization.k8s.io/v1/namespaces/{ns}/roles",
            """{"apiVersion":"rbac.authorization.k8s.io/v1","kind":"Role","metadata":{"name":"cm-view"},"rules":[{"apiGroups":[""],"resources":["configmaps"],"verbs":["list"]}]}""");
        await CreateAsync(_admin, $"/apis/rbac.authorization.k8s.io/v1/namespaces/{ns}/rolebindings",
            """{"apiVersion":"rbac.authorization.k8s.io/v1","kind":"RoleBinding","metadata":{"name":"sa-view"},"roleRef":{"apiGroup":"rbac.authorization.k8s.io","kind":"Role","name":"cm-view"},"subjects":[{"kind":"ServiceAccount","name":"bound"}]}""");
        // RBAC and service-account lookups read informer caches on a real apiserver: changes show after a moment.
        await Eventually.TrueAsync("the new RoleBinding admits the token", async () => (await GetAsync(client, $"/api/v1/namespaces/{ns}/configmaps")).Code == HttpStatusCode.OK);

        Assert.Equal(HttpStatusCode.OK, (await DeleteAsync(_admin, $"/api/v1/namespaces/{ns}/serviceaccounts/bound")).Code);
        await ReviewErrorAsync(token, "serviceaccounts \"bound\" not found");
        Assert.Equal(HttpStatusCode.Unauthorized, (await GetAsync(client, $"/api/v1/namespaces/{ns}/configmaps")).Code);
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
        // A real apiserver lists every authenticator's complaint ("[invalid bearer token, token audiences ...]").
        Assert.Contains("token audiences [\"vault\"] is invalid for the target audiences [\"https://kubernetes.default.svc.cluster.local\"]", Str(status["error"]));
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
        var status = await AuthenticatedReviewAsync(token);
        Assert.Equal(["p"], Strings(status["user"]!["extra"]!["authentication.kubernetes.io/pod-name"]));
        Assert.Equal([podUid], Strings(status["user"]!["extra"]!["authentication.kubernetes.io/pod-uid"]));
        Assert.Equal(HttpStatusCode.OK, (await DeleteAsync(_admin, $"/api/v1/namespaces/{ns}/pods/p")).Code);
        await ReviewErrorAsync(token, "service account token has been invalidated");
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

    [EmbeddedOnlyFact("moves the embedded server's clock past the token's expiry", Timeout = 30000)]
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

    private Task<JsonNode> AuthenticatedReviewAsync(string token) => Eventually.GetAsync("token authenticated", async () =>
    {
        var status = await TokenReviewAsync(_admin, token);
        return status["authenticated"]?.GetValue<bool>() == true ? status : null;
    });

    // A real apiserver lists every token authenticator's complaint ("[invalid bearer token, <error>]"); ours gives the one that matters.
    private Task ReviewErrorAsync(string token, string error) => Eventually.TrueAsync($"token review error \"{error}\"",
        async () => Str((await TokenReviewAsync(_admin, token))["error"]).Contains(error, StringComparison.Ordinal));

    // Bootstrap token secrets live in kube-system: a fresh id per test keeps runs on a shared cluster apart.
    private static string NewTokenId() => "t" + Guid.NewGuid().ToString("N")[..5];

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

using System.Net;
using System.Text.Json.Nodes;
using Kcm.Testing;
using static Kcm.ApiServer.Tests.Auth.AuthHttp;
using static Kcm.ApiServer.Tests.Http;

namespace Kcm.ApiServer.Tests.Auth;

[Collection(AuthCollection.Name)]
public sealed class AuthorizationTests(AuthServerFixture fixture)
{
    private const string Rbac = "rbac.authorization.k8s.io";
    private readonly HttpClient _admin = fixture.HttpClient;

    [Fact(Timeout = 30000)]
    public async Task RoleBinding_ToUser_AllowsOnlyInItsNamespace()
    {
        var ns = await CreateNamespaceAsync(_admin);
        var other = await CreateNamespaceAsync(_admin);
        await CreateRoleAsync(ns, "cm-reader", """[{"apiGroups":[""],"resources":["configmaps"],"verbs":["get","list"]}]""");
        await BindAsync(ns, "alice-cm", "Role", "cm-reader", """[{"kind":"User","apiGroup":"rbac.authorization.k8s.io","name":"alice"}]""");
        using var alice = fixture.ClientWithToken(AuthServerFixture.AliceToken);

        await Eventually.TrueAsync("the RoleBinding admits alice", async () => (await GetAsync(alice, $"/api/v1/namespaces/{ns}/configmaps")).Code == HttpStatusCode.OK);
        var (code, body) = await GetAsync(alice, $"/api/v1/namespaces/{other}/configmaps");
        Assert.Equal(HttpStatusCode.Forbidden, code);
        Assert.Equal(Canon($$"""{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"configmaps is forbidden: User \"alice\" cannot list resource \"configmaps\" in API group \"\" in the namespace \"{{other}}\"","reason":"Forbidden","details":{"kind":"configmaps"},"code":403}"""),
            body!.ToJsonString());
        (code, body) = await GetAsync(alice, "/api/v1/configmaps");
        Assert.Equal(HttpStatusCode.Forbidden, code);
        Assert.Equal("configmaps is forbidden: User \"alice\" cannot list resource \"configmaps\" in API group \"\" at the cluster scope", Str(body!["message"]));
        (code, body) = await PostAsync(alice, $"/api/v1/namespaces/{ns}/configmaps", """{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"x"}}""");
        Assert.Equal(HttpStatusCode.Forbidden, code);
        Assert.Equal($"configmaps is forbidden: User \"alice\" cannot create resource \"configmaps\" in API group \"\" in the namespace \"{ns}\"", Str(body!["message"]));
    }

    [Fact(Timeout = 30000)]
    public async Task ClusterRoleBinding_ToGroup_AllowsClusterWide()
    {
        var role = "nodes-reader-" + Guid.NewGuid().ToString("N")[..6];
        await CreateAsync(_admin, $"/apis/{Rbac}/v1/clusterroles",
            $$"""{"apiVersion":"{{Rbac}}/v1","kind":"ClusterRole","metadata":{"name":"{{role}}"},"rules":[{"apiGroups":[""],"resources":["nodes"],"verbs":["list"]}]}""");
        await CreateAsync(_admin, $"/apis/{Rbac}/v1/clusterrolebindings",
            $$"""{"apiVersion":"{{Rbac}}/v1","kind":"ClusterRoleBinding","metadata":{"name":"{{role}}"},"roleRef":{"apiGroup":"{{Rbac}}","kind":"ClusterRole","name":"{{role}}"},"subjects":[{"kind":"Group","apiGroup":"{{Rbac}}","name":"team-b"},{"kind":"Group","apiGroup":"{{Rbac}}","name":"{{role}}-group"}]}""");
        using var alice = fixture.ClientWithToken(AuthServerFixture.AliceToken);
        using var bob = fixture.ClientWithToken(AuthServerFixture.BobToken);
        await Eventually.TrueAsync("the ClusterRoleBinding admits team-b", async () => (await GetAsync(alice, "/api/v1/nodes")).Code == HttpStatusCode.OK);
        var (code, body) = await GetAsync(bob, "/api/v1/nodes/n1");
        Assert.Equal(HttpStatusCode.Forbidden, code);
        Assert.Equal(Canon("""{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"nodes \"n1\" is forbidden: User \"bob\" cannot get resource \"nodes\" in API group \"\" at the cluster scope","reason":"Forbidden","details":{"name":"n1","kind":"nodes"},"code":403}"""),
            body!.ToJsonString());

        // A group only this binding names: other bindings to team-b may exist on a shared cluster.
        var status = await SubjectAccessReviewAsync(_admin, "someone", [role + "-group"], "list", "nodes");
        Assert.True(status["allowed"]!.GetValue<bool>());
        Assert.Equal($"RBAC: allowed by ClusterRoleBinding \"{role}\" of ClusterRole \"{role}\" to Group \"{role}-group\"", Str(status["reason"]));
    }

    [Fact(Timeout = 30000)]
    public async Task ResourceNamesAndSubresources_MatchAsUpstream()
    {
        var ns = await CreateNamespaceAsync(_admin);
        await CreateRoleAsync(ns, "narrow", """
            [{"apiGroups":[""],"resources":["secrets"],"resourceNames":["allowed"],"verbs":["get"]},
             {"apiGroups":[""],"resources":["pods/status"],"verbs":["update"]},
             {"apiGroups":["apps"],"resources":["*/scale"],"verbs":["get"]}]
            """);
        await BindAsync(ns, "bob-narrow", "Role", "narrow", """[{"kind":"User","apiGroup":"rbac.authorization.k8s.io","name":"bob"}]""");

        await Eventually.TrueAsync("the RoleBinding is seen", async () => (await Sar("get", "secrets", ns, name: "allowed"))["allowed"]!.GetValue<bool>());
        Assert.False((await Sar("get", "secrets", ns, name: "other"))["allowed"]!.GetValue<bool>());
        Assert.False((await Sar("list", "secrets", ns))["allowed"]!.GetValue<bool>());
        Assert.True((await Sar("update", "pods", ns, subresource: "status"))["allowed"]!.GetValue<bool>());
        Assert.False((await Sar("update", "pods", ns))["allowed"]!.GetValue<bool>());
        Assert.True((await Sar("get", "deployments", ns, group: "apps", subresource: "scale"))["allowed"]!.GetValue<bool>());
        Assert.False((await Sar("get", "deployments", ns, group: "apps"))["allowed"]!.GetValue<bool>());

        using var bob = fixture.ClientWithToken(AuthServerFixture.BobToken);
        var (code, body) = await PutAsync(bob, $"/api/v1/namespaces/{ns}/pods/p/status", JsonNode.Parse("""{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"}}""")!);
        Assert.Equal(HttpStatusCode.NotFound, code);
        (code, body) = await GetAsync(bob, $"/api/v1/namespaces/{ns}/pods/p/status");
        Assert.Equal(HttpStatusCode.Forbidden, code);
        Assert.Equal($"pods \"p\" is forbidden: User \"bob\" cannot get resource \"pods/status\" in API group \"\" in the namespace \"{ns}\"", Str(body!["message"]));
        // A list narrowed to one name by fieldSelector is authorized as that name.
        Assert.Equal(HttpStatusCode.Forbidden, (await GetAsync(bob, $"/api/v1/namespaces/{ns}/secrets")).Code);

        Task<JsonNode> Sar(string verb, string resource, string @namespace, string group = "", string name = "", string subresource = "")
            => SubjectAccessReviewAsync(_admin, "bob", [], verb, resource, @namespace, group, name, subresource);
    }

    [Fact(Timeout = 30000)]
    public async Task NonResourceUrls_WildcardSuffix_Matches()
    {
        var role = "logs-" + Guid.NewGuid().ToString("N")[..6];
        await CreateAsync(_admin, $"/apis/{Rbac}/v1/clusterroles",
            $$"""{"apiVersion":"{{Rbac}}/v1","kind":"ClusterRole","metadata":{"name":"{{role}}"},"rules":[{"nonResourceURLs":["/logs/*","/metrics"],"verbs":["get"]}]}""");
        await CreateAsync(_admin, $"/apis/{Rbac}/v1/clusterrolebindings",
            $$"""{"apiVersion":"{{Rbac}}/v1","kind":"ClusterRoleBinding","metadata":{"name":"{{role}}"},"roleRef":{"apiGroup":"{{Rbac}}","kind":"ClusterRole","name":"{{role}}"},"subjects":[{"kind":"User","apiGroup":"{{Rbac}}","name":"{{role}}-user"}]}""");
        await Eventually.TrueAsync("the ClusterRoleBinding is seen", async () => (await NonResource(role + "-user", "/logs/kube.log"))["allowed"]!.GetValue<bool>());
        Assert.True((await NonResource(role + "-user", "/metrics"))["allowed"]!.GetValue<bool>());
        Assert.False((await NonResource(role + "-user", "/metrics/slis"))["allowed"]!.GetValue<bool>());
        Assert.False((await NonResource(role + "-user", "/logs"))["allowed"]!.GetValue<bool>());

        async Task<JsonNode> NonResource(string user, string path)
        {
            var (code, body) = await PostAsync(_admin, "/apis/authorization.k8s.io/v1/subjectaccessreviews",
                "{\"apiVersion\":\"authorization.k8s.io/v1\",\"kind\":\"SubjectAccessReview\",\"spec\":{\"user\":\"" + user + "\",\"nonResourceAttributes\":{\"path\":\"" + path + "\",\"verb\":\"get\"}}}");
            Assert.Equal(HttpStatusCode.Created, code);
            return body!["status"]!;
        }
    }

    [Fact(Timeout = 30000)]
    public async Task ServiceAccountSubject_WithoutNamespace_UsesBindingNamespace()
    {
        var ns = await CreateNamespaceAsync(_admin);
        await CreateRoleAsync(ns, "pod-lister", """[{"apiGroups":[""],"resources":["pods"],"verbs":["list"]}]""");
        await BindAsync(ns, "sa-pods", "Role", "pod-lister", """[{"kind":"ServiceAccount","name":"worker"}]""");
        var sa = $"system:serviceaccount:{ns}:worker";
        var status = await Eventually.GetAsync("the RoleBinding is seen", async () =>
        {
            var review = await SubjectAccessReviewAsync(_admin, sa, [], "list", "pods", ns);
            return review["allowed"]!.GetValue<bool>() ? review : null;
        });
        Assert.Equal($"RBAC: allowed by RoleBinding \"sa-pods/{ns}\" of Role \"pod-lister\" to ServiceAccount \"worker/{ns}\"", Str(status["reason"]));
        Assert.False((await SubjectAccessReviewAsync(_admin, $"system:serviceaccount:other:worker", [], "list", "pods", ns))["allowed"]!.GetValue<bool>());
    }

    [EmbeddedDiffersFact("also reports a binding's missing role in status.evaluationError; upstream's RBAC authorizer puts it only in the reason", Timeout = 30000)]
    public async Task BindingToMissingRole_DeniedWithReason()
    {
        var ns = await CreateNamespaceAsync(_admin);
        await BindAsync(ns, "dangling", "Role", "ghost", """[{"kind":"User","apiGroup":"rbac.authorization.k8s.io","name":"carol"}]""");
        var status = await Eventually.GetAsync("the dangling RoleBinding is seen", async () =>
        {
            var review = await SubjectAccessReviewAsync(_admin, "carol", [], "get", "pods", ns);
            return Str(review["reason"]).Length == 0 ? null : review;
        });
        Assert.False(status["allowed"]!.GetValue<bool>());
        Assert.Equal("RBAC: role.rbac.authorization.k8s.io \"ghost\" not found", Str(status["reason"]));
        Assert.Null(status["evaluationError"]);
    }

    [Fact(Timeout = 30000)]
    public async Task SelfSubjectAccessReview_AnyAuthenticatedUser_AnswersForCaller()
    {
        using var bob = fixture.ClientWithToken(AuthServerFixture.BobToken);
        var (code, body) = await PostAsync(bob, "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
            """{"apiVersion":"authorization.k8s.io/v1","kind":"SelfSubjectAccessReview","spec":{"resourceAttributes":{"verb":"create","resource":"selfsubjectaccessreviews","group":"authorization.k8s.io"}}}""");
        Assert.Equal(HttpStatusCode.Created, code);
        Assert.True(body!["status"]!["allowed"]!.GetValue<bool>());
        Assert.Equal("RBAC: allowed by ClusterRoleBinding \"system:basic-user\" of ClusterRole \"system:basic-user\" to Group \"system:authenticated\"",
            Str(body["status"]!["reason"]));

        (code, body) = await PostAsync(bob, "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
            """{"apiVersion":"authorization.k8s.io/v1","kind":"SelfSubjectAccessReview","spec":{"resourceAttributes":{"verb":"delete","resource":"nodes"}}}""");
        Assert.Equal(HttpStatusCode.Created, code);
        Assert.False(body!["status"]!["allowed"]!.GetValue<bool>());

        // Reviewing others needs RBAC permission (system:auth-delegator or similar).
        (code, body) = await PostAsync(bob, "/apis/authorization.k8s.io/v1/subjectaccessreviews",
            """{"apiVersion":"authorization.k8s.io/v1","kind":"SubjectAccessReview","spec":{"user":"x","resourceAttributes":{"verb":"get","resource":"pods"}}}""");
        Assert.Equal(HttpStatusCode.Forbidden, code);
        Assert.Equal("subjectaccessreviews.authorization.k8s.io is forbidden: User \"bob\" cannot create resource \"subjectaccessreviews\" in API group \"authorization.k8s.io\" at the cluster scope",
            Str(body!["message"]));
    }

    [Fact(Timeout = 30000)]
    public async Task SelfSubjectRulesReview_ListsRulesOfCaller()
    {
        var ns = await CreateNamespaceAsync(_admin);
        await CreateRoleAsync(ns, "svc", """[{"apiGroups":[""],"resources":["services"],"verbs":["watch"]}]""");
        await BindAsync(ns, "alice-svc", "Role", "svc", """[{"kind":"Group","apiGroup":"rbac.authorization.k8s.io","name":"team-a"}]""");
        using var alice = fixture.ClientWithToken(AuthServerFixture.AliceToken);
        var body = await Eventually.GetAsync("the RoleBinding's rule listed", async () =>
        {
            var (code, review) = await PostAsync(alice, "/apis/authorization.k8s.io/v1/selfsubjectrulesreviews",
                $$$"""{"apiVersion":"authorization.k8s.io/v1","kind":"SelfSubjectRulesReview","spec":{"namespace":"{{{ns}}}"}}""");
            Assert.Equal(HttpStatusCode.Created, code);
            var rules = review!["status"]!["resourceRules"]!.AsArray();
            return rules.Any(r => Strings(r!["resources"]).SequenceEqual(["services"]) && Strings(r!["verbs"]).SequenceEqual(["watch"])) ? review : null;
        });
        Assert.Contains(body["status"]!["nonResourceRules"]!.AsArray(), r => Strings(r!["nonResourceURLs"]).Contains("/api"));
        Assert.False(body["status"]!["incomplete"]!.GetValue<bool>());
    }

    [Fact(Timeout = 30000)]
    public async Task SubjectAccessReview_WithoutAttributes_Invalid()
    {
        var (code, body) = await PostAsync(_admin, "/apis/authorization.k8s.io/v1/subjectaccessreviews",
            """{"apiVersion":"authorization.k8s.io/v1","kind":"SubjectAccessReview","spec":{"user":"x"}}""");
        Assert.Equal(HttpStatusCode.UnprocessableEntity, code);
        Assert.EndsWith("is invalid: spec.resourceAttributes: Invalid value: \"null\": exactly one of nonResourceAttributes or resourceAttributes must be specified",
            Str(body!["message"]));
    }

    [Fact(Timeout = 30000)]
    public async Task LocalSubjectAccessReview_NamespaceMustMatch()
    {
        var ns = await CreateNamespaceAsync(_admin);
        await CreateRoleAsync(ns, "ev", """[{"apiGroups":[""],"resources":["events"],"verbs":["create"]}]""");
        await BindAsync(ns, "erin-ev", "Role", "ev", """[{"kind":"User","apiGroup":"rbac.authorization.k8s.io","name":"erin"}]""");
        var path = $"/apis/authorization.k8s.io/v1/namespaces/{ns}/localsubjectaccessreviews";
        var body = await Eventually.GetAsync("the RoleBinding is seen", async () =>
        {
            var (code, review) = await PostAsync(_admin, path,
                """{"apiVersion":"authorization.k8s.io/v1","kind":"LocalSubjectAccessReview","spec":{"user":"erin","resourceAttributes":{"namespace":"NS","verb":"create","resource":"events"}}}""".Replace("NS", ns));
            Assert.Equal(HttpStatusCode.Created, code);
            return review!["status"]!["allowed"]!.GetValue<bool>() ? review : null;
        });
        Assert.Equal(ns, Str(body["metadata"]!["namespace"]));
        var (invalidCode, invalid) = await PostAsync(_admin, path,
            """{"apiVersion":"authorization.k8s.io/v1","kind":"LocalSubjectAccessReview","spec":{"user":"erin","resourceAttributes":{"namespace":"elsewhere","verb":"create","resource":"events"}}}""");
        Assert.Equal(HttpStatusCode.UnprocessableEntity, invalidCode);
        Assert.EndsWith("is invalid: spec.resourceAttributes.namespace: Invalid value: \"elsewhere\": must match metadata.namespace", Str(invalid!["message"]));
    }

    [EmbeddedDiffersFact("names the kind in an invalid access review's message; upstream leaves it empty (\".authorization.k8s.io \\\"\\\" is invalid\")", Timeout = 30000)]
    public async Task AccessReviews_Invalid_MessageWithoutKindAsUpstream()
    {
        var ns = await CreateNamespaceAsync(_admin);
        var (_, sar) = await PostAsync(_admin, "/apis/authorization.k8s.io/v1/subjectaccessreviews",
            """{"apiVersion":"authorization.k8s.io/v1","kind":"SubjectAccessReview","spec":{"user":"x"}}""");
        Assert.Equal(".authorization.k8s.io \"\" is invalid: spec.resourceAttributes: Invalid value: \"null\": exactly one of nonResourceAttributes or resourceAttributes must be specified",
            Str(sar!["message"]));
        var (_, local) = await PostAsync(_admin, $"/apis/authorization.k8s.io/v1/namespaces/{ns}/localsubjectaccessreviews",
            """{"apiVersion":"authorization.k8s.io/v1","kind":"LocalSubjectAccessReview","spec":{"user":"erin","resourceAttributes":{"namespace":"elsewhere","verb":"create","resource":"events"}}}""");
        Assert.Equal(".authorization.k8s.io \"\" is invalid: spec.resourceAttributes.namespace: Invalid value: \"elsewhere\": must match metadata.namespace",
            Str(local!["message"]));
    }

    [Fact]
    public void AuthorizationModes_Unknown_Rejected()
    {
        var store = new Kcm.ApiServer.Storage.ObjectStore(10);
        Assert.Throws<Kcm.ApiServer.Authorization.AuthorizationModeException>(() => Kcm.ApiServer.Authorization.AuthorizationModes.Build(["ABAC"], store));
        Assert.Throws<Kcm.ApiServer.Authorization.AuthorizationModeException>(() => Kcm.ApiServer.Authorization.AuthorizationModes.Build(["RBAC,RBAC"], store));
    }

    private Task CreateRoleAsync(string ns, string name, string rules)
        => CreateAsync(_admin, $"/apis/{Rbac}/v1/namespaces/{ns}/roles",
            $$"""{"apiVersion":"{{Rbac}}/v1","kind":"Role","metadata":{"name":"{{name}}"},"rules":{{rules}}}""");

    private Task BindAsync(string ns, string name, string roleKind, string role, string subjects)
        => CreateAsync(_admin, $"/apis/{Rbac}/v1/namespaces/{ns}/rolebindings",
            $$"""{"apiVersion":"{{Rbac}}/v1","kind":"RoleBinding","metadata":{"name":"{{name}}"},"roleRef":{"apiGroup":"{{Rbac}}","kind":"{{roleKind}}","name":"{{role}}"},"subjects":{{subjects}}}""");
}

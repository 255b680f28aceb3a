using System.Text;
using Kcm.Api.Authentication.V1;
using Kcm.Api.Authorization.V1;
using Kcm.Api.Core.V1;
using Kcm.Api.Meta.V1;
using Kcm.ApiServer.Hosting;
using Kcm.Client;
using Kcm.Client.Errors;
using Kcm.Controllers.RootCaCertPublisher;
using Kcm.Controllers.ServiceAccounts;
using Kcm.Controllers.Tests.Support;
using Kcm.Testing;

namespace Kcm.Controllers.Tests.ServiceAccounts;

/// <summary>The server verifies service account tokens with ca.pem, the pair of the ca-key.pem the controller signs with (as the seeds run it).</summary>
public sealed class ServiceAccountKeyFixture : EmbeddedServerFixture
{
    protected override void Configure(EmbeddedApiServerOptions options)
        => options.ServiceAccountKeyFiles = [Path.Combine(options.StateDirectory, "ca.pem")];
}

public sealed class TokensControllerTests(ServiceAccountKeyFixture fixture) : IClassFixture<ServiceAccountKeyFixture>
{
    [Fact(Timeout = 60_000)]
    public async Task Run_LegacyTokenSecret_PopulatedAndAcceptedByServer()
    {
        await using var host = new ControllerTestHost(fixture);
        var ns = await CreateNamespaceAsync(host.Client);
        var sa = await host.Client.CreateAsync(new ServiceAccount { Metadata = new ObjectMeta { Name = "builder", Namespace = ns } }, ns);
        await host.Client.CreateAsync(TokenSecret(ns, "builder-token", "builder"), ns);
        var rootCa = RootCaBundle.FromClientConfig(host.Client.Config);
        using var generator = LegacyTokenGenerator.FromPemFile(SigningKeyPath());
        var controller = new TokensController(host.Context, new TokensControllerOptions { TokenGenerator = generator, RootCa = rootCa, Workers = 2 });
        host.Start(controller.RunAsync);

        var secret = await Eventually.GetAsync("token secret populated", async () =>
        {
            var s = await host.Client.GetAsync<Secret>(ns, "builder-token");
            return s.Data?.ContainsKey("token") == true ? s : null;
        });
        Assert.Equal(rootCa, secret.Data!["ca.crt"]);
        Assert.Equal(ns, Encoding.UTF8.GetString(secret.Data["namespace"]));
        Assert.Equal(sa.Metadata!.Uid, secret.Metadata!.Annotations!["kubernetes.io/service-account.uid"]);
        var token = Encoding.ASCII.GetString(secret.Data["token"]);
        var parts = token.Split('.');
        Assert.Equal(
            "{\"iss\":\"kubernetes/serviceaccount\",\"kubernetes.io/serviceaccount/namespace\":\"" + ns + "\"," +
            "\"kubernetes.io/serviceaccount/secret.name\":\"builder-token\",\"kubernetes.io/serviceaccount/service-account.name\":\"builder\"," +
            "\"kubernetes.io/serviceaccount/service-account.uid\":\"" + sa.Metadata.Uid + "\",\"sub\":\"system:serviceaccount:" + ns + ":builder\"}",
            Encoding.UTF8.GetString(Base64UrlDecode(parts[1])));
        Assert.Equal("{\"alg\":\"RS256\",\"kid\":\"" + generator.KeyId + "\"}", Encoding.UTF8.GetString(Base64UrlDecode(parts[0])));

        // The server accepts the token: it authenticates as the service account...
        // (A real apiserver checks the token against its informer's copy of the secret, which catches up a moment later.)
        var review = await Eventually.GetAsync("the token accepted", async () =>
        {
            var r = await host.Client.CreateAsync(new TokenReview { Spec = new TokenReviewSpec { Token = token } });
            return r.Status?.Authenticated == true ? r : null;
        });
        Assert.Equal($"system:serviceaccount:{ns}:builder", review.Status!.User!.Username);
        Assert.Equal(sa.Metadata.Uid, review.Status.User.Uid);
        // ...and a request made with it as bearer token gets past authentication.
        using var asServiceAccount = new KubeApiClient(host.Client.Config with { ClientCertificate = null, BearerToken = token });
        var access = await asServiceAccount.CreateAsync(new SelfSubjectAccessReview
        {
            Spec = new SelfSubjectAccessReviewSpec { ResourceAttributes = new ResourceAttributes { Namespace = ns, Verb = "get", Resource = "pods" } },
        });
        Assert.NotNull(access.Status);

        // v1.26 no longer creates token Secrets for service accounts (LegacyServiceAccountTokenNoAutoGeneration).
        var secrets = await host.Client.ListAsync<Secret>(ns);
        Assert.Equal(["builder-token"], secrets.Items!.Select(s => s.Metadata!.Name!));
    }

    [Fact(Timeout = 60_000)]
    public async Task Run_ServiceAccountDeletedOrUidMismatch_TokenSecretDeleted()
    {
        await using var host = new ControllerTestHost(fixture);
        var ns = await CreateNamespaceAsync(host.Client);
        await host.Client.CreateAsync(new ServiceAccount { Metadata = new ObjectMeta { Name = "doomed", Namespace = ns } }, ns);
        await host.Client.CreateAsync(new ServiceAccount { Metadata = new ObjectMeta { Name = "stays", Namespace = ns } }, ns);
        await host.Client.CreateAsync(TokenSecret(ns, "doomed-token", "doomed"), ns);
        await host.Client.CreateAsync(TokenSecret(ns, "stale-uid-token", "stays", uid: "00000000-0000-0000-0000-000000000000"), ns);
        await host.Client.CreateAsync(TokenSecret(ns, "orphan-token", "never-existed"), ns);
        await host.Client.CreateAsync(TokenSecret(ns, "stays-token", "stays"), ns);
        using var generator = LegacyTokenGenerator.FromPemFile(SigningKeyPath());
        var controller = new TokensController(host.Context, new TokensControllerOptions { TokenGenerator = generator });
        host.Start(controller.RunAsync);

        await Eventually.TrueAsync("token of a missing service account deleted", async () => !await ExistsAsync(host, ns, "orphan-token"));
        await Eventually.TrueAsync("token with another service account's UID deleted", async () => !await ExistsAsync(host, ns, "stale-uid-token"));
        await Eventually.TrueAsync("doomed token populated", async () =>
            (await host.Client.GetAsync<Secret>(ns, "doomed-token")).Data?.ContainsKey("token") == true);

        await host.Client.DeleteAsync<ServiceAccount>(ns, "doomed");
        await Eventually.TrueAsync("token deleted with its service account", async () => !await ExistsAsync(host, ns, "doomed-token"));
        Assert.True(await ExistsAsync(host, ns, "stays-token"));
    }

    [Fact(Timeout = 60_000)]
    public async Task Run_TokenSecretDeleted_ReferenceRemovedFromServiceAccount()
    {
        await using var host = new ControllerTestHost(fixture);
        var ns = await CreateNamespaceAsync(host.Client);
        await host.Client.CreateAsync(new ServiceAccount
        {
            Metadata = new ObjectMeta { Name = "ref", Namespace = ns },
            Secrets = [new ObjectReference { Name = "ref-token" }, new ObjectReference { Name = "other" }],
        }, ns);
        await host.Client.CreateAsync(TokenSecret(ns, "ref-token", "ref"), ns);
        using var generator = LegacyTokenGenerator.FromPemFile(SigningKeyPath());
        var controller = new TokensController(host.Context, new TokensControllerOptions { TokenGenerator = generator });
        host.Start(controller.RunAsync);
        await Eventually.TrueAsync("token populated", async () =>
            (await host.Client.GetAsync<Secret>(ns, "ref-token")).Data?.ContainsKey("token") == true);

        await host.Client.DeleteAsync<Secret>(ns, "ref-token");

        var sa = await Eventually.GetAsync("reference removed", async () =>
        {
            var current = await host.Client.GetAsync<ServiceAccount>(ns, "ref");
            return current.Secrets!.Count == 1 ? current : null;
        });
        Assert.Equal("other", sa.Secrets![0].Name);
    }

    private static Secret TokenSecret(string ns, string name, string serviceAccount, string? uid = null)
    {
        var annotations = new Dictionary<string, string> { ["kubernetes.io/service-account.name"] = serviceAccount };
        if (uid is not null) annotations["kubernetes.io/service-account.uid"] = uid;
        return new Secret
        {
            Metadata = new ObjectMeta { Name = name, Namespace = ns, Annotations = annotations },
            Type = "kubernetes.io/service-account-token",
        };
    }

    /// <summary>The key whose public half the server verifies service-account tokens with.</summary>
    private string SigningKeyPath() => fixture.ServiceAccountKeyPath;

    private static async Task<string> CreateNamespaceAsync(KubeApiClient client)
        => (await client.CreateAsync(new Namespace { Metadata = new ObjectMeta { GenerateName = "sa-token-" } })).Metadata!.Name!;

    private static async Task<bool> ExistsAsync(ControllerTestHost host, string ns, string name)
    {
        try
        {
            await host.Client.GetAsync<Secret>(ns, name);
            return true;
        }
        catch (NotFoundException)
        {
            return false;
        }
    }

    internal static byte[] Base64UrlDecode(string s)
    {
        s = s.Replace('-', '+').Replace('_', '/');
        return Convert.FromBase64String(s + new string('=', (4 - s.Length % 4) % 4));
    }
}

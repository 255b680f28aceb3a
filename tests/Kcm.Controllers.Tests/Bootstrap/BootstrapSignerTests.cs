using System.Security.Cryptography;
using System.Text;
using Kcm.Api.Core.V1;
using Kcm.Api.Meta.V1;
using Kcm.Controllers.Bootstrap;
using Kcm.Controllers.Tests.Support;
using Kcm.Testing;
using static Kcm.Controllers.Tests.Bootstrap.BootstrapTestObjects;

namespace Kcm.Controllers.Tests.Bootstrap;

public sealed class BootstrapSignerTests(EmbeddedServerFixture fixture) : IClassFixture<EmbeddedServerFixture>
{
    private const string Kubeconfig = "apiVersion: v1\nclusters:\n- cluster:\n    server: https://10.0.0.1:6443\n  name: \"\"\nkind: Config\n";

    [Fact(Timeout = 60_000)]
    public async Task Run_SigningTokenAddedThenDeleted_SignatureAppearsAndGoes()
    {
        await using var host = new ControllerTestHost(fixture);
        var ns = await CreateNamespaceAsync(host.Client, "bootstrapsigner-");
        await host.Client.CreateAsync(new ConfigMap
        {
            Metadata = new ObjectMeta { Name = "cluster-info", Namespace = ns },
            Data = new() { ["kubeconfig"] = Kubeconfig, ["other"] = "kept" },
        }, ns);
        var signer = new BootstrapSigner(host.Context, new BootstrapSignerOptions { ConfigMapNamespace = ns, TokenSecretNamespace = ns });
        host.Start(signer.RunAsync);

        await host.Client.CreateAsync(Token(ns, "abcdef", "0123456789abcdef", DateTimeOffset.UtcNow.AddHours(1)), ns);
        await host.Client.CreateAsync(Token(ns, "nosign", "0123456789abcdef", signing: false), ns);
        await host.Client.CreateAsync(Token(ns, "expird", "0123456789abcdef", DateTimeOffset.UtcNow.AddHours(-1)), ns);

        var signed = await Eventually.GetAsync("cluster-info signed", async () =>
        {
            var cm = await host.Client.GetAsync<ConfigMap>(ns, "cluster-info");
            return cm.Data!.ContainsKey("jws-kubeconfig-abcdef") ? cm : null;
        });
        Assert.Equal(ExpectedSignature(Kubeconfig, "abcdef", "0123456789abcdef"), signed.Data!["jws-kubeconfig-abcdef"]);
        Assert.Equal(["jws-kubeconfig-abcdef", "kubeconfig", "other"], signed.Data.Keys.Order(StringComparer.Ordinal));

        await host.Client.DeleteAsync<Secret>(ns, "bootstrap-token-abcdef");
        await Eventually.TrueAsync("signature removed", async () =>
            !(await host.Client.GetAsync<ConfigMap>(ns, "cluster-info")).Data!.ContainsKey("jws-kubeconfig-abcdef"));
        var final = await host.Client.GetAsync<ConfigMap>(ns, "cluster-info");
        Assert.Equal(["kubeconfig", "other"], final.Data!.Keys.Order(StringComparer.Ordinal));
    }

    [Fact(Timeout = 60_000)]
    public async Task Run_KubeconfigEdited_SignatureRecomputedAndUnchangedMapNotRewritten()
    {
        await using var host = new ControllerTestHost(fixture);
        var ns = await CreateNamespaceAsync(host.Client, "bootstrapsigner-");
        await host.Client.CreateAsync(Token(ns, "tok123", "fedcba9876543210"), ns);
        await host.Client.CreateAsync(new ConfigMap
        {
            Metadata = new ObjectMeta { Name = "cluster-info", Namespace = ns },
            Data = new() { ["kubeconfig"] = Kubeconfig, ["jws-kubeconfig-gone00"] = "stale" },
        }, ns);
        var signer = new BootstrapSigner(host.Context, new BootstrapSignerOptions { ConfigMapNamespace = ns, TokenSecretNamespace = ns });
        host.Start(signer.RunAsync);

        var signed = await Eventually.GetAsync("signed, stale entry dropped", async () =>
        {
            var cm = await host.Client.GetAsync<ConfigMap>(ns, "cluster-info");
            return cm.Data!.ContainsKey("jws-kubeconfig-tok123") && !cm.Data.ContainsKey("jws-kubeconfig-gone00") ? cm : null;
        });

        signed.Data!["kubeconfig"] = Kubeconfig + "# edited\n";
        await host.Client.UpdateAsync(signed);
        var resigned = await Eventually.GetAsync("signature follows the kubeconfig", async () =>
        {
            var cm = await host.Client.GetAsync<ConfigMap>(ns, "cluster-info");
            return cm.Data!["jws-kubeconfig-tok123"] == ExpectedSignature(Kubeconfig + "# edited\n", "tok123", "fedcba9876543210") ? cm : null;
        });

        // Nothing changed since: the signer leaves the ConfigMap alone (no write, so no new resourceVersion).
        await Task.Delay(1000);
        var later = await host.Client.GetAsync<ConfigMap>(ns, "cluster-info");
        Assert.Equal(resigned.Metadata!.ResourceVersion, later.Metadata!.ResourceVersion);
    }

    [Fact(Timeout = 90_000)]
    public async Task Run_TokenExpires_SignatureDroppedWithoutTokenCleaner()
    {
        await using var host = new ControllerTestHost(fixture);
        var ns = await CreateNamespaceAsync(host.Client, "bootstrapsigner-");
        await host.Client.CreateAsync(new ConfigMap
        {
            Metadata = new ObjectMeta { Name = "cluster-info", Namespace = ns },
            Data = new() { ["kubeconfig"] = Kubeconfig },
        }, ns);
        // Long enough to be signed first on a loaded machine (a repeat run saw 5 s pass before the signer's caches synced).
        await host.Client.CreateAsync(Token(ns, "short1", "0123456789abcdef", DateTimeOffset.UtcNow.AddSeconds(15)), ns);
        var signer = new BootstrapSigner(host.Context, new BootstrapSignerOptions { ConfigMapNamespace = ns, TokenSecretNamespace = ns });
        host.Start(signer.RunAsync);

        await Eventually.TrueAsync("signed while valid", async () =>
            (await host.Client.GetAsync<ConfigMap>(ns, "cluster-info")).Data!.ContainsKey("jws-kubeconfig-short1"));
        await Eventually.TrueAsync("signature dropped at expiry", async () =>
            !(await host.Client.GetAsync<ConfigMap>(ns, "cluster-info")).Data!.ContainsKey("jws-kubeconfig-short1"), TimeSpan.FromSeconds(35));
    }

    [Fact]
    public void Compute_KnownToken_IsCompactJwsWithoutPayload()
    {
        var jws = DetachedJws.Compute("content", "abcdef", "0123456789abcdef");

        Assert.Equal(ExpectedSignature("content", "abcdef", "0123456789abcdef"), jws);
        var parts = jws.Split('.');
        Assert.Equal(3, parts.Length);
        Assert.Empty(parts[1]);
        Assert.Equal("""{"alg":"HS256","kid":"abcdef"}""", Encoding.UTF8.GetString(Base64UrlDecode(parts[0])));
        Assert.True(DetachedJws.IsValid(jws, "content", "abcdef", "0123456789abcdef"));
        Assert.False(DetachedJws.IsValid(jws, "content!", "abcdef", "0123456789abcdef"));
        Assert.False(DetachedJws.IsValid(jws, "content", "abcdef", "0123456789abcdee"));
    }

    /// <summary>RFC 7515 by hand: HMAC-SHA256 keyed by the token secret over header "." payload, payload then cut out.</summary>
    private static string ExpectedSignature(string content, string tokenId, string tokenSecret)
    {
        static string B64(byte[] b) => Convert.ToBase64String(b).TrimEnd('=').Replace('+', '-').Replace('/', '_');
        var header = B64(Encoding.UTF8.GetBytes("{\"alg\":\"HS256\",\"kid\":\"" + tokenId + "\"}"));
        var payload = B64(Encoding.UTF8.GetBytes(content));
        using var hmac = new HMACSHA256(Encoding.UTF8.GetBytes(tokenSecret));
        var mac = hmac.ComputeHash(Encoding.ASCII.GetBytes(header + "." + payload));
        return header + ".." + B64(mac);
    }

    private static byte[] Base64UrlDecode(string s)
    {
        s = s.Replace('-', '+').Replace('_', '/');
        return Convert.FromBase64String(s + new string('=', (4 - s.Length % 4) % 4));
    }
}

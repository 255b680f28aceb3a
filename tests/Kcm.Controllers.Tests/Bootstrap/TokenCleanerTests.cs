using Kcm.Api.Core.V1;
using Kcm.Controllers.Bootstrap;
using Kcm.Controllers.Tests.Support;
using Kcm.Testing;
using static Kcm.Controllers.Tests.Bootstrap.BootstrapTestObjects;

namespace Kcm.Controllers.Tests.Bootstrap;

public sealed class TokenCleanerTests(EmbeddedServerFixture fixture) : IClassFixture<EmbeddedServerFixture>
{
    [Fact(Timeout = 60_000)]
    public async Task Run_ExpiredAndUnexpiredTokens_DeletesOnlyExpired()
    {
        await using var host = new ControllerTestHost(fixture);
        var ns = await CreateNamespaceAsync(host.Client, "tokencleaner-");
        var now = DateTimeOffset.UtcNow;
        await host.Client.CreateAsync(Token(ns, "expire", "0123456789abcdef", now.AddHours(-1)), ns);
        await host.Client.CreateAsync(Token(ns, "future", "0123456789abcdef", now.AddHours(1)), ns);
        await host.Client.CreateAsync(Token(ns, "noexpy", "0123456789abcdef"), ns);
        var garbled = Token(ns, "garble", "0123456789abcdef");
        garbled.Data![BootstrapTokens.ExpirationKey] = "next tuesday"u8.ToArray();
        await host.Client.CreateAsync(garbled, ns);
        // Not a bootstrap token: an expiration key means nothing on other Secret types.
        var opaque = Token(ns, "opaque", "0123456789abcdef", now.AddHours(-1));
        opaque.Type = "Opaque";
        await host.Client.CreateAsync(opaque, ns);

        var cleaner = new TokenCleaner(host.Context, new TokenCleanerOptions { TokenSecretNamespace = ns });
        host.Start(cleaner.RunAsync);

        await Eventually.TrueAsync("expired token deleted", async () => !await ExistsAsync<Secret>(host.Client, ns, "bootstrap-token-expire"));
        // An unparseable expiration counts as expired, as upstream.
        await Eventually.TrueAsync("unparseable token deleted", async () => !await ExistsAsync<Secret>(host.Client, ns, "bootstrap-token-garble"));
        Assert.True(await ExistsAsync<Secret>(host.Client, ns, "bootstrap-token-future"));
        Assert.True(await ExistsAsync<Secret>(host.Client, ns, "bootstrap-token-noexpy"));
        Assert.True(await ExistsAsync<Secret>(host.Client, ns, "bootstrap-token-opaque"));
    }

    [Fact(Timeout = 60_000)]
    public async Task Run_TokenExpiringSoon_DeletedAtExpiry()
    {
        await using var host = new ControllerTestHost(fixture);
        var ns = await CreateNamespaceAsync(host.Client, "tokencleaner-");
        var cleaner = new TokenCleaner(host.Context, new TokenCleanerOptions { TokenSecretNamespace = ns });
        host.Start(cleaner.RunAsync);

        // Whole seconds (RFC 3339 without fraction): expires 4-5 s from now, with no event after creation.
        await host.Client.CreateAsync(Token(ns, "soonex", "0123456789abcdef", DateTimeOffset.UtcNow.AddSeconds(5)), ns);
        await Task.Delay(500);
        Assert.True(await ExistsAsync<Secret>(host.Client, ns, "bootstrap-token-soonex"));
        await Eventually.TrueAsync("token deleted once expired", async () => !await ExistsAsync<Secret>(host.Client, ns, "bootstrap-token-soonex"),
            TimeSpan.FromSeconds(20));
    }

    [Theory]
    [InlineData("", false, 0)]
    [InlineData("2000-01-01T00:00:00Z", true, 0)]
    [InlineData("2030-01-01T00:00:00Z", false, 60)]
    [InlineData("2030-01-01T01:00:00+01:00", false, 60)]
    [InlineData("2030-01-01", true, 0)]
    [InlineData("not a time", true, 0)]
    public void Expiration_Values_AsUpstreamGetExpiration(string expiration, bool expired, int remainingMinutes)
    {
        var secret = Token("kube-system", "abcdef", "0123456789abcdef");
        if (expiration.Length > 0) secret.Data![BootstrapTokens.ExpirationKey] = System.Text.Encoding.UTF8.GetBytes(expiration);
        var now = new DateTimeOffset(2029, 12, 31, 23, 0, 0, TimeSpan.Zero);

        var (remaining, isExpired) = BootstrapTokens.Expiration(secret, now);

        Assert.Equal(expired, isExpired);
        Assert.Equal(TimeSpan.FromMinutes(remainingMinutes), remaining);
    }
}

using System.Net.Http.Headers;
using Kcm.ApiServer.Hosting;
using Kcm.Testing;

namespace Kcm.ApiServer.Tests.Auth;

/// <summary>A clock the tests move forward to expire tokens; starts at the real time.</summary>
public sealed class ManualTimeProvider : TimeProvider
{
    private long _offsetTicks;

    public override DateTimeOffset GetUtcNow() => System.GetUtcNow().AddTicks(Interlocked.Read(ref _offsetTicks));

    public void Advance(TimeSpan by) => Interlocked.Add(ref _offsetTicks, by.Ticks);
}

/// <summary>Node,RBAC server with a static token file and a movable clock; anonymous access off.</summary>
public sealed class AuthServerFixture : EmbeddedServerFixture
{
    public const string AliceToken = "alice-token-0123456789";
    public const string RootToken = "root-token-0123456789";
    public const string BobToken = "bob-token-0123456789";

    public ManualTimeProvider Clock { get; } = new();

    protected override void Configure(EmbeddedApiServerOptions options)
    {
        options.Time = Clock;
        options.AuthorizationModes = ["Node,RBAC"];
        Directory.CreateDirectory(options.StateDirectory);
        var tokenFile = Path.Combine(options.StateDirectory, "tokens.csv");
        File.WriteAllText(tokenFile,
            $"{AliceToken},alice,uid-alice,\"team-a,team-b\"\n" +
            $"{RootToken},root,uid-root,system:masters\n" +
            "\n" +
            $"{BobToken},bob,uid-bob\n");
        options.TokenAuthFile = tokenFile;
    }

    // A real cluster has no token file: there the same users get client certificates from the cluster CA instead.
    private static readonly Dictionary<string, (string User, string[] Groups)> TokenUsers = new()
    {
        [AliceToken] = ("alice", ["team-a", "team-b"]),
        [RootToken] = ("root", ["system:masters"]),
        [BobToken] = ("bob", []),
    };

    /// <summary>A client for the token's user: the bearer token itself, or (on a real cluster) a certificate naming the same user and groups.</summary>
    public HttpClient ClientWithToken(string token)
    {
        if (UsesExternalCluster && TokenUsers.TryGetValue(token, out var identity))
        {
            return NewHttpClient(clientCertificate: TestCertificates.IssueClientCertificate(CaPath, CaKeyPath, identity.User, identity.Groups));
        }
        var client = NewHttpClient(withCredentials: false);
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return client;
    }

    public HttpClient ClientWithoutCredentials() => NewHttpClient(withCredentials: false);
}

/// <summary>RBAC server with --anonymous-auth=true.</summary>
public sealed class AnonymousServerFixture : EmbeddedServerFixture
{
    protected override void Configure(EmbeddedApiServerOptions options) => options.AnonymousAuth = true;
}

[CollectionDefinition(Name)]
public sealed class AuthCollection : ICollectionFixture<AuthServerFixture>
{
    public const string Name = "embedded api server with token auth";
}

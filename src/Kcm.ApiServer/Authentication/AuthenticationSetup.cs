using System.Security.Cryptography;
using Kcm.ApiServer.Authentication.ServiceAccounts;
using Kcm.ApiServer.Certificates;
using Kcm.ApiServer.Storage;

namespace Kcm.ApiServer.Authentication;

/// <summary>The request authenticator as upstream's kube-apiserver assembles it, plus the pieces the auth APIs need.</summary>
public sealed record AuthenticationSetup(
    IAuthenticator RequestAuthenticator,
    BearerTokenAuthenticator Tokens,
    IReadOnlyList<string> ApiAudiences,
    string AdminToken)
{
    public const string AdminTokenFile = "admin-token";

    /// <summary>
    /// x509 client certificates, then bearer tokens (token file and admin token, legacy and bound service account
    /// tokens, bootstrap tokens), then anonymous when enabled. A present but invalid credential fails the request.
    /// </summary>
    public static AuthenticationSetup Create(string stateDirectory, string tokenAuthFile, IReadOnlyList<string> serviceAccountKeyFiles,
        IReadOnlyList<string> issuers, IReadOnlyList<string> apiAudiences, bool anonymous, ObjectStore store, TimeProvider time)
    {
        var audiences = apiAudiences.Count > 0 ? apiAudiences : issuers;
        var adminToken = LoadOrCreateAdminToken(stateDirectory);
        var staticUsers = tokenAuthFile.Length > 0 ? StaticTokenAuthenticator.ParseFile(tokenAuthFile) : [];
        staticUsers[adminToken] = new UserInfo("admin", "", [UserInfo.MastersGroup], UserInfo.NoExtra);
        var keyFiles = serviceAccountKeyFiles.Count > 0 ? serviceAccountKeyFiles : [Path.Combine(stateDirectory, ClusterCertificates.CaCertFile)];
        var keys = ServiceAccountKeys.LoadPublicKeys(keyFiles);

        var tokens = new TokenAuthenticatorUnion(
        [
            new AudienceAgnosticTokenAuthenticator(audiences, new StaticTokenAuthenticator(staticUsers)),
            ServiceAccountTokenAuthenticator.Legacy(keys, audiences, store, time),
            ServiceAccountTokenAuthenticator.Bound(issuers, keys, audiences, store, time),
            new AudienceAgnosticTokenAuthenticator(audiences, new BootstrapTokenAuthenticator(store, time)),
        ]);
        var bearer = new BearerTokenAuthenticator(tokens, audiences);
        var chain = new List<IAuthenticator> { new X509ClientCertificateAuthenticator(), bearer };
        if (anonymous) chain.Add(new AnonymousAuthenticator());
        return new AuthenticationSetup(new AuthenticatorChain(chain), bearer, audiences, adminToken);
    }

    /// <summary>The admin bearer token in DIR/admin-token (user admin, group system:masters), generated once.</summary>
    private static string LoadOrCreateAdminToken(string stateDirectory)
    {
        var path = Path.Combine(stateDirectory, AdminTokenFile);
        if (File.Exists(path))
        {
            var existing = File.ReadAllText(path).Trim();
            if (existing.Length > 0) return existing;
        }
        var token = Convert.ToHexString(RandomNumberGenerator.GetBytes(32)).ToLowerInvariant();
        ClusterCertificates.WriteTextFile(path, token + "\n", secret: true);
        return token;
    }
}

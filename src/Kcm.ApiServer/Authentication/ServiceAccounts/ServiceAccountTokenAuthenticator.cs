using System.Text.Json.Nodes;
using Kcm.ApiServer.Storage;

namespace Kcm.ApiServer.Authentication.ServiceAccounts;

/// <summary>
/// Service account JWTs, as upstream's JWTTokenAuthenticator with either the legacy (secret-based) or the
/// bound (TokenRequest) validator. Tokens from other issuers are not its kind and are left to the next authenticator.
/// </summary>
public sealed class ServiceAccountTokenAuthenticator : ITokenAuthenticator
{
    public const string LegacyIssuer = "kubernetes/serviceaccount";
    public const string UserPrefix = "system:serviceaccount:";
    public const string AllServiceAccountsGroup = "system:serviceaccounts";
    public const string PodNameExtra = "authentication.kubernetes.io/pod-name";
    public const string PodUidExtra = "authentication.kubernetes.io/pod-uid";

    // go-jose's default leeway for exp/nbf/iat, which upstream's validator keeps.
    private static readonly TimeSpan Leeway = TimeSpan.FromMinutes(1);

    private readonly HashSet<string> _issuers;
    private readonly IReadOnlyList<ServiceAccountPublicKey> _keys;
    private readonly IReadOnlyList<string> _implicitAudiences;
    private readonly bool _legacy;
    private readonly ObjectStore _store;
    private readonly TimeProvider _time;

    private ServiceAccountTokenAuthenticator(IEnumerable<string> issuers, IReadOnlyList<ServiceAccountPublicKey> keys,
        IReadOnlyList<string> implicitAudiences, bool legacy, ObjectStore store, TimeProvider time)
    {
        _issuers = new HashSet<string>(issuers, StringComparer.Ordinal);
        _keys = keys;
        _implicitAudiences = implicitAudiences;
        _legacy = legacy;
        _store = store;
        _time = time;
    }

    /// <summary>Secret-based tokens (issuer "kubernetes/serviceaccount"), checked against the secret and service account in storage.</summary>
    public static ServiceAccountTokenAuthenticator Legacy(IReadOnlyList<ServiceAccountPublicKey> keys, IReadOnlyList<string> apiAudiences,
        ObjectStore store, TimeProvider time)
        => new([LegacyIssuer], keys, apiAudiences, legacy: true, store, time);

    /// <summary>TokenRequest tokens from <paramref name="issuers"/>, checked for time validity and their bound objects.</summary>
    public static ServiceAccountTokenAuthenticator Bound(IReadOnlyList<string> issuers, IReadOnlyList<ServiceAccountPublicKey> keys,
        IReadOnlyList<string> apiAudiences, ObjectStore store, TimeProvider time)
        => new(issuers, keys, apiAudiences, legacy: false, store, time);

    public ValueTask<TokenAuthResult?> AuthenticateTokenAsync(string token, IReadOnlyList<string> audiences, CancellationToken cancellationToken)
        => ValueTask.FromResult(Authenticate(token, audiences));

    private TokenAuthResult? Authenticate(string token, IReadOnlyList<string> requested)
    {
        var jwt = JsonWebToken.TryParse(token);
        if (jwt is null || !_issuers.Contains(StoredObjects.Str(jwt.Payload["iss"]))) return null;
        if (!_keys.Any(jwt.VerifyWith))
        {
            // What go-jose reports for a signature no key verifies.
            throw new InvalidTokenException("square/go-jose: error in cryptographic primitive");
        }
        var claims = jwt.Payload;
        IReadOnlyList<string> tokenAudiences = AudiencesOf(claims["aud"]);
        if (tokenAudiences.Count == 0) tokenAudiences = _implicitAudiences;
        if (requested.Count == 0) requested = _implicitAudiences;
        var granted = tokenAudiences.Where(requested.Contains).Distinct().ToList();
        if (granted.Count == 0 && _implicitAudiences.Count > 0)
        {
            throw new InvalidTokenException($"token audiences {GoQuoted(tokenAudiences)} is invalid for the target audiences {GoQuoted(requested)}");
        }
        var user = _legacy ? ValidateLegacy(token, claims) : ValidateBound(claims);
        return new TokenAuthResult(user, granted);
    }

    private UserInfo ValidateLegacy(string token, JsonObject claims)
    {
        var ns = StoredObjects.Str(claims["kubernetes.io/serviceaccount/namespace"]);
        var saName = StoredObjects.Str(claims["kubernetes.io/serviceaccount/service-account.name"]);
        var saUid = StoredObjects.Str(claims["kubernetes.io/serviceaccount/service-account.uid"]);
        var secretName = StoredObjects.Str(claims["kubernetes.io/serviceaccount/secret.name"]);
        if (ns.Length == 0) throw new InvalidTokenException("namespace claim is missing");
        if (saName.Length == 0) throw new InvalidTokenException("service-account.name claim is missing");
        if (saUid.Length == 0) throw new InvalidTokenException("service-account.uid claim is missing");
        if (secretName.Length == 0) throw new InvalidTokenException("secret.name claim is missing");
        if (!TrySplitUsername(StoredObjects.Str(claims["sub"]), out var subNs, out var subName) || subNs != ns || subName != saName)
        {
            throw new InvalidTokenException("sub claim is invalid");
        }
        var secret = StoredObjects.Get(_store, "", "secrets", ns, secretName);
        if (secret is null || secret["metadata"]?["deletionTimestamp"] is not null) throw new InvalidTokenException("Token has been invalidated");
        if (BootstrapTokenAuthenticator.SecretData(secret).GetValueOrDefault("token") != token)
        {
            throw new InvalidTokenException("Token does not match server's copy");
        }
        var sa = StoredObjects.Get(_store, "", "serviceaccounts", ns, saName) ?? throw new InvalidTokenException($"serviceaccounts \"{saName}\" not found");
        if (sa["metadata"]?["deletionTimestamp"] is not null) throw new InvalidTokenException($"ServiceAccount {ns}/{saName} has been deleted");
        var actualUid = StoredObjects.Str(sa["metadata"]?["uid"]);
        if (actualUid != saUid) throw new InvalidTokenException($"ServiceAccount UID ({actualUid}) does not match claim ({saUid})");
        return UserFor(ns, saName, saUid, null, null);
    }

    private UserInfo ValidateBound(JsonObject claims)
    {
        var now = _time.GetUtcNow();
        if (NumericDate(claims["exp"]) is { } exp && now > exp + Leeway) throw new InvalidTokenException("service account token has expired");
        if (NumericDate(claims["nbf"]) is { } nbf && now < nbf - Leeway) throw new InvalidTokenException("service account token is not valid yet");
        if (NumericDate(claims["iat"]) is { } iat && now < iat - Leeway) throw new InvalidTokenException("service account token is issued in the future");

        var k8s = claims["kubernetes.io"] as JsonObject;
        var ns = StoredObjects.Str(k8s?["namespace"]);
        var saName = StoredObjects.Str(k8s?["serviceaccount"]?["name"]);
        var saUid = StoredObjects.Str(k8s?["serviceaccount"]?["uid"]);
        var sa = StoredObjects.Get(_store, "", "serviceaccounts", ns, saName) ?? throw new InvalidTokenException($"serviceaccounts \"{saName}\" not found");
        if (sa["metadata"]?["deletionTimestamp"] is not null) throw new InvalidTokenException($"service account {ns}/{saName} has been deleted");
        var actualUid = StoredObjects.Str(sa["metadata"]?["uid"]);
        if (actualUid != saUid) throw new InvalidTokenException($"service account UID ({actualUid}) does not match claim ({saUid})");

        if (k8s?["secret"] is JsonObject secretRef)
        {
            var secret = StoredObjects.Get(_store, "", "secrets", ns, StoredObjects.Str(secretRef["name"]));
            if (secret is null || secret["metadata"]?["deletionTimestamp"] is not null) throw new InvalidTokenException("service account token has been invalidated");
            var uid = StoredObjects.Str(secret["metadata"]?["uid"]);
            var claimed = StoredObjects.Str(secretRef["uid"]);
            if (uid != claimed) throw new InvalidTokenException($"secret UID ({uid}) does not match service account secret ref claim ({claimed})");
        }
        string? podName = null, podUid = null;
        if (k8s?["pod"] is JsonObject podRef)
        {
            var pod = StoredObjects.Get(_store, "", "pods", ns, StoredObjects.Str(podRef["name"]));
            if (pod is null || pod["metadata"]?["deletionTimestamp"] is not null) throw new InvalidTokenException("service account token has been invalidated");
            var uid = StoredObjects.Str(pod["metadata"]?["uid"]);
            var claimed = StoredObjects.Str(podRef["uid"]);
            if (uid != claimed) throw new InvalidTokenException($"pod UID ({uid}) does not match service account pod ref claim ({claimed})");
            podName = StoredObjects.Str(podRef["name"]);
            podUid = claimed;
        }
        return UserFor(ns, saName, saUid, podName, podUid);
    }

    public static UserInfo UserFor(string ns, string name, string uid, string? podName, string? podUid)
    {
        var extra = new Dictionary<string, IReadOnlyList<string>>();
        if (podName is not null && podUid is not null)
        {
            extra[PodNameExtra] = [podName];
            extra[PodUidExtra] = [podUid];
        }
        return new UserInfo(UserPrefix + ns + ":" + name, uid, [AllServiceAccountsGroup, AllServiceAccountsGroup + ":" + ns], extra);
    }

    /// <summary>Splits system:serviceaccount:NS:NAME as upstream's SplitUsername.</summary>
    public static bool TrySplitUsername(string username, out string ns, out string name)
    {
        ns = name = "";
        if (!username.StartsWith(UserPrefix, StringComparison.Ordinal)) return false;
        var parts = username[UserPrefix.Length..].Split(':');
        if (parts.Length != 2 || parts[0].Length == 0 || parts[1].Length == 0) return false;
        (ns, name) = (parts[0], parts[1]);
        return true;
    }

    private static List<string> AudiencesOf(JsonNode? aud) => aud switch
    {
        JsonArray a => a.Select(StoredObjects.Str).Where(s => s.Length > 0).ToList(),
        JsonValue => StoredObjects.Str(aud) is { Length: > 0 } s ? [s] : [],
        _ => [],
    };

    private static DateTimeOffset? NumericDate(JsonNode? node)
        => node is JsonValue v && v.TryGetValue<double>(out var seconds) ? DateTimeOffset.FromUnixTimeMilliseconds((long)(seconds * 1000)) : null;

    /// <summary>A string list as Go's %q prints it: ["a" "b"].</summary>
    private static string GoQuoted(IEnumerable<string> values) => "[" + string.Join(" ", values.Select(v => "\"" + v + "\"")) + "]";
}

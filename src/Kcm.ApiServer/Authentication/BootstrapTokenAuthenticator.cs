using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Kcm.ApiServer.Storage;

namespace Kcm.ApiServer.Authentication;

/// <summary>
/// Bootstrap tokens "&lt;id&gt;.&lt;secret&gt;" backed by Secret kube-system/bootstrap-token-&lt;id&gt;, as upstream's
/// bootstrap token authenticator: any mismatch means "not my token" (no error), so the request ends as 401.
/// </summary>
public sealed partial class BootstrapTokenAuthenticator(ObjectStore store, TimeProvider time) : ITokenAuthenticator
{
    public const string SecretType = "bootstrap.kubernetes.io/token";
    public const string SecretPrefix = "bootstrap-token-";
    public const string DefaultGroup = "system:bootstrappers";
    public const string UserPrefix = "system:bootstrap:";

    [GeneratedRegex(@"^([a-z0-9]{6})\.([a-z0-9]{16})$")]
    private static partial Regex TokenPattern();

    [GeneratedRegex(@"\Asystem:bootstrappers:[a-z0-9:-]{0,255}[a-z0-9]\z")]
    private static partial Regex ExtraGroupPattern();

    public ValueTask<TokenAuthResult?> AuthenticateTokenAsync(string token, IReadOnlyList<string> audiences, CancellationToken cancellationToken)
        => ValueTask.FromResult(Authenticate(token));

    private TokenAuthResult? Authenticate(string token)
    {
        var match = TokenPattern().Match(token);
        if (!match.Success) return null;
        var id = match.Groups[1].Value;
        var secret = StoredObjects.Get(store, "", "secrets", "kube-system", SecretPrefix + id);
        if (secret is null || secret["metadata"]?["deletionTimestamp"] is not null) return null;
        if (StoredObjects.Str(secret["type"]) != SecretType) return null;
        var data = SecretData(secret);
        var tokenSecret = data.GetValueOrDefault("token-secret") ?? "";
        if (!CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(tokenSecret), Encoding.UTF8.GetBytes(match.Groups[2].Value))) return null;
        if (data.GetValueOrDefault("token-id") != id) return null;
        if (HasExpired(data.GetValueOrDefault("expiration"))) return null;
        if (data.GetValueOrDefault("usage-bootstrap-authentication") != "true") return null;
        var groups = new SortedSet<string>(StringComparer.Ordinal) { DefaultGroup };
        var extra = data.GetValueOrDefault("auth-extra-groups") ?? "";
        if (extra.Length > 0)
        {
            foreach (var group in extra.Split(','))
            {
                if (!ExtraGroupPattern().IsMatch(group)) return null;
                groups.Add(group);
            }
        }
        return new TokenAuthResult(new UserInfo(UserPrefix + id, "", groups.ToList(), UserInfo.NoExtra), []);
    }

    private bool HasExpired(string? expiration)
    {
        if (string.IsNullOrEmpty(expiration)) return false;
        // An unparsable expiration counts as expired, as upstream.
        if (!DateTimeOffset.TryParse(expiration, CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal, out var at)) return true;
        return time.GetUtcNow() > at;
    }

    /// <summary>The secret's data decoded (stringData entries win, as they would once merged on write).</summary>
    internal static Dictionary<string, string> SecretData(JsonObject secret)
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        if (secret["data"] is JsonObject data)
        {
            foreach (var (k, v) in data)
            {
                try
                {
                    result[k] = Encoding.UTF8.GetString(Convert.FromBase64String(StoredObjects.Str(v)));
                }
                catch (FormatException)
                {
                    // Not base64: ignore the key, as if absent.
                }
            }
        }
        if (secret["stringData"] is JsonObject stringData)
        {
            foreach (var (k, v) in stringData) result[k] = StoredObjects.Str(v);
        }
        return result;
    }
}

/// <summary>Reads single objects from storage for authenticators (service accounts, secrets, pods).</summary>
internal static class StoredObjects
{
    public static JsonObject? Get(ObjectStore store, string group, string resource, string @namespace, string name)
    {
        var o = store.Find(group, resource)?.Get(StoredObject.MakeKey(@namespace, name));
        return o is null ? null : ObjectEncoder.Parse(o);
    }

    public static string Str(JsonNode? node) => node is JsonValue v && v.TryGetValue<string>(out var s) ? s : "";
}

using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using Kcm.Api.Core.V1;

namespace Kcm.Controllers.Bootstrap;

/// <summary>The bootstrap token Secret format (k8s.io/cluster-bootstrap token/api) and its helpers (util/secrets).</summary>
public static partial class BootstrapTokens
{
    public const string SecretType = "bootstrap.kubernetes.io/token";
    public const string SecretNamePrefix = "bootstrap-token-";
    public const string TokenIdKey = "token-id";
    public const string TokenSecretKey = "token-secret";
    public const string ExpirationKey = "expiration";
    public const string UsageSigningKey = "usage-bootstrap-signing";

    public const string ClusterInfoConfigMap = "cluster-info";
    public const string KubeconfigKey = "kubeconfig";
    public const string JwsSignatureKeyPrefix = "jws-kubeconfig-";

    public const string TokenSecretNamespace = "kube-system";
    public const string ConfigMapNamespace = "kube-public";

    [GeneratedRegex("^bootstrap-token-([a-z0-9]{6})$")]
    private static partial Regex SecretNamePattern();

    public static bool IsBootstrapToken(Secret secret, string tokenNamespace)
        => secret.Type == SecretType && secret.Metadata?.Namespace == tokenNamespace;

    /// <summary>The token id a well-formed secret name carries ("bootstrap-token-&lt;id&gt;"), or null.</summary>
    public static string? TokenIdFromSecretName(string? name)
    {
        var match = SecretNamePattern().Match(name ?? "");
        return match.Success ? match.Groups[1].Value : null;
    }

    /// <summary>A data value as a string; empty when absent, as upstream's GetData.</summary>
    public static string Data(Secret secret, string key)
        => secret.Data is { } data && data.TryGetValue(key, out var value) && value is not null ? Encoding.UTF8.GetString(value) : "";

    /// <summary>
    /// Upstream's GetExpiration: no expiration → (0, false); unparseable → (0, true), so the token counts as
    /// expired; otherwise the time left, expired once it is zero or less.
    /// </summary>
    public static (TimeSpan Remaining, bool Expired) Expiration(Secret secret, DateTimeOffset now)
    {
        var text = Data(secret, ExpirationKey);
        if (text.Length == 0) return (TimeSpan.Zero, false);
        if (!TryParseRfc3339(text, out var expires)) return (TimeSpan.Zero, true);
        var remaining = expires - now;
        return remaining <= TimeSpan.Zero ? (TimeSpan.Zero, true) : (remaining, false);
    }

    public static bool HasExpired(Secret secret, DateTimeOffset now) => Expiration(secret, now).Expired;

    /// <summary>Go's time.RFC3339 layout: a 'T', seconds, optional fraction, and 'Z' or a ±hh:mm offset.</summary>
    internal static bool TryParseRfc3339(string text, out DateTimeOffset value)
    {
        value = default;
        if (!Rfc3339Pattern().IsMatch(text)) return false;
        return DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out value);
    }

    [GeneratedRegex(@"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")]
    private static partial Regex Rfc3339Pattern();
}

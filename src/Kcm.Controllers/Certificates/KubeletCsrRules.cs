namespace Kcm.Controllers.Certificates;

/// <summary>A request that a kubernetes.io signer refuses to sign; the message becomes the Failed condition's message.</summary>
public sealed class SignerValidationException(string message) : Exception(message);

/// <summary>
/// What the kubernetes.io signers accept (upstream pkg/apis/certificates helpers and the signer's validators),
/// checked in upstream's order so the first failure reported is the same.
/// </summary>
public static class KubeletCsrRules
{
    public const string NodeUserPrefix = "system:node:";
    public const string NodesGroup = "system:nodes";

    public const string UsageDigitalSignature = "digital signature";
    public const string UsageKeyEncipherment = "key encipherment";
    public const string UsageServerAuth = "server auth";
    public const string UsageClientAuth = "client auth";

    private static readonly HashSet<string> ServingUsages = [UsageDigitalSignature, UsageKeyEncipherment, UsageServerAuth];
    private static readonly HashSet<string> ServingUsagesNoRsa = [UsageDigitalSignature, UsageServerAuth];
    private static readonly HashSet<string> ClientUsages = [UsageDigitalSignature, UsageKeyEncipherment, UsageClientAuth];
    private static readonly HashSet<string> ClientUsagesNoRsa = [UsageDigitalSignature, UsageClientAuth];

    public static bool IsKubeletServing(CertificateRequestInfo request, IEnumerable<string>? usages) => ServingProblem(request, usages) is null;

    public static bool IsKubeletClient(CertificateRequestInfo request, IEnumerable<string>? usages) => ClientProblem(request, usages) is null;

    /// <summary>Throws <see cref="SignerValidationException"/> unless the request is a kubelet serving certificate request.</summary>
    public static void ValidateKubeletServing(CertificateRequestInfo request, IEnumerable<string>? usages)
    {
        if (ServingProblem(request, usages) is { } problem) throw new SignerValidationException(problem);
    }

    /// <summary>Throws <see cref="SignerValidationException"/> unless the request is a kubelet client certificate request.</summary>
    public static void ValidateKubeletClient(CertificateRequestInfo request, IEnumerable<string>? usages)
    {
        if (ClientProblem(request, usages) is { } problem) throw new SignerValidationException(problem);
    }

    /// <summary>kubernetes.io/kube-apiserver-client: client auth is required; only the two signature usages may accompany it.</summary>
    public static void ValidateKubeApiServerClient(IEnumerable<string>? usages)
    {
        var hasClientAuth = false;
        foreach (var usage in usages ?? [])
        {
            switch (usage)
            {
                case UsageDigitalSignature or UsageKeyEncipherment:
                    break;
                case UsageClientAuth:
                    hasClientAuth = true;
                    break;
                default:
                    throw new SignerValidationException($"invalid usage for client certificate: {usage}");
            }
        }
        if (!hasClientAuth) throw new SignerValidationException($"missing required usage for client certificate: {UsageClientAuth}");
    }

    private static string? ServingProblem(CertificateRequestInfo request, IEnumerable<string>? usages)
    {
        if (!IsOnlyNodesOrganization(request)) return "subject organization is not system:nodes";
        if (request.DnsNames.Count == 0 && request.IpAddresses.Count == 0) return "DNS or IP subjectAltName is required";
        if (request.EmailAddresses.Count > 0) return "Email subjectAltNames are not allowed";
        if (request.Uris.Count > 0) return "URI subjectAltNames are not allowed";
        var set = new HashSet<string>(usages ?? []);
        if (!set.SetEquals(ServingUsages) && !set.SetEquals(ServingUsagesNoRsa)) return $"usages did not match {FormatSet(ServingUsages)}";
        if (!request.CommonName.StartsWith(NodeUserPrefix, StringComparison.Ordinal)) return "subject common name does not begin with system:node:";
        return null;
    }

    private static string? ClientProblem(CertificateRequestInfo request, IEnumerable<string>? usages)
    {
        if (!IsOnlyNodesOrganization(request)) return "subject organization is not system:nodes";
        if (request.DnsNames.Count > 0) return "DNS subjectAltNames are not allowed";
        if (request.EmailAddresses.Count > 0) return "Email subjectAltNames are not allowed";
        if (request.IpAddresses.Count > 0) return "IP subjectAltNames are not allowed";
        if (request.Uris.Count > 0) return "URI subjectAltNames are not allowed";
        if (!request.CommonName.StartsWith(NodeUserPrefix, StringComparison.Ordinal)) return "subject common name does not begin with system:node:";
        var set = new HashSet<string>(usages ?? []);
        if (!set.SetEquals(ClientUsages) && !set.SetEquals(ClientUsagesNoRsa)) return $"usages did not match {FormatSet(ClientUsages)}";
        return null;
    }

    private static bool IsOnlyNodesOrganization(CertificateRequestInfo request)
        => request.Organizations.Count == 1 && request.Organizations[0] == NodesGroup;

    // Go's %v of a sorted string list: "[a b c]".
    private static string FormatSet(HashSet<string> set) => "[" + string.Join(" ", set.Order(StringComparer.Ordinal)) + "]";
}

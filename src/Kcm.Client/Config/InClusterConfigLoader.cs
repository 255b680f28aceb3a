using System.Net;
using System.Security.Cryptography.X509Certificates;

namespace Kcm.Client.Config;

/// <summary>
/// rest.InClusterConfig: the API server from KUBERNETES_SERVICE_HOST/PORT and the mounted service account
/// token, CA and namespace. The root directory and environment are injectable for tests.
/// </summary>
public sealed class InClusterConfigLoader(string serviceAccountDirectory = InClusterConfigLoader.DefaultServiceAccountDirectory, Func<string, string?>? environment = null)
{
    public const string DefaultServiceAccountDirectory = "/var/run/secrets/kubernetes.io/serviceaccount";

    private readonly Func<string, string?> _environment = environment ?? Environment.GetEnvironmentVariable;

    public string TokenPath => Path.Combine(serviceAccountDirectory, "token");

    public string CaPath => Path.Combine(serviceAccountDirectory, "ca.crt");

    public string NamespacePath => Path.Combine(serviceAccountDirectory, "namespace");

    public bool IsInCluster => !string.IsNullOrEmpty(_environment("KUBERNETES_SERVICE_HOST")) && !string.IsNullOrEmpty(_environment("KUBERNETES_SERVICE_PORT"));

    public ClientConfig Load()
    {
        var host = _environment("KUBERNETES_SERVICE_HOST");
        var port = _environment("KUBERNETES_SERVICE_PORT");
        if (string.IsNullOrEmpty(host) || string.IsNullOrEmpty(port))
        {
            throw new KubeconfigException("in-cluster config", "KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must be defined (not running in a cluster and no kubeconfig or --master given)");
        }
        // IPv6 service addresses need brackets, as net.JoinHostPort does.
        var hostPart = IPAddress.TryParse(host, out var ip) && ip.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? $"[{host}]" : host;
        if (!Uri.TryCreate($"https://{hostPart}:{port}", UriKind.Absolute, out var server))
        {
            throw new KubeconfigException("in-cluster config", $"KUBERNETES_SERVICE_HOST \"{host}\" and KUBERNETES_SERVICE_PORT \"{port}\" do not form a valid URL");
        }

        string token;
        try
        {
            token = File.ReadAllText(TokenPath).Trim();
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new KubeconfigException($"in-cluster token {TokenPath}", $"cannot read file: {ex.Message}", ex);
        }

        // A missing CA file falls back to the system roots as in client-go; a corrupt one is reported rather than ignored.
        IReadOnlyList<X509Certificate2> cas = [];
        if (File.Exists(CaPath))
        {
            try
            {
                cas = PemLoader.LoadCertificateBundle(File.ReadAllText(CaPath));
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or FormatException)
            {
                throw new KubeconfigException($"in-cluster CA {CaPath}", ex.Message, ex);
            }
        }

        string? ns = null;
        if (File.Exists(NamespacePath))
        {
            try
            {
                ns = File.ReadAllText(NamespacePath).Trim();
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                ns = null;
            }
        }

        return new ClientConfig
        {
            Server = server,
            BearerToken = token,
            BearerTokenFile = TokenPath,
            CertificateAuthorities = cas,
            Namespace = string.IsNullOrEmpty(ns) ? null : ns,
            SourceDescription = $"in-cluster config {serviceAccountDirectory}",
        };
    }
}

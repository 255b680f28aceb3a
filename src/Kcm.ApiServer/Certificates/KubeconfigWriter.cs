using System.Text;

namespace Kcm.ApiServer.Certificates;

/// <summary>Writes a kubeconfig byte-for-byte as `kubectl config set-cluster/set-credentials --embed-certs` would.</summary>
public static class KubeconfigWriter
{
    public static string Render(string server, string caPem, string clientCertPem, string clientKeyPem,
        string clusterName = "kubernetes", string userName = "admin", string contextName = "kubernetes")
    {
        var caData = Convert.ToBase64String(Encoding.ASCII.GetBytes(caPem));
        var certData = Convert.ToBase64String(Encoding.ASCII.GetBytes(clientCertPem));
        var keyData = Convert.ToBase64String(Encoding.ASCII.GetBytes(clientKeyPem));
        var sb = new StringBuilder();
        sb.Append("apiVersion: v1\n");
        sb.Append("clusters:\n");
        sb.Append("- cluster:\n");
        sb.Append("    certificate-authority-data: ").Append(caData).Append('\n');
        sb.Append("    server: ").Append(server).Append('\n');
        sb.Append("  name: ").Append(clusterName).Append('\n');
        sb.Append("contexts:\n");
        sb.Append("- context:\n");
        sb.Append("    cluster: ").Append(clusterName).Append('\n');
        sb.Append("    user: ").Append(userName).Append('\n');
        sb.Append("  name: ").Append(contextName).Append('\n');
        sb.Append("current-context: ").Append(contextName).Append('\n');
        sb.Append("kind: Config\n");
        sb.Append("preferences: {}\n");
        sb.Append("users:\n");
        sb.Append("- name: ").Append(userName).Append('\n');
        sb.Append("  user:\n");
        sb.Append("    client-certificate-data: ").Append(certData).Append('\n');
        sb.Append("    client-key-data: ").Append(keyData).Append('\n');
        return sb.ToString();
    }

    /// <summary>Writes admin.kubeconfig from the admin cert/key files (embedding their exact bytes), only when it changed.</summary>
    public static string WriteAdmin(string stateDirectory, string server)
        => Write(stateDirectory, server, ClusterCertificates.AdminCertFile, ClusterCertificates.AdminKeyFile, "admin", "admin.kubeconfig");

    /// <summary>
    /// Writes <paramref name="fileName"/> for the credentials in the given cert/key files of the state
    /// directory, as the guides' `kubectl config set-credentials --embed-certs` steps do; only when it changed.
    /// </summary>
    public static string Write(string stateDirectory, string server, string certFile, string keyFile, string userName, string fileName)
    {
        var caPem = File.ReadAllText(Path.Combine(stateDirectory, ClusterCertificates.CaCertFile));
        var certPem = File.ReadAllText(Path.Combine(stateDirectory, certFile));
        var keyPem = File.ReadAllText(Path.Combine(stateDirectory, keyFile));
        var path = Path.Combine(stateDirectory, fileName);
        var content = Render(server, caPem, certPem, keyPem, userName: userName);
        if (!File.Exists(path) || File.ReadAllText(path) != content)
        {
            ClusterCertificates.WriteTextFile(path, content, secret: true);
        }
        return path;
    }
}

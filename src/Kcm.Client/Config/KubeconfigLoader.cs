using System.Security.Cryptography.X509Certificates;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Kcm.Client.Config;

/// <summary>
/// Reads kubeconfig files the way client-go's clientcmd does: clusters/users/contexts/current-context,
/// inline *-data fields (base64) or file references resolved relative to the kubeconfig's directory.
/// </summary>
public static class KubeconfigLoader
{
    /// <summary>
    /// clientcmd.BuildConfigFromFlags: <paramref name="masterUrl"/> overrides the server of the chosen cluster;
    /// with no kubeconfig the master URL alone is enough; with neither, the in-cluster configuration is used.
    /// </summary>
    public static ClientConfig BuildConfigFromFlags(string? masterUrl, string? kubeconfigPath, string? context = null, InClusterConfigLoader? inCluster = null)
    {
        if (string.IsNullOrEmpty(kubeconfigPath))
        {
            if (string.IsNullOrEmpty(masterUrl))
            {
                return (inCluster ?? new InClusterConfigLoader()).Load();
            }
            var server = ParseServer(masterUrl, hasTlsMaterial: false, "--master", "--master");
            return new ClientConfig { Server = server, SourceDescription = "--master" };
        }
        return LoadFromFile(kubeconfigPath, context, masterUrl);
    }

    public static ClientConfig LoadFromFile(string path, string? context = null, string? masterUrl = null)
    {
        var fullPath = Path.GetFullPath(path);
        var source = $"kubeconfig {fullPath}";
        string text;
        try
        {
            text = File.ReadAllText(fullPath);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new KubeconfigException(source, $"cannot read file: {ex.Message}", ex);
        }
        return Parse(text, fullPath, context, masterUrl);
    }

    /// <summary>Parses kubeconfig text as if it had been read from <paramref name="path"/> (used for relative paths and messages).</summary>
    public static ClientConfig Parse(string yaml, string path, string? context = null, string? masterUrl = null)
    {
        var reader = new Reader($"kubeconfig {path}", Path.GetDirectoryName(Path.GetFullPath(path)) ?? ".");
        return reader.Read(yaml, context, masterUrl);
    }

    internal static Uri ParseServer(string server, bool hasTlsMaterial, string source, string field)
    {
        var text = server.Trim();
        // client-go's DefaultServerURL: a bare host:port gets https when TLS material is configured, else http.
        if (!text.Contains("://", StringComparison.Ordinal))
        {
            text = (hasTlsMaterial ? "https://" : "http://") + text;
        }
        if (!Uri.TryCreate(text, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttps && uri.Scheme != Uri.UriSchemeHttp) || uri.Host.Length == 0)
        {
            throw new KubeconfigException(source, $"{field} \"{server}\" is not a valid http(s) URL");
        }
        return uri;
    }

    private sealed class Reader(string source, string directory)
    {
        public ClientConfig Read(string yaml, string? contextOverride, string? masterUrl)
        {
            var root = LoadRoot(yaml);
            var clusters = NamedEntries(root, "clusters", "cluster");
            var users = NamedEntries(root, "users", "user");
            var contexts = NamedEntries(root, "contexts", "context");

            var contextName = string.IsNullOrEmpty(contextOverride) ? Scalar(root, "current-context") : contextOverride;
            YamlMappingNode? contextNode = null;
            if (string.IsNullOrEmpty(contextName))
            {
                if (string.IsNullOrEmpty(masterUrl))
                {
                    throw Fail("no current-context is set and no context was given");
                }
            }
            else if (!contexts.TryGetValue(contextName, out contextNode))
            {
                throw Fail($"context \"{contextName}\" not found");
            }

            var clusterName = contextNode is null ? null : Scalar(contextNode, "cluster");
            YamlMappingNode? clusterNode = null;
            if (!string.IsNullOrEmpty(clusterName) && !clusters.TryGetValue(clusterName, out clusterNode))
            {
                throw Fail($"cluster \"{clusterName}\" (used by context \"{contextName}\") not found");
            }
            if (clusterNode is null && string.IsNullOrEmpty(masterUrl))
            {
                throw Fail($"context \"{contextName}\" has no cluster");
            }

            var userName = contextNode is null ? null : Scalar(contextNode, "user");
            YamlMappingNode? userNode = null;
            if (!string.IsNullOrEmpty(userName) && !users.TryGetValue(userName, out userNode))
            {
                throw Fail($"user \"{userName}\" (used by context \"{contextName}\") not found");
            }

            var cluster = clusterNode is null ? new ClusterSettings(null, [], false, null) : ReadCluster(clusterName!, clusterNode);
            var user = userNode is null ? new UserSettings(null, null, null, null, null) : ReadUser(userName!, userNode);

            var hasTls = cluster.CertificateAuthorities.Count > 0 || user.ClientCertificate is not null || cluster.Insecure;
            Uri server;
            if (!string.IsNullOrEmpty(masterUrl))
            {
                server = ParseServer(masterUrl, hasTls, source, "--master");
            }
            else if (string.IsNullOrEmpty(cluster.Server))
            {
                throw Fail($"cluster \"{clusterName}\" has no server");
            }
            else
            {
                server = ParseServer(cluster.Server, hasTls, source, $"cluster \"{clusterName}\" server");
            }

            return new ClientConfig
            {
                Server = server,
                CertificateAuthorities = cluster.CertificateAuthorities,
                InsecureSkipTlsVerify = cluster.Insecure,
                TlsServerName = cluster.TlsServerName,
                ClientCertificate = user.ClientCertificate,
                BearerToken = user.Token,
                BearerTokenFile = user.TokenFile,
                Username = user.Username,
                Password = user.Password,
                Namespace = contextNode is null ? null : NullIfEmpty(Scalar(contextNode, "namespace")),
                SourceDescription = source,
            };
        }

        private sealed record ClusterSettings(string? Server, IReadOnlyList<X509Certificate2> CertificateAuthorities, bool Insecure, string? TlsServerName);

        private sealed record UserSettings(X509Certificate2? ClientCertificate, string? Token, string? TokenFile, string? Username, string? Password);

        private ClusterSettings ReadCluster(string name, YamlMappingNode node)
        {
            var what = $"cluster \"{name}\"";
            var caData = Scalar(node, "certificate-authority-data");
            var caFile = Scalar(node, "certificate-authority");
            var insecure = Bool(node, "insecure-skip-tls-verify", what);
            if (!string.IsNullOrEmpty(caData) && !string.IsNullOrEmpty(caFile))
            {
                throw Fail($"{what}: certificate-authority-data and certificate-authority are both set");
            }
            if (insecure && (!string.IsNullOrEmpty(caData) || !string.IsNullOrEmpty(caFile)))
            {
                throw Fail($"{what}: a certificate authority together with insecure-skip-tls-verify is not allowed");
            }

            IReadOnlyList<X509Certificate2> cas = [];
            if (!string.IsNullOrEmpty(caData))
            {
                cas = LoadBundle(DecodeBase64(caData, $"{what} certificate-authority-data"), $"{what} certificate-authority-data");
            }
            else if (!string.IsNullOrEmpty(caFile))
            {
                var file = Resolve(caFile);
                cas = LoadBundle(ReadReferencedFile(file, $"{what} certificate-authority"), $"{what} certificate-authority {file}");
            }
            return new ClusterSettings(NullIfEmpty(Scalar(node, "server")), cas, insecure, NullIfEmpty(Scalar(node, "tls-server-name")));
        }

        private UserSettings ReadUser(string name, YamlMappingNode node)
        {
            var what = $"user \"{name}\"";
            if (node.Children.ContainsKey(new YamlScalarNode("exec")))
            {
                throw Fail($"{what}: exec credential plugins are not supported");
            }
            if (node.Children.ContainsKey(new YamlScalarNode("auth-provider")))
            {
                throw Fail($"{what}: auth-provider plugins are not supported");
            }

            var certData = Scalar(node, "client-certificate-data");
            var certFile = Scalar(node, "client-certificate");
            var keyData = Scalar(node, "client-key-data");
            var keyFile = Scalar(node, "client-key");
            if (!string.IsNullOrEmpty(certData) && !string.IsNullOrEmpty(certFile))
            {
                throw Fail($"{what}: client-certificate-data and client-certificate are both set");
            }
            if (!string.IsNullOrEmpty(keyData) && !string.IsNullOrEmpty(keyFile))
            {
                throw Fail($"{what}: client-key-data and client-key are both set");
            }

            string? certPem = null, keyPem = null, certOrigin = null;
            if (!string.IsNullOrEmpty(certData))
            {
                certOrigin = $"{what} client-certificate-data";
                certPem = DecodeBase64(certData, certOrigin);
            }
            else if (!string.IsNullOrEmpty(certFile))
            {
                var file = Resolve(certFile);
                certOrigin = $"{what} client-certificate {file}";
                certPem = ReadReferencedFile(file, $"{what} client-certificate");
            }
            if (!string.IsNullOrEmpty(keyData))
            {
                keyPem = DecodeBase64(keyData, $"{what} client-key-data");
            }
            else if (!string.IsNullOrEmpty(keyFile))
            {
                keyPem = ReadReferencedFile(Resolve(keyFile), $"{what} client-key");
            }
            if ((certPem is null) != (keyPem is null))
            {
                throw Fail($"{what}: a client certificate needs both client-certificate(-data) and client-key(-data)");
            }

            X509Certificate2? clientCertificate = null;
            if (certPem is not null && keyPem is not null)
            {
                try
                {
                    clientCertificate = PemLoader.LoadClientCertificate(certPem, keyPem);
                }
                catch (FormatException ex)
                {
                    throw Fail($"{certOrigin}: {ex.Message}", ex);
                }
            }

            var token = NullIfEmpty(Scalar(node, "token"));
            var tokenFile = NullIfEmpty(Scalar(node, "tokenFile"));
            if (tokenFile is not null)
            {
                tokenFile = Resolve(tokenFile);
                // Like clientcmd, an explicit token wins for the initial value but the file is still used for rotation.
                var fromFile = ReadReferencedFile(tokenFile, $"{what} tokenFile").Trim();
                token ??= fromFile;
            }

            var username = NullIfEmpty(Scalar(node, "username"));
            var password = NullIfEmpty(Scalar(node, "password"));
            if (token is not null && (username is not null || password is not null))
            {
                throw Fail($"{what}: more than one authentication method (token and basic auth) is set");
            }
            return new UserSettings(clientCertificate, token, tokenFile, username, password);
        }

        private YamlMappingNode LoadRoot(string yaml)
        {
            var stream = new YamlStream();
            try
            {
                stream.Load(new StringReader(yaml));
            }
            catch (YamlException ex)
            {
                throw Fail($"invalid YAML at line {ex.Start.Line}, column {ex.Start.Column}: {InnermostMessage(ex)}", ex);
            }
            if (stream.Documents.Count == 0)
            {
                throw Fail("file is empty");
            }
            return stream.Documents[0].RootNode as YamlMappingNode ?? throw Fail("top level is not a mapping");
        }

        private static string InnermostMessage(Exception ex)
        {
            while (ex.InnerException is not null)
            {
                ex = ex.InnerException;
            }
            return ex.Message;
        }

        private Dictionary<string, YamlMappingNode> NamedEntries(YamlMappingNode root, string listKey, string itemKey)
        {
            var result = new Dictionary<string, YamlMappingNode>(StringComparer.Ordinal);
            if (!root.Children.TryGetValue(new YamlScalarNode(listKey), out var listNode) || IsNull(listNode))
            {
                return result;
            }
            if (listNode is not YamlSequenceNode sequence)
            {
                throw Fail($"{listKey} is not a list");
            }
            foreach (var entry in sequence.Children)
            {
                if (entry is not YamlMappingNode mapping)
                {
                    throw Fail($"an entry of {listKey} is not a mapping");
                }
                var name = Scalar(mapping, "name");
                if (string.IsNullOrEmpty(name))
                {
                    throw Fail($"an entry of {listKey} has no name");
                }
                if (!mapping.Children.TryGetValue(new YamlScalarNode(itemKey), out var body) || IsNull(body))
                {
                    result[name] = new YamlMappingNode();
                    continue;
                }
                result[name] = body as YamlMappingNode ?? throw Fail($"{itemKey} of {listKey} entry \"{name}\" is not a mapping");
            }
            return result;
        }

        private static bool IsNull(YamlNode node)
            => node is YamlScalarNode { Value: null or "" or "~" or "null", Style: ScalarStyle.Plain or ScalarStyle.Any };

        private string? Scalar(YamlMappingNode node, string key)
        {
            if (!node.Children.TryGetValue(new YamlScalarNode(key), out var value) || IsNull(value))
            {
                return null;
            }
            return value is YamlScalarNode scalar ? scalar.Value : throw Fail($"{key} is not a scalar value");
        }

        private bool Bool(YamlMappingNode node, string key, string what)
        {
            var text = Scalar(node, key);
            if (text is null)
            {
                return false;
            }
            return bool.TryParse(text, out var value) ? value : throw Fail($"{what}: {key} \"{text}\" is not true or false");
        }

        private string Resolve(string file)
        {
            // clientcmd resolves relative references against the directory of the file they came from.
            return Path.IsPathRooted(file) ? file : Path.GetFullPath(Path.Combine(directory, file));
        }

        private string ReadReferencedFile(string file, string what)
        {
            try
            {
                return File.ReadAllText(file);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                throw Fail($"{what}: cannot read {file}: {ex.Message}", ex);
            }
        }

        private string DecodeBase64(string data, string what)
        {
            try
            {
                return System.Text.Encoding.UTF8.GetString(Convert.FromBase64String(data.Trim()));
            }
            catch (FormatException ex)
            {
                throw Fail($"{what} is not valid base64", ex);
            }
        }

        private IReadOnlyList<X509Certificate2> LoadBundle(string pem, string what)
        {
            try
            {
                return PemLoader.LoadCertificateBundle(pem);
            }
            catch (FormatException ex)
            {
                throw Fail($"{what}: {ex.Message}", ex);
            }
        }

        private KubeconfigException Fail(string problem, Exception? inner = null) => new(source, problem, inner);
    }

    private static string? NullIfEmpty(string? value) => string.IsNullOrEmpty(value) ? null : value;
}

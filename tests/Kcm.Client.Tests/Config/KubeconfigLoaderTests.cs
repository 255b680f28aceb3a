using System.Text;
using Kcm.Client.Config;
using Kcm.Client.Tests.Support;

namespace Kcm.Client.Tests.Config;

public sealed class KubeconfigLoaderTests : IDisposable
{
    private readonly TempDirectory _dir = new();
    private readonly TestPki _pki = new();

    private static string B64(string text) => Convert.ToBase64String(Encoding.UTF8.GetBytes(text));

    /// <summary>The layout kubectl config set-cluster/set-credentials/set-context/use-context writes.</summary>
    private static string Kubeconfig(string clusterBody, string userBody, string currentContext = "admin@prod", string extraContexts = "")
        => $$"""
        apiVersion: v1
        clusters:
        - cluster:
        {{Indent(clusterBody, 4)}}
          name: prod
        contexts:
        - context:
            cluster: prod
            namespace: team-a
            user: admin
          name: admin@prod
        {{extraContexts}}current-context: {{currentContext}}
        kind: Config
        preferences: {}
        users:
        - name: admin
          user:
        {{Indent(userBody, 4)}}
        """;

    private static string Indent(string body, int spaces)
        => string.Join('\n', body.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => new string(' ', spaces) + l));

    [Fact]
    public void LoadFromFile_EmbeddedCertificates_LoadsServerCaAndClientCertificate()
    {
        var client = _pki.Issue("system:kube-controller-manager", KeyPemFormat.EcSec1, server: false);
        var path = _dir.Write("config", Kubeconfig(
            $"certificate-authority-data: {B64(_pki.CaPem)}\nserver: https://10.0.0.1:6443",
            $"client-certificate-data: {B64(client.CertificatePem)}\nclient-key-data: {B64(client.KeyPem)}"));

        var config = KubeconfigLoader.LoadFromFile(path);

        Assert.Equal(new Uri("https://10.0.0.1:6443"), config.Server);
        Assert.Single(config.CertificateAuthorities);
        Assert.Equal(_pki.Ca.Thumbprint, config.CertificateAuthorities[0].Thumbprint);
        Assert.NotNull(config.ClientCertificate);
        Assert.True(config.ClientCertificate!.HasPrivateKey);
        Assert.Equal(client.Certificate.Thumbprint, config.ClientCertificate.Thumbprint);
        Assert.Equal("team-a", config.Namespace);
        Assert.False(config.InsecureSkipTlsVerify);
    }

    [Fact]
    public void LoadFromFile_RelativeFilePaths_ResolvedAgainstKubeconfigDirectory()
    {
        var client = _pki.Issue("admin", KeyPemFormat.RsaPkcs1, server: false);
        _dir.Write("pki/ca.pem", _pki.CaPem);
        _dir.Write("pki/admin.pem", client.CertificatePem);
        _dir.Write("pki/admin-key.pem", client.KeyPem);
        var path = _dir.Write("conf/kubeconfig", Kubeconfig(
            "certificate-authority: ../pki/ca.pem\nserver: https://api.example:6443\ntls-server-name: kubernetes.default",
            "client-certificate: ../pki/admin.pem\nclient-key: ../pki/admin-key.pem"));

        var config = KubeconfigLoader.LoadFromFile(path);

        Assert.Equal(_pki.Ca.Thumbprint, config.CertificateAuthorities.Single().Thumbprint);
        Assert.Equal(client.Certificate.Thumbprint, config.ClientCertificate!.Thumbprint);
        Assert.Equal("kubernetes.default", config.TlsServerName);
    }

    [Fact]
    public void LoadFromFile_Token_SetsBearerToken()
    {
        var path = _dir.Write("config", Kubeconfig("server: https://h:6443\ninsecure-skip-tls-verify: true", "token: abc.def"));

        var config = KubeconfigLoader.LoadFromFile(path);

        Assert.Equal("abc.def", config.BearerToken);
        Assert.Null(config.BearerTokenFile);
        Assert.True(config.InsecureSkipTlsVerify);
    }

    [Fact]
    public void LoadFromFile_TokenFile_ReadsItAndKeepsPathForRotation()
    {
        _dir.Write("secrets/token", "from-file\n");
        var path = _dir.Write("config", Kubeconfig("server: https://h:6443", "tokenFile: secrets/token"));

        var config = KubeconfigLoader.LoadFromFile(path);

        Assert.Equal("from-file", config.BearerToken);
        Assert.Equal(Path.Combine(_dir.Path, "secrets", "token"), config.BearerTokenFile);
    }

    [Fact]
    public void LoadFromFile_ContextOverride_UsesThatContext()
    {
        var extra = """
            - context:
                cluster: prod
                user: admin
                namespace: other
              name: second

            """;
        var path = _dir.Write("config", Kubeconfig("server: https://h:6443", "token: t", extraContexts: extra));

        Assert.Equal("team-a", KubeconfigLoader.LoadFromFile(path).Namespace);
        Assert.Equal("other", KubeconfigLoader.LoadFromFile(path, context: "second").Namespace);
    }

    [Fact]
    public void LoadFromFile_MasterOverride_ReplacesServerOnly()
    {
        var path = _dir.Write("config", Kubeconfig("server: https://h:6443", "token: t"));

        var config = KubeconfigLoader.LoadFromFile(path, masterUrl: "https://127.0.0.1:7443");

        Assert.Equal(new Uri("https://127.0.0.1:7443"), config.Server);
        Assert.Equal("t", config.BearerToken);
    }

    [Fact]
    public void BuildConfigFromFlags_MasterWithoutKubeconfig_UsesMasterAlone()
    {
        var config = KubeconfigLoader.BuildConfigFromFlags("http://127.0.0.1:8080", null);

        Assert.Equal(new Uri("http://127.0.0.1:8080"), config.Server);
        Assert.Null(config.BearerToken);
        Assert.Empty(config.CertificateAuthorities);
    }

    [Fact]
    public void BuildConfigFromFlags_MasterWithoutScheme_DefaultsToHttp()
    {
        var config = KubeconfigLoader.BuildConfigFromFlags("127.0.0.1:8080", "");

        Assert.Equal(new Uri("http://127.0.0.1:8080"), config.Server);
    }

    [Fact]
    public void BuildConfigFromFlags_NothingGivenOutsideCluster_FailsWithOneLine()
    {
        var inCluster = new InClusterConfigLoader(_dir.Path, _ => null);

        var ex = Assert.Throws<KubeconfigException>(() => KubeconfigLoader.BuildConfigFromFlags(null, null, inCluster: inCluster));

        Assert.Contains("KUBERNETES_SERVICE_HOST", ex.Message);
        Assert.DoesNotContain('\n', ex.Message);
    }

    public static TheoryData<string, string> MalformedCases()
    {
        const string cluster = "clusters:\n- name: c\n  cluster:\n    server: https://h:6443\n";
        const string user = "users:\n- name: u\n  user:\n    token: t\n";
        const string context = "contexts:\n- name: x\n  context:\n    cluster: c\n    user: u\n";
        return new TheoryData<string, string>
        {
            { "clusters: [unclosed\n", "invalid YAML" },
            { "- just\n- a list\n", "top level is not a mapping" },
            { "", "file is empty" },
            { cluster + user + context, "no current-context" },
            { cluster + user + context + "current-context: foo\n", "context \"foo\" not found" },
            { user + context + "current-context: x\n", "cluster \"c\" (used by context \"x\") not found" },
            { cluster + context + "current-context: x\n", "user \"u\" (used by context \"x\") not found" },
            { "clusters:\n- name: c\n  cluster:\n    certificate-authority-data: '%%%'\n    server: https://h\n" + user + context + "current-context: x\n", "certificate-authority-data is not valid base64" },
            { "clusters:\n- name: c\n  cluster:\n    certificate-authority-data: " + B64("not a pem") + "\n    server: https://h\n" + user + context + "current-context: x\n", "no PEM CERTIFICATE block" },
            { "clusters:\n- name: c\n  cluster:\n    certificate-authority: missing-ca.pem\n    server: https://h\n" + user + context + "current-context: x\n", "cannot read" },
            { "clusters:\n- name: c\n  cluster:\n    server: 'ht!tp://bad url'\n" + user + context + "current-context: x\n", "is not a valid http(s) URL" },
            { "clusters:\n- name: c\n  cluster:\n    server: ftp://h\n" + user + context + "current-context: x\n", "is not a valid http(s) URL" },
            { "clusters:\n- name: c\n  cluster: {}\n" + user + context + "current-context: x\n", "has no server" },
            { cluster + "users:\n- name: u\n  user:\n    client-certificate-data: " + B64("garbage") + "\n    client-key-data: " + B64("garbage") + "\n" + context + "current-context: x\n", "invalid client certificate or key PEM" },
            { cluster + "users:\n- name: u\n  user:\n    client-key-data: " + B64("k") + "\n" + context + "current-context: x\n", "needs both" },
            { cluster + "users:\n- name: u\n  user:\n    tokenFile: /nonexistent/token\n" + context + "current-context: x\n", "tokenFile: cannot read" },
            { cluster + "users:\n- name: u\n  user:\n    exec:\n      command: aws\n" + context + "current-context: x\n", "exec credential plugins are not supported" },
            { "clusters:\n- name: c\n  cluster:\n    server: https://h\n    insecure-skip-tls-verify: maybe\n" + user + context + "current-context: x\n", "is not true or false" },
            { "clusters: 5\n", "clusters is not a list" },
        };
    }

    [Theory]
    [MemberData(nameof(MalformedCases))]
    public void LoadFromFile_MalformedInput_ThrowsOneLineErrorNamingFile(string yaml, string expected)
    {
        var path = _dir.Write("bad-config", yaml);

        var ex = Assert.Throws<KubeconfigException>(() => KubeconfigLoader.LoadFromFile(path));

        Assert.StartsWith($"kubeconfig {path}: ", ex.Message);
        Assert.Contains(expected, ex.Message);
        Assert.DoesNotContain('\n', ex.Message);
        Assert.DoesNotContain('\r', ex.Message);
    }

    [Fact]
    public void LoadFromFile_MissingFile_ThrowsOneLineErrorNamingFile()
    {
        var path = Path.Combine(_dir.Path, "nope");

        var ex = Assert.Throws<KubeconfigException>(() => KubeconfigLoader.LoadFromFile(path));

        Assert.StartsWith($"kubeconfig {path}: cannot read file", ex.Message);
        Assert.DoesNotContain('\n', ex.Message);
    }

    [Fact]
    public void LoadFromFile_BadPemKeyFile_NamesTheCertificateFile()
    {
        var client = _pki.Issue("admin", KeyPemFormat.RsaPkcs8, server: false);
        var other = _pki.Issue("other", KeyPemFormat.RsaPkcs8, server: false);
        _dir.Write("admin.pem", client.CertificatePem);
        _dir.Write("admin-key.pem", other.KeyPem);
        var path = _dir.Write("config", Kubeconfig("server: https://h:6443", "client-certificate: admin.pem\nclient-key: admin-key.pem"));

        var ex = Assert.Throws<KubeconfigException>(() => KubeconfigLoader.LoadFromFile(path));

        Assert.Contains(Path.Combine(_dir.Path, "admin.pem"), ex.Message);
        Assert.DoesNotContain('\n', ex.Message);
    }

    public void Dispose()
    {
        _pki.Dispose();
        _dir.Dispose();
    }
}

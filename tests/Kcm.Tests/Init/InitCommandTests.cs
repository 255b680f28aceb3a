using System.Security.Cryptography.X509Certificates;
using Kcm.Api.Security;
using Kcm.Client.Config;
using Kcm.Init;

namespace Kcm.Tests.Init;

/// <summary>`init` in process: the files per master, idempotence, overrides, and one clear line for every bad input.</summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")] // file modes: init refuses group/other-readable keys
public sealed class InitCommandTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "kcm-init-" + Guid.NewGuid().ToString("N")[..8]);

    public InitCommandTests() => Directory.CreateDirectory(_dir);

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string P(params string[] parts) => Path.Combine([_dir, .. parts]);

    private async Task<(int Exit, string Stdout, string Stderr)> InitAsync(params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        var exit = await new InitCommand().RunAsync(args, stdout, stderr);
        return (exit, stdout.ToString(), stderr.ToString());
    }

    private string[] Standard(params string[] extra)
        => ["--masters", "10.0.0.1,10.0.0.2", "--apiserver", "https://10.0.0.10:6443", "--ca-cert", P("pki", "ca.pem"), "--ca-key", P("pki", "ca-key.pem"), "--out", P("out"), .. extra];

    private async Task NewCaAsync()
    {
        var (exit, _, stderr) = await InitAsync(Standard("--new-ca"));
        Assert.True(exit == 0, stderr);
    }

    [Fact(Timeout = 60_000)]
    public async Task RunAsync_NewCa_WritesEachMastersFilesAsTheGuides()
    {
        var (exit, stdout, stderr) = await InitAsync(Standard("--new-ca"));
        Assert.True(exit == 0, stderr);
        Assert.Contains("created CA", stdout);
        Assert.True(File.Exists(P("pki", "admin.pem")));

        var ca = X509CertificateLoader.LoadCertificate(GoPem.ParseCertificates(File.ReadAllBytes(P("pki", "ca.pem")))[0].RawData);
        foreach (var master in new[] { "10.0.0.1", "10.0.0.2" })
        {
            var certPath = P("out", master, "cert", "kube-controller-manager.pem");
            var keyPath = P("out", master, "cert", "kube-controller-manager-key.pem");
            using var cert = GoPem.X509KeyPair(File.ReadAllBytes(certPath), File.ReadAllBytes(keyPath));
            Assert.Equal("CN=system:kube-controller-manager, O=system:kube-controller-manager", cert.Subject);
            var sans = cert.Extensions.Where(e => e.Oid?.Value == "2.5.29.17")
                .SelectMany(e => new X509SubjectAlternativeNameExtension(e.RawData).EnumerateIPAddresses()).Select(a => a.ToString()).Order().ToList();
            Assert.Equal(["10.0.0.1", "10.0.0.2", "127.0.0.1"], sans);
            Assert.True(CertificateChains.IsTrusted(cert, [ca], CertificateChains.ServerAuth));
            Assert.True(CertificateChains.IsTrusted(cert, [ca], CertificateChains.ClientAuth));
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(keyPath));
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(P("out", master, "cert", "ca-key.pem")));

            // The kubeconfig of `kubectl config set-cluster/set-credentials --embed-certs`, for the apiserver address.
            var kubeconfigPath = P("out", master, "kube-controller-manager.kubeconfig");
            Assert.Contains("current-context: system:kube-controller-manager\n", await File.ReadAllTextAsync(kubeconfigPath));
            var config = KubeconfigLoader.LoadFromFile(kubeconfigPath);
            Assert.Equal(new Uri("https://10.0.0.10:6443"), config.Server);
            Assert.Equal(cert.Thumbprint, config.ClientCertificate!.Thumbprint);
            Assert.Equal(ca.Thumbprint, Assert.Single(config.CertificateAuthorities).Thumbprint);

            var execStart = SystemdUnit.ParseExecStart(await File.ReadAllTextAsync(P("out", master, "kube-controller-manager.service")));
            Assert.Equal("/opt/k8s/bin/kube-controller-manager", execStart[0]);
            Assert.Equal(master, SystemdUnit.FlagValue(execStart, "bind-address"));
            Assert.Equal("/etc/kubernetes/kube-controller-manager.kubeconfig", SystemdUnit.FlagValue(execStart, "kubeconfig"));
            Assert.Equal("/etc/kubernetes/cert/kube-controller-manager.pem", SystemdUnit.FlagValue(execStart, "tls-cert-file"));
            Assert.Equal("/etc/kubernetes/cert/ca-key.pem", SystemdUnit.FlagValue(execStart, "cluster-signing-key-file"));
            Assert.Equal("true", SystemdUnit.FlagValue(execStart, "leader-elect"));
            Assert.Equal("10.254.0.0/16", SystemdUnit.FlagValue(execStart, "service-cluster-ip-range"));
            // The unit's flags are ones the controller manager itself accepts.
            var options = Kcm.Options.KubeControllerManagerOptions.Parse(execStart.Skip(1).ToList());
            Assert.Empty(options.Validate(checkFiles: false));
        }
        Assert.Contains("curl -s --cacert", stdout);
        Assert.Contains("https://10.0.0.2:10257/metrics", stdout);
        Assert.Contains("kubectl get lease -n kube-system kube-controller-manager -o yaml", stdout);
    }

    [Fact(Timeout = 60_000)]
    public async Task RunAsync_SecondRun_KeepsKeysAndCertificatesUntilRotateOrNewMaster()
    {
        await NewCaAsync();
        var keyPath = P("out", "10.0.0.1", "cert", "kube-controller-manager-key.pem");
        var certPath = P("out", "10.0.0.1", "cert", "kube-controller-manager.pem");
        var key = await File.ReadAllTextAsync(keyPath);
        var cert = await File.ReadAllTextAsync(certPath);

        var (exit, stdout, _) = await InitAsync(Standard());
        Assert.Equal(0, exit);
        Assert.Equal(key, await File.ReadAllTextAsync(keyPath));
        Assert.Equal(cert, await File.ReadAllTextAsync(certPath));
        Assert.DoesNotContain(": written", stdout);
        Assert.DoesNotContain(": issued", stdout);

        // A third master: same key, a new certificate naming it.
        (exit, stdout, _) = await InitAsync(["--masters", "10.0.0.1,10.0.0.2,10.0.0.3", .. Standard()[2..]]);
        Assert.Equal(0, exit);
        Assert.Equal(key, await File.ReadAllTextAsync(keyPath));
        Assert.NotEqual(cert, await File.ReadAllTextAsync(certPath));
        Assert.Contains("issued (masters changed", stdout);

        (exit, _, _) = await InitAsync(Standard("--rotate"));
        Assert.Equal(0, exit);
        Assert.NotEqual(key, await File.ReadAllTextAsync(keyPath));
    }

    [Fact(Timeout = 60_000)]
    public async Task RunAsync_FlagOverridesAndTemplate_ChangeExecStart()
    {
        await NewCaAsync();
        var (exit, stdout, stderr) = await InitAsync(Standard("--flag", "secure-port=10252", "--flag", "controllers=*,tokencleaner", "--flag", "node-monitor-grace-period=50s",
            "--remove-flag", "kube-api-burst", "--binary", "/usr/local/bin/kcm", "--install-dir", "/srv/k8s"));
        Assert.True(exit == 0, stderr);
        var execStart = SystemdUnit.ParseExecStart(await File.ReadAllTextAsync(P("out", "10.0.0.1", "kube-controller-manager.service")));
        Assert.Equal("/usr/local/bin/kcm", execStart[0]);
        Assert.Equal("10252", SystemdUnit.FlagValue(execStart, "secure-port"));
        Assert.Equal("*,tokencleaner", SystemdUnit.FlagValue(execStart, "controllers"));
        Assert.Equal("50s", SystemdUnit.FlagValue(execStart, "node-monitor-grace-period"));
        Assert.Null(SystemdUnit.FlagValue(execStart, "kube-api-burst"));
        Assert.Equal("/srv/k8s/cert/ca.pem", SystemdUnit.FlagValue(execStart, "root-ca-file"));
        Assert.Contains("https://10.0.0.1:10252/metrics", stdout);

        var template = P("my.service");
        await File.WriteAllTextAsync(template, "[Service]\nExecStart=##BINARY## --bind-address=##MASTER_IP## \\\n  --kubeconfig=\"##KUBECONFIG##\"\nUser=k8s\n");
        (exit, _, stderr) = await InitAsync(Standard("--template", template));
        Assert.True(exit == 0, stderr);
        var unit = await File.ReadAllTextAsync(P("out", "10.0.0.2", "kube-controller-manager.service"));
        Assert.EndsWith("User=k8s\n", unit);
        Assert.Equal(["/opt/k8s/bin/kube-controller-manager", "--bind-address=10.0.0.2", "--kubeconfig=/etc/kubernetes/kube-controller-manager.kubeconfig"], SystemdUnit.ParseExecStart(unit));
    }

    public static TheoryData<string, string> BadInputs => new()
    {
        { "bad-ip", "Error: --masters: \"10.0.0.300\" is not an IP address" },
        { "no-masters", "Error: --masters is required" },
        { "http-apiserver", "Error: --apiserver \"http://10.0.0.10:8080\": want the API server's https URL" },
        { "no-ca", "cannot read: no such file or directory (pass --new-ca to create a CA there)" },
        { "ca-not-readable", "cannot read:" },
        { "key-mismatch", "tls: private key does not match public key" },
        { "ca-key-open", "permissions 0644 are too open for a private key" },
        { "kcm-key-open", "kube-controller-manager-key.pem: permissions 0640 are too open for a private key" },
        { "kcm-cert-other-key", "kube-controller-manager.pem: tls: private key does not match public key (pass --rotate" },
        { "not-a-ca", "not a CA certificate" },
        { "bad-flag", "Error: invalid argument \"secure-port\" for \"--flag\" flag: want NAME=VALUE" },
        { "bad-template", "unknown placeholder ##MASTER##" },
        { "bad-cidr", "Error: --service-cluster-ip-range: invalid CIDR \"10.254.0.0/99\"" },
    };

    [Theory(Timeout = 60_000)]
    [MemberData(nameof(BadInputs))]
    public async Task RunAsync_BadInput_OneErrorLineAndExitCode1(string situation, string expected)
    {
        await NewCaAsync();
        string[] args = Standard();
        switch (situation)
        {
            case "bad-ip":
                args = ["--masters", "10.0.0.1,10.0.0.300", .. Standard()[2..]];
                break;
            case "no-masters":
                args = Standard()[2..];
                break;
            case "http-apiserver":
                args = [.. Standard(), "--apiserver", "http://10.0.0.10:8080"];
                break;
            case "no-ca":
                args = [.. Standard(), "--ca-cert", P("missing.pem")];
                break;
            case "ca-not-readable":
                args = [.. Standard(), "--ca-cert", P("out")];
                break;
            case "key-mismatch":
                await InitAsync(["--masters", "10.0.0.1", "--apiserver", "https://10.0.0.10:6443", "--new-ca", "--ca-cert", P("other", "ca.pem"), "--ca-key", P("other", "ca-key.pem"), "--out", P("other-out")]);
                args = [.. Standard(), "--ca-key", P("other", "ca-key.pem")];
                break;
            case "ca-key-open":
                File.SetUnixFileMode(P("pki", "ca-key.pem"), UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
                break;
            case "kcm-key-open":
                File.SetUnixFileMode(P("out", "10.0.0.2", "cert", "kube-controller-manager-key.pem"), UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead);
                break;
            case "kcm-cert-other-key":
                File.Copy(P("out", "10.0.0.2", "cert", "kube-controller-manager.pem"), P("out", "10.0.0.1", "cert", "kube-controller-manager.pem"), overwrite: true);
                break;
            case "not-a-ca":
                args = [.. Standard(), "--ca-cert", P("out", "10.0.0.1", "cert", "kube-controller-manager.pem"), "--ca-key", P("out", "10.0.0.1", "cert", "kube-controller-manager-key.pem")];
                break;
            case "bad-flag":
                args = [.. Standard(), "--flag", "secure-port"];
                break;
            case "bad-template":
                await File.WriteAllTextAsync(P("t.service"), "[Service]\nExecStart=##BINARY## --bind-address=##MASTER##\n");
                args = [.. Standard(), "--template", P("t.service")];
                break;
            case "bad-cidr":
                args = [.. Standard(), "--service-cluster-ip-range", "10.254.0.0/99"];
                break;
        }

        var (exit, _, stderr) = await InitAsync(args);

        Assert.Equal(1, exit);
        var line = Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("Error: ", line);
        Assert.Contains(expected, line);
    }

    [Fact]
    public void IssueLeaf_CaMadeJustNow_NotBeforeClampedToTheCas()
    {
        var now = DateTimeOffset.UtcNow;
        using var caKey = InitCertificates.NewKey();
        var caRequest = new CertificateRequest("CN=fresh-ca", caKey, System.Security.Cryptography.HashAlgorithmName.SHA256, System.Security.Cryptography.RSASignaturePadding.Pkcs1);
        caRequest.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        using var ca = caRequest.CreateSelfSigned(now.AddSeconds(-1), now.AddYears(1));
        using var key = InitCertificates.NewKey();

        var pem = InitCertificates.IssueLeaf(ca, key, new X500DistinguishedName("CN=system:kube-controller-manager"), [System.Net.IPAddress.Loopback], now);

        using var leaf = X509Certificate2.CreateFromPem(pem);
        Assert.Equal(ca.NotBefore, leaf.NotBefore);
    }

    [Fact]
    public void ParseExecStart_GuideStyleContinuationsAndQuotes_SplitsAsSystemd()
    {
        const string unit = "[Service]\nExecStart=-/opt/k8s/bin/kube-controller-manager \\\n  --requestheader-allowed-names=\"\" \\\n  --leader-elect\\\n  --v=2\nRestart=on-failure\n";
        Assert.Equal(["/opt/k8s/bin/kube-controller-manager", "--requestheader-allowed-names=", "--leader-elect", "--v=2"], SystemdUnit.ParseExecStart(unit));
    }
}

using System.Net;
using System.Security.Cryptography.X509Certificates;
using Kcm.ApiServer.Certificates;
using Kcm.Commands;
using Kcm.Options;

namespace Kcm.Init;

/// <summary>
/// `kube-controller-manager init`: the guides' manual setup in one idempotent command. For every master it writes
/// OUT/MASTER/cert/{ca,ca-key,kube-controller-manager,kube-controller-manager-key}.pem, OUT/MASTER/kube-controller-manager.kubeconfig
/// (the `kubectl config set-cluster/set-credentials --embed-certs` result) and OUT/MASTER/kube-controller-manager.service,
/// laid out as INSTALL-DIR on the master, then prints the guides' distribution and verification commands.
/// </summary>
public sealed class InitCommand(TimeProvider? time = null) : ICommand
{
    public const string CertFile = "kube-controller-manager.pem";
    public const string KeyFile = "kube-controller-manager-key.pem";
    public const string KubeconfigFile = "kube-controller-manager.kubeconfig";
    public const string UnitFile = "kube-controller-manager.service";

    private readonly TimeProvider _time = time ?? TimeProvider.System;

    public async Task<int> RunAsync(IReadOnlyList<string> args, TextWriter stdout, TextWriter stderr)
    {
        try
        {
            return await RunCoreAsync(args, stdout);
        }
        catch (Exception e) when (e is InitException or FlagException)
        {
            await stderr.WriteLineAsync($"Error: {e.Message}");
            return 1;
        }
    }

    private async Task<int> RunCoreAsync(IReadOnlyList<string> args, TextWriter stdout)
    {
        var flags = new FlagSet("kube-controller-manager init");
        var masters = new List<string>();
        flags.StringSliceVar("masters", [], "IP addresses of the masters that run a controller manager (comma-separated or repeated); each gets its own files, every one is in each certificate.", v => masters = [.. v]);
        var apiserver = flags.String("apiserver", "", "URL of the API server the kubeconfig points at (the guides' KUBE_APISERVER, e.g. https://172.16.60.250:8443).");
        var caCert = flags.String("ca-cert", "ca.pem", "The cluster CA certificate (cfssl's ca.pem).");
        var caKey = flags.String("ca-key", "ca-key.pem", "The cluster CA private key (cfssl's ca-key.pem); must not be readable by group or others.");
        var newCa = flags.Bool("new-ca", false, "Create the CA at --ca-cert/--ca-key (plus admin.pem/admin-key.pem beside it) when neither file exists.");
        var output = flags.String("out", "kcm-init", "Directory to write into: one subdirectory per master.");
        var installDir = flags.String("install-dir", "/etc/kubernetes", "Where the files go on each master (certificates in INSTALL-DIR/cert); the unit refers to them there.");
        var binary = flags.String("binary", "/opt/k8s/bin/kube-controller-manager", "Path of the kube-controller-manager binary on the masters.");
        var serviceCidr = flags.String("service-cluster-ip-range", "10.254.0.0/16", "The apiserver's --service-cluster-ip-range (the guides' SERVICE_CIDR).");
        var template = flags.String("template", "", "A systemd unit template to use instead of the built-in one (deploy/kube-controller-manager.service.template); placeholders ##MASTER_IP##, ##BINARY##, ##KUBECONFIG##, ##CERT_DIR##, ##SERVICE_CIDR##.");
        var setFlags = new List<KeyValuePair<string, string>>();
        flags.Var("flag", "NAME=VALUE", "", "Set a controller-manager flag in the unit's ExecStart (replaces it, or adds it); repeatable, e.g. --flag secure-port=10252.", v => setFlags.Add(ParseFlagOverride(v)));
        var removeFlags = new List<string>();
        flags.Var("remove-flag", "NAME", "", "Remove a flag from the unit's ExecStart; repeatable.", v => removeFlags.Add(v.TrimStart('-')));
        var rotate = flags.Bool("rotate", false, "Make new keys (and certificates) even where keys exist; without it existing keys are kept.");
        var adminCert = flags.String("admin-cert", "", "Admin client certificate the printed curl check uses (default: admin.pem beside --ca-cert).");
        var adminKey = flags.String("admin-key", "", "Its key (default: admin-key.pem beside --ca-cert).");
        flags.Parse(args);
        if (flags.HelpRequested)
        {
            await stdout.WriteAsync(flags.Usage());
            return 0;
        }
        if (flags.Arguments.Count > 0) throw new FlagException($"unexpected argument \"{flags.Arguments[0]}\"");

        var addresses = ParseMasters(masters);
        var server = ParseApiServer(apiserver());
        if (!IPNetwork.TryParse(serviceCidr(), out _)) throw new InitException($"--service-cluster-ip-range: invalid CIDR \"{serviceCidr()}\"");
        if (!Path.IsPathRooted(installDir())) throw new InitException($"--install-dir {installDir()}: must be an absolute path (systemd needs absolute paths)");
        if (!Path.IsPathRooted(binary())) throw new InitException($"--binary {binary()}: must be an absolute path (systemd needs absolute paths)");
        var unitTemplate = ReadTemplate(template());

        var now = _time.GetUtcNow();
        var caCertPath = caCert();
        var caKeyPath = caKey();
        if (newCa())
        {
            var certExists = File.Exists(caCertPath);
            if (certExists != File.Exists(caKeyPath))
            {
                throw new InitException($"--new-ca: only one of {caCertPath} and {caKeyPath} exists; remove it or pass the matching file");
            }
            if (!certExists)
            {
                InitCertificates.CreateCa(caCertPath, caKeyPath, now);
                await stdout.WriteLineAsync($"created CA {caCertPath}, {caKeyPath}");
            }
        }
        using var ca = InitCertificates.LoadCa(caCertPath, caKeyPath, now);
        if (newCa()) await EnsureAdminAsync(ca, caCertPath, now, stdout);
        var caPem = await File.ReadAllTextAsync(caCertPath);
        var caKeyPem = await File.ReadAllTextAsync(caKeyPath);

        // Every certificate names every master, as the guides' hosts list: any of them may serve behind one name.
        IReadOnlyList<IPAddress> sans = [IPAddress.Loopback, .. addresses.Where(a => !a.Equals(IPAddress.Loopback))];
        var certDir = installDir().TrimEnd('/') + "/cert";
        var remoteKubeconfig = installDir().TrimEnd('/') + "/" + KubeconfigFile;
        var ports = new List<(IPAddress Master, string Address, string Port)>();
        foreach (var master in addresses)
        {
            var dir = Path.Combine(output(), master.ToString());
            var localCertDir = Path.Combine(dir, "cert");
            await stdout.WriteLineAsync($"master {master}: {dir}");

            var (certPem, keyPem) = await EnsureKeyAndCertificateAsync(localCertDir, ca, sans, rotate(), now, stdout);
            await ReportAsync(stdout, Path.Combine(localCertDir, "ca.pem"), InitFiles.WriteIfChanged(Path.Combine(localCertDir, "ca.pem"), caPem, secret: false));
            await ReportAsync(stdout, Path.Combine(localCertDir, "ca-key.pem"), InitFiles.WriteIfChanged(Path.Combine(localCertDir, "ca-key.pem"), caKeyPem, secret: true));

            var kubeconfig = KubeconfigWriter.Render(server, caPem, certPem, keyPem,
                clusterName: "kubernetes", userName: InitCertificates.Subject, contextName: InitCertificates.Subject);
            var kubeconfigPath = Path.Combine(dir, KubeconfigFile);
            await ReportAsync(stdout, kubeconfigPath, InitFiles.WriteIfChanged(kubeconfigPath, kubeconfig, secret: true));

            var values = new Dictionary<string, string>
            {
                ["MASTER_IP"] = master.ToString(),
                ["BINARY"] = binary(),
                ["KUBECONFIG"] = remoteKubeconfig,
                ["CERT_DIR"] = certDir,
                ["SERVICE_CIDR"] = serviceCidr(),
            };
            var unit = SystemdUnit.Override(SystemdUnit.Fill(unitTemplate.Text, values, unitTemplate.Name), setFlags, removeFlags);
            var unitPath = Path.Combine(dir, UnitFile);
            await ReportAsync(stdout, unitPath, InitFiles.WriteIfChanged(unitPath, unit, secret: false));

            var execStart = SystemdUnit.ParseExecStart(unit);
            var bind = SystemdUnit.FlagValue(execStart, "bind-address") ?? "0.0.0.0";
            var address = bind is "0.0.0.0" or "::" ? master.ToString() : bind;
            ports.Add((master, address.Contains(':', StringComparison.Ordinal) ? $"[{address}]" : address, SystemdUnit.FlagValue(execStart, "secure-port") ?? "10257"));
        }

        await PrintNextStepsAsync(stdout, output(), installDir(), caCertPath, adminCert(), adminKey(), ports);
        return 0;
    }

    private static async Task<(string CertPem, string KeyPem)> EnsureKeyAndCertificateAsync(string certDir, X509Certificate2 ca,
        IReadOnlyList<IPAddress> sans, bool rotate, DateTimeOffset now, TextWriter stdout)
    {
        var keyPath = Path.Combine(certDir, KeyFile);
        var certPath = Path.Combine(certDir, CertFile);
        using var existing = rotate ? null : InitCertificates.LoadKey(keyPath);
        using var key = existing ?? InitCertificates.NewKey();
        if (existing is null)
        {
            InitFiles.Write(keyPath, InitCertificates.KeyPem(key), secret: true);
            await stdout.WriteLineAsync($"  {keyPath}: {(File.Exists(certPath) ? "new key (rotated)" : "new key")}");
        }
        else
        {
            await stdout.WriteLineAsync($"  {keyPath}: kept");
        }
        var why = existing is null ? "new key" : InitCertificates.WhyReissue(certPath, key, ca, sans, now);
        if (why is null)
        {
            await stdout.WriteLineAsync($"  {certPath}: kept");
        }
        else
        {
            InitFiles.Write(certPath, InitCertificates.Issue(ca, key, sans, now), secret: false);
            await stdout.WriteLineAsync($"  {certPath}: issued ({why}; CN and O {InitCertificates.Subject}, SANs {string.Join(", ", sans)})");
        }
        return (await File.ReadAllTextAsync(certPath), await File.ReadAllTextAsync(keyPath));
    }

    private static async Task EnsureAdminAsync(X509Certificate2 ca, string caCertPath, DateTimeOffset now, TextWriter stdout)
    {
        var dir = Path.GetDirectoryName(Path.GetFullPath(caCertPath))!;
        var certPath = Path.Combine(dir, "admin.pem");
        var keyPath = Path.Combine(dir, "admin-key.pem");
        if (File.Exists(certPath) || File.Exists(keyPath)) return;
        using var key = InitCertificates.NewKey();
        InitFiles.Write(keyPath, InitCertificates.KeyPem(key), secret: true);
        InitFiles.Write(certPath, InitCertificates.IssueLeaf(ca, key, new X500DistinguishedName("CN=admin, O=system:masters"), [], now), secret: false);
        await stdout.WriteLineAsync($"created admin client certificate {certPath}, {keyPath} (user admin, group system:masters)");
    }

    private static async Task ReportAsync(TextWriter stdout, string path, bool written)
        => await stdout.WriteLineAsync($"  {path}: {(written ? "written" : "unchanged")}");

    private static async Task PrintNextStepsAsync(TextWriter stdout, string output, string installDir, string caCertPath, string adminCert, string adminKey,
        List<(IPAddress Master, string Address, string Port)> ports)
    {
        var caDir = Path.GetDirectoryName(Path.GetFullPath(caCertPath))!;
        var admin = adminCert.Length > 0 ? adminCert : Path.Combine(caDir, "admin.pem");
        var adminKeyPath = adminKey.Length > 0 ? adminKey : Path.Combine(caDir, "admin-key.pem");
        var list = string.Join(' ', ports.Select(p => p.Master.ToString()));
        await stdout.WriteLineAsync($"""

            Distribute and start (as the guides, from this machine):
              for ip in {list}; do
                ssh root@$ip "mkdir -p {installDir}"
                scp -r {output}/$ip/cert {output}/$ip/{KubeconfigFile} root@$ip:{installDir}/
                scp {output}/$ip/{UnitFile} root@$ip:/etc/systemd/system/
                ssh root@$ip "systemctl daemon-reload && systemctl enable kube-controller-manager && systemctl restart kube-controller-manager"
              done

            Verify:
            """);
        foreach (var (master, _, _) in ports)
        {
            await stdout.WriteLineAsync($"  ssh root@{master} \"systemctl status kube-controller-manager | grep Active\"   # journalctl -u kube-controller-manager if not active");
        }
        foreach (var (master, _, port) in ports)
        {
            await stdout.WriteLineAsync($"  ssh root@{master} \"ss -lnpt | grep :{port}\"");
        }
        foreach (var (_, address, port) in ports)
        {
            await stdout.WriteLineAsync($"  curl -s --cacert {Path.GetFullPath(caCertPath)} --cert {admin} --key {adminKeyPath} https://{address}:{port}/metrics | head");
        }
        var instances = string.Join(',', ports.Select(p => $"https://{p.Address}:{p.Port}"));
        await stdout.WriteLineAsync($"""
              kubectl get lease -n kube-system kube-controller-manager -o yaml    # holderIdentity: the leader
              kubectl describe clusterrole system:kube-controller-manager
              kube-controller-manager status --kubeconfig ADMIN.kubeconfig --instances {instances}
            """);
    }

    private static List<IPAddress> ParseMasters(List<string> masters)
    {
        if (masters.Count == 0) throw new InitException("--masters is required: the masters' IP addresses, comma-separated");
        var result = new List<IPAddress>();
        foreach (var text in masters)
        {
            var trimmed = text.Trim();
            if (!IPAddress.TryParse(trimmed, out var address) || trimmed.Count(c => c == '.') is not (0 or 3))
            {
                throw new InitException($"--masters: \"{text}\" is not an IP address");
            }
            if (!result.Contains(address)) result.Add(address);
        }
        return result;
    }

    private static string ParseApiServer(string text)
    {
        if (text.Length == 0) throw new InitException("--apiserver is required: the URL the controller managers reach the API server at, e.g. https://10.0.0.10:6443");
        if (!Uri.TryCreate(text, UriKind.Absolute, out var uri) || uri.Scheme != "https" || uri.Host.Length == 0)
        {
            throw new InitException($"--apiserver \"{text}\": want the API server's https URL, e.g. https://10.0.0.10:6443");
        }
        return text.TrimEnd('/');
    }

    private static KeyValuePair<string, string> ParseFlagOverride(string text)
    {
        var eq = text.IndexOf('=', StringComparison.Ordinal);
        var name = eq < 0 ? "" : text[..eq].TrimStart('-');
        if (name.Length == 0) throw new FormatException($"want NAME=VALUE, e.g. secure-port=10252");
        return new(name, text[(eq + 1)..]);
    }

    private static (string Text, string Name) ReadTemplate(string path)
    {
        if (path.Length == 0) return (SystemdUnit.DefaultTemplate(), "the built-in unit template");
        try
        {
            return (File.ReadAllText(path), "--template " + path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new InitException($"--template {path}: cannot read: {e.Message}");
        }
    }
}

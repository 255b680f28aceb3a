using System.Globalization;
using System.Net;

namespace Kcm.Options;

public sealed class SecureServingOptions
{
    public static IReadOnlyList<string> TlsVersions { get; } = ["VersionTLS10", "VersionTLS11", "VersionTLS12", "VersionTLS13"];

    /// <summary>Go's crypto/tls suite names that --tls-cipher-suites accepts (secure and insecure ones).</summary>
    public static IReadOnlyList<string> CipherSuites { get; } =
    [
        "TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256",
        "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA", "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA",
        "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305", "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
        "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA",
        "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305", "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
        "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256", "TLS_ECDHE_ECDSA_WITH_RC4_128_SHA", "TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA",
        "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256", "TLS_ECDHE_RSA_WITH_RC4_128_SHA", "TLS_RSA_WITH_3DES_EDE_CBC_SHA", "TLS_RSA_WITH_AES_128_CBC_SHA",
        "TLS_RSA_WITH_AES_128_CBC_SHA256", "TLS_RSA_WITH_AES_128_GCM_SHA256", "TLS_RSA_WITH_AES_256_CBC_SHA", "TLS_RSA_WITH_AES_256_GCM_SHA384",
        "TLS_RSA_WITH_RC4_128_SHA",
    ];

    public IPAddress BindAddress { get; set; } = IPAddress.Any;
    public int SecurePort { get; set; } = 10257;
    public string CertDirectory { get; set; } = "";
    /// <summary>File name stem of the self-signed pair written to --cert-dir.</summary>
    public string PairName { get; } = "kube-controller-manager";
    public string TlsCertFile { get; set; } = "";
    public string TlsPrivateKeyFile { get; set; } = "";
    public string TlsMinVersion { get; set; } = "";
    public IReadOnlyList<string> TlsCipherSuites { get; set; } = [];
    public IReadOnlyList<string> SniCertKeys { get; set; } = [];
    public int Http2MaxStreamsPerConnection { get; set; }
    public bool PermitPortSharing { get; set; }
    public bool PermitAddressSharing { get; set; }

    public void AddFlags(FlagSet fs)
    {
        fs.Var("bind-address", "ip", "0.0.0.0",
            "Address to serve --secure-port on. Must be reachable from the rest of the cluster and from CLI/web clients. Blank or an unspecified address (0.0.0.0 or ::) listens on all interfaces.",
            v => BindAddress = v.Trim().Length == 0 ? IPAddress.Any : NetParsing.ParseIP(v));
        fs.StringVar("cert-dir", CertDirectory, "Directory holding the serving certificate; ignored when --tls-cert-file and --tls-private-key-file are given.", v => CertDirectory = v);
        fs.IntVar("http2-max-streams-per-connection", Http2MaxStreamsPerConnection, "Cap on concurrent HTTP/2 streams per client connection; 0 keeps the runtime's default.", v => Http2MaxStreamsPerConnection = v);
        fs.BoolVar("permit-address-sharing", PermitAddressSharing, "Listen with SO_REUSEADDR, so the address can be bound again while old connections linger in TIME_WAIT.", v => PermitAddressSharing = v);
        fs.BoolVar("permit-port-sharing", PermitPortSharing, "Listen with SO_REUSEPORT, so several processes can bind the same address and port.", v => PermitPortSharing = v);
        fs.IntVar("secure-port", SecurePort, "HTTPS port for authenticated and authorized requests; 0 turns HTTPS serving off.", v => SecurePort = v);
        fs.StringSliceVar("tls-cipher-suites", TlsCipherSuites, $"Cipher suites offered by the server for TLS 1.0-1.2, comma-separated; empty uses the runtime's defaults. TLS 1.3 suites are not configurable (as in Go).\nSupported values: {string.Join(", ", CipherSuites)}", v => TlsCipherSuites = v);
        fs.StringVar("tls-cert-file", TlsCertFile, "PEM certificate (chain, with any intermediates after the server certificate) for HTTPS. Without it and --tls-private-key-file a self-signed pair is generated for the public address and saved to --cert-dir.", v => TlsCertFile = v);
        fs.StringVar("tls-min-version", TlsMinVersion, $"Lowest TLS version accepted; empty means VersionTLS12. Possible values: {string.Join(", ", TlsVersions)}", v => TlsMinVersion = v);
        fs.StringVar("tls-private-key-file", TlsPrivateKeyFile, "PEM private key matching --tls-cert-file.", v => TlsPrivateKeyFile = v);
        fs.Var("tls-sni-cert-key", "namedCertKey", "[]",
            "A certificate and key for particular host names: \"cert.pem,key.pem\" or \"cert.pem,key.pem:*.example.com,example.com\". Names come from the certificate when not given; may be repeated; the most specific match wins.",
            v =>
            {
                if (!v.Contains(',', StringComparison.Ordinal)) throw new FormatException("expected comma separated certificate and key file paths");
                SniCertKeys = [.. SniCertKeys, v];
            });
    }

    public IEnumerable<string> Validate()
    {
        if (SecurePort is < 0 or > 65535)
            yield return $"--secure-port {SecurePort.ToString(CultureInfo.InvariantCulture)} must be between 0 and 65535, inclusive. 0 for turning off secure port";
        if ((TlsCertFile.Length == 0) != (TlsPrivateKeyFile.Length == 0))
            yield return "--tls-cert-file and --tls-private-key-file must be given together";
        if (TlsMinVersion.Length > 0 && !TlsVersions.Contains(TlsMinVersion))
            yield return $"--tls-min-version: unknown tls version \"{TlsMinVersion}\" (known: {string.Join(", ", TlsVersions)})";
        foreach (var suite in TlsCipherSuites.Where(s => !CipherSuites.Contains(s)))
            yield return $"--tls-cipher-suites: Cipher suite {suite} not supported or doesn't exist";
        // Go's http2.ConfigureServer refuses a TLS 1.2 suite list without the suite HTTP/2 requires.
        if (TlsCipherSuites.Count > 0 && TlsMinVersion != "VersionTLS13" && TlsCipherSuites.All(CipherSuites.Contains)
            && !TlsCipherSuites.Any(s => s is "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256" or "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"))
            yield return "--tls-cipher-suites: error configuring http2: http2: TLSConfig.CipherSuites is missing an HTTP/2-required AES_128_GCM_SHA256 cipher (need at least one of TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 or TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256)";
    }
}

/// <summary>The plain-HTTP port upstream removed in v1.24; accepted so old unit files still start, never served.</summary>
public sealed class InsecureServingOptions
{
    public int Port { get; set; }
    public IPAddress Address { get; set; } = IPAddress.Any;

    public void AddFlags(FlagSet fs)
    {
        fs.Int32Var("port", 0, "Has no effect: plain-HTTP serving is gone.", v => Port = v);
        fs.MarkDeprecated("port", "insecure serving was removed in v1.24; this flag has no effect (serve with --secure-port)");
        fs.Var("address", "ip", "", "Has no effect: plain-HTTP serving is gone.", v => Address = NetParsing.ParseIP(v));
        fs.MarkDeprecated("address", "insecure serving was removed in v1.24; this flag has no effect (use --bind-address)");
    }
}

public sealed class AuthenticationOptions
{
    public string RemoteKubeconfigFile { get; set; } = "";
    public TimeSpan TokenWebhookCacheTtl { get; set; } = TimeSpan.FromSeconds(10);
    public string ClientCaFile { get; set; } = "";
    public string RequestHeaderClientCaFile { get; set; } = "";
    public IReadOnlyList<string> RequestHeaderUsernameHeaders { get; set; } = ["x-remote-user"];
    public IReadOnlyList<string> RequestHeaderGroupHeaders { get; set; } = ["x-remote-group"];
    public IReadOnlyList<string> RequestHeaderExtraHeaderPrefixes { get; set; } = ["x-remote-extra-"];
    public IReadOnlyList<string> RequestHeaderAllowedNames { get; set; } = [];
    public bool SkipInClusterLookup { get; set; }
    public bool TolerateInClusterLookupFailure { get; set; }

    public void AddFlags(FlagSet fs)
    {
        fs.StringVar("authentication-kubeconfig", RemoteKubeconfigFile, "kubeconfig for the 'core' API server with rights to create tokenreviews.authentication.k8s.io. Optional: without it every token request counts as anonymous and no client CA is looked up in the cluster.", v => RemoteKubeconfigFile = v);
        fs.BoolVar("authentication-skip-lookup", SkipInClusterLookup, "Do not fetch missing authentication configuration from the cluster with --authentication-kubeconfig.", v => SkipInClusterLookup = v);
        fs.DurationVar("authentication-token-webhook-cache-ttl", TokenWebhookCacheTtl, "How long token review answers are cached.", v => TokenWebhookCacheTtl = v);
        fs.BoolVar("authentication-tolerate-lookup-failure", TolerateInClusterLookupFailure, "Start even when the authentication configuration cannot be fetched from the cluster (every request may then be anonymous).", v => TolerateInClusterLookupFailure = v);
        fs.StringVar("client-ca-file", ClientCaFile, "CA bundle: a request with a client certificate signed by one of these authorities is authenticated as the certificate's CommonName.", v => ClientCaFile = v);
        fs.StringSliceVar("requestheader-allowed-names", RequestHeaderAllowedNames, "Client certificate common names allowed to supply user names in the headers named by --requestheader-username-headers. Empty allows any certificate trusted by --requestheader-client-ca-file.", v => RequestHeaderAllowedNames = v);
        fs.StringVar("requestheader-client-ca-file", RequestHeaderClientCaFile, "CA bundle for verifying front proxy client certificates before trusting the user names in the headers named by --requestheader-username-headers. Do not reuse a CA that signs other client certificates.", v => RequestHeaderClientCaFile = v);
        fs.StringSliceVar("requestheader-extra-headers-prefix", RequestHeaderExtraHeaderPrefixes, "Request header prefixes to read extra user information from. X-Remote-Extra- is usual.", v => RequestHeaderExtraHeaderPrefixes = v);
        fs.StringSliceVar("requestheader-group-headers", RequestHeaderGroupHeaders, "Request headers to read groups from. X-Remote-Group is usual.", v => RequestHeaderGroupHeaders = v);
        fs.StringSliceVar("requestheader-username-headers", RequestHeaderUsernameHeaders, "Request headers to read the user name from; the first one present wins. X-Remote-User is usual.", v => RequestHeaderUsernameHeaders = v);
    }
}

public sealed class AuthorizationOptions
{
    public string RemoteKubeconfigFile { get; set; } = "";
    public TimeSpan AllowCacheTtl { get; set; } = TimeSpan.FromSeconds(10);
    public TimeSpan DenyCacheTtl { get; set; } = TimeSpan.FromSeconds(10);
    public IReadOnlyList<string> AlwaysAllowPaths { get; set; } = ["/healthz", "/readyz", "/livez"];

    public void AddFlags(FlagSet fs)
    {
        fs.StringSliceVar("authorization-always-allow-paths", AlwaysAllowPaths, "HTTP paths authorized without asking the 'core' API server.", v => AlwaysAllowPaths = v);
        fs.StringVar("authorization-kubeconfig", RemoteKubeconfigFile, "kubeconfig for the 'core' API server with rights to create subjectaccessreviews.authorization.k8s.io. Optional: without it every request not in --authorization-always-allow-paths is forbidden.", v => RemoteKubeconfigFile = v);
        fs.DurationVar("authorization-webhook-cache-authorized-ttl", AllowCacheTtl, "How long 'authorized' answers from the webhook authorizer are cached.", v => AllowCacheTtl = v);
        fs.DurationVar("authorization-webhook-cache-unauthorized-ttl", DenyCacheTtl, "How long 'unauthorized' answers from the webhook authorizer are cached.", v => DenyCacheTtl = v);
    }

    public IEnumerable<string> Validate()
    {
        foreach (var path in AlwaysAllowPaths)
        {
            if (path.Length == 0 || path[0] != '/') yield return $"--authorization-always-allow-paths: path \"{path}\" must start with /";
            var star = path.IndexOf('*');
            if (star >= 0 && star != path.Length - 1) yield return $"--authorization-always-allow-paths: only a trailing * is allowed in \"{path}\"";
        }
    }
}

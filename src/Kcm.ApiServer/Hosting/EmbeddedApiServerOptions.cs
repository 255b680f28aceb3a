namespace Kcm.ApiServer.Hosting;

public sealed class EmbeddedApiServerOptions
{
    /// <summary>Where certificates, keys and admin.kubeconfig live (created when missing).</summary>
    public string StateDirectory { get; set; } = "";

    /// <summary>HTTPS port; 0 picks a free one.</summary>
    public int SecurePort { get; set; } = 6443;

    public string BindAddress { get; set; } = "127.0.0.1";

    /// <summary>Offer HTTP/2 by ALPN beside HTTP/1.1, as kube-apiserver does; off makes an HTTP/1.1-only server (tests).</summary>
    public bool EnableHttp2 { get; set; } = true;

    /// <summary>Events retained per resource for resuming watches and continuing paged lists.</summary>
    public int WatchCacheSize { get; set; } = 10000;

    /// <summary>How often a watch that allows bookmarks gets one (upstream: about a minute).</summary>
    public TimeSpan WatchBookmarkInterval { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>Events a single watcher may lag behind before it is closed.</summary>
    public int WatcherBufferSize { get; set; } = 1000;

    public TimeProvider Time { get; set; } = TimeProvider.System;

    /// <summary>--authorization-mode: AlwaysAllow, AlwaysDeny, Node, RBAC, in order; items may be comma-separated ("Node,RBAC").</summary>
    public IList<string> AuthorizationModes { get; set; } = ["RBAC"];

    /// <summary>--anonymous-auth: requests without credentials become system:anonymous instead of getting 401.</summary>
    public bool AnonymousAuth { get; set; }

    /// <summary>--service-account-key-file (repeatable): PEM certificates or public/private keys that verify service account tokens; empty means StateDirectory/ca.pem.</summary>
    public IList<string> ServiceAccountKeyFiles { get; set; } = [];

    /// <summary>--service-account-signing-key-file: the private key TokenRequest signs with; empty means StateDirectory/ca-key.pem.</summary>
    public string ServiceAccountSigningKeyFile { get; set; } = "";

    /// <summary>--service-account-issuer (repeatable): the first is put into new tokens, all are accepted.</summary>
    public IList<string> ServiceAccountIssuers { get; set; } = ["https://kubernetes.default.svc.cluster.local"];

    /// <summary>--api-audiences: audiences of the API server's own tokens; empty means the service account issuers, as upstream.</summary>
    public IList<string> ApiAudiences { get; set; } = [];

    /// <summary>--token-auth-file: CSV of token,user,uid[,"group1,group2"]; empty means none.</summary>
    public string TokenAuthFile { get; set; } = "";

    /// <summary>--service-cluster-ip-range: IPv4 CIDR Services get cluster IPs from; its first address is the kubernetes Service's.</summary>
    public string ServiceClusterIpRange { get; set; } = Registry.ServiceNetwork.DefaultClusterIpRange;

    /// <summary>--service-node-port-range: first-last ports NodePort and LoadBalancer Services get node ports from.</summary>
    public string ServiceNodePortRange { get; set; } = Registry.ServiceNetwork.DefaultNodePortRange;

    /// <summary>--advertise-address: the address in the kubernetes Endpoints; empty means the bind address (127.0.0.1 when it is a wildcard).</summary>
    public string AdvertiseAddress { get; set; } = "";

    /// <summary>
    /// What GET componentstatuses probes, by component name (upstream: controller-manager at https://127.0.0.1:10257/healthz,
    /// scheduler at https://127.0.0.1:10259/healthz, TLS not verified). This server has no etcd; "etcd-0" reports the
    /// in-memory store, which is healthy while the server runs.
    /// </summary>
    public IDictionary<string, Uri> ComponentStatusProbes { get; set; } = new Dictionary<string, Uri>
    {
        ["controller-manager"] = new("https://127.0.0.1:10257/healthz"),
        ["scheduler"] = new("https://127.0.0.1:10259/healthz"),
    };
}

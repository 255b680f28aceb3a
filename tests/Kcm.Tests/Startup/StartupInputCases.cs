using System.Globalization;

namespace Kcm.Tests.Startup;

/// <summary>One bad start: the command line, and what its single error line must say (upstream's text) and name.</summary>
public sealed record StartupInputCase(string Name, string[] Args, string Expected, string Names);

/// <summary>The table of issue 21: every input there, with the message upstream v1.26.3 prints for it (checked against it).</summary>
public static class StartupInputCases
{
    public static IEnumerable<object[]> Names => All(null).Select(c => new object[] { c.Name });

    public static IReadOnlyList<StartupInputCase> All(BadStartupInputs? files)
    {
        string F(string name) => files?.File(name) ?? name;
        var ca = files?.CaCert ?? "ca.pem";
        var caKey = files?.CaKey ?? "ca-key.pem";
        var kubeconfig = files?.Kubeconfig ?? "kubeconfig";
        var busy = files?.BusyPort.ToString(CultureInfo.InvariantCulture) ?? "0";
        // Stops before leader election and before any request to the (unreachable) API server.
        string[] Manager(params string[] extra) => ["--kubeconfig", kubeconfig, "--leader-elect=false", "--controllers=csrsigning", .. extra];
        string[] NoPort(params string[] extra) => Manager(["--secure-port=0", .. extra]);
        string[] Port(params string[] extra) => Manager(["--bind-address=127.0.0.1", "--secure-port=" + busy, .. extra]);
        StartupInputCase Signing(string name, string cert, string key, string expected, string names)
            => new(name, NoPort($"--cluster-signing-cert-file={cert}", $"--cluster-signing-key-file={key}"),
                "error starting controllers: failed to start kubernetes.io/kubelet-serving certificate controller: " + expected, names);
        var certFile = (string f) => $"error reading CA cert file \\\"{F(f)}\\\"";

        return
        [
            new("kube-api-burst-negative", NoPort("--kube-api-burst=-1"),
                "burst is required to be greater than 0 when RateLimiter is not set and QPS is set to greater than 0", "--kube-api-burst"),
            new("client-ca-file-garbage", Port($"--client-ca-file={F("garbage.pem")}"),
                $"unable to load client CA provider: error loading CA bundle for \\\"client-ca-bundle::{F("garbage.pem")}\\\": data does not contain any valid RSA or ECDSA certificates", F("garbage.pem")),
            new("requestheader-client-ca-file-garbage", Port($"--requestheader-client-ca-file={F("garbage.pem")}"),
                $"unable to create request header authentication config: error loading CA bundle for \\\"request-header::{F("garbage.pem")}\\\": data does not contain any valid RSA or ECDSA certificates", F("garbage.pem")),
            Signing("signing-cert-empty", F("empty.pem"), caKey,
                $"{certFile("empty.pem")}: missing content for serving cert \\\"csr-controller::{F("empty.pem")}::{caKey}\\\"", F("empty.pem")),
            Signing("signing-cert-garbage", F("garbage.pem"), caKey, $"{certFile("garbage.pem")}: tls: failed to find any PEM data in certificate input", F("garbage.pem")),
            Signing("signing-cert-der", F("ca.der"), caKey, $"{certFile("ca.der")}: tls: failed to find any PEM data in certificate input", F("ca.der")),
            Signing("signing-cert-truncated", F("truncated.pem"), caKey, $"{certFile("truncated.pem")}: tls: failed to find any PEM data in certificate input", F("truncated.pem")),
            Signing("signing-cert-wrong-label", F("wrong-label.pem"), caKey,
                $"{certFile("wrong-label.pem")}: tls: failed to find \\\"CERTIFICATE\\\" PEM block in certificate input after skipping PEM blocks of the following types: [FOO BAR]", F("wrong-label.pem")),
            Signing("signing-cert-random-5mb", F("random.bin"), caKey, $"{certFile("random.bin")}: tls: failed to find any PEM data in certificate input", F("random.bin")),
            Signing("signing-key-as-cert", caKey, ca,
                $"error reading CA cert file \\\"{caKey}\\\": tls: failed to find certificate PEM data in certificate input, but did find a private key; PEM inputs may have been switched", caKey),
            Signing("signing-cert-as-key", ca, ca,
                $"error reading CA key file \\\"{ca}\\\": tls: found a certificate rather than a key in the PEM for the private key", ca),
            Signing("signing-key-public", ca, F("public-key.pem"),
                $"error reading CA key file \\\"{F("public-key.pem")}\\\": tls: failed to find PEM block with type ending in \\\"PRIVATE KEY\\\" in key input after skipping PEM blocks of the following types: [PUBLIC KEY]", F("public-key.pem")),
            Signing("signing-pair-mismatched", ca, F("other-key.pem"), $"error reading CA cert file \\\"{ca}\\\": tls: private key does not match public key", ca),
            Signing("signing-key-garbage", ca, F("garbage.pem"), $"error reading CA key file \\\"{F("garbage.pem")}\\\": tls: failed to find any PEM data in key input", F("garbage.pem")),
            Signing("signing-key-empty", ca, F("empty.pem"), $"error reading CA cert file \\\"{ca}\\\": missing content for serving cert \\\"csr-controller::{ca}::{F("empty.pem")}\\\"", F("empty.pem")),
            new("pvclaimbinder-sync-period-overflow", NoPort("--pvclaimbinder-sync-period=9999999999h"),
                "Error: invalid argument \"9999999999h\" for \"--pvclaimbinder-sync-period\" flag: time: invalid duration \"9999999999h\"", "--pvclaimbinder-sync-period"),
            new("kube-api-content-type-text-plain", NoPort("--kube-api-content-type=text/plain"),
                "no serializers registered for text/plain", "--kube-api-content-type"),
            new("authentication-kubeconfig-untrusted-ca", Port($"--authentication-kubeconfig={F("wrong-ca.kubeconfig")}"),
                "unable to load configmap based request-header-client-ca-file: Get \\\"https://127.0.0.1:", F("wrong-ca.kubeconfig")),
            new("kubeconfig-garbage", NoPort($"--kubeconfig={F("random.bin")}"), $"kubeconfig {F("random.bin")}: ", F("random.bin")),
            new("secure-port-in-use", Port(), "bind: address already in use", "--secure-port"),
            new("apiserver-secure-port-out-of-range", ["apiserver", "--state-dir", files?.Dir ?? "dir", "--secure-port", "70000"],
                "Error: --secure-port 70000 must be between 0 and 65535, inclusive", "--secure-port"),
        ];
    }
}

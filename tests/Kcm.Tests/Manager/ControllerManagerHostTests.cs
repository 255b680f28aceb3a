using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using Kcm.Api.Coordination.V1;
using Kcm.Client;
using Kcm.Manager;
using Kcm.Options;
using Kcm.Testing;
using Microsoft.Extensions.Logging.Abstractions;

namespace Kcm.Tests.Manager;

public sealed class ControllerManagerHostTests(EmbeddedServerFixture server) : IClassFixture<EmbeddedServerFixture>
{
    private static int FreePort()
    {
        var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        var port = ((IPEndPoint)l.LocalEndpoint).Port;
        l.Stop();
        return port;
    }

    [Fact(Timeout = 60_000)]
    public async Task Run_LegacyInsecurePort_ServesHealthAndMetricsOverHttp()
    {
        var port = FreePort();
        // Only a controller that does nothing without a cloud provider: real ones would act cluster-wide on other test classes' objects.
        var options = KubeControllerManagerOptions.Parse([$"--kubeconfig={server.AdminKubeconfigPath}", "--secure-port=0", $"--port={port}",
            "--address=127.0.0.1", "--leader-elect=false", "--controllers=cloud-node-lifecycle"]);
        Assert.Empty(options.Validate());
        var host = new ControllerManagerHost(options, NullLoggerFactory.Instance, TimeProvider.System);
        using var stop = new CancellationTokenSource();
        var run = host.RunAsync(stop.Token);

        using var http = new HttpClient();
        string health = "";
        while (health != "ok")
        {
            try
            {
                health = await http.GetStringAsync($"http://127.0.0.1:{port}/healthz");
            }
            catch (HttpRequestException)
            {
                await Task.Delay(50);
            }
        }
        var metrics = await http.GetStringAsync($"http://127.0.0.1:{port}/metrics");
        Assert.Contains("process_start_time_seconds ", metrics);
        Assert.Equal("", await Promtool.CheckAsync(metrics));

        stop.Cancel();
        Assert.Equal(ManagerExit.Stopped, await run);
    }

    // Flags that pass validation but that nodeipam's start rejects (upstream checks this one in startNodeIpamController).
    [Fact(Timeout = 60_000)]
    public async Task Run_NodeIpamStartFails_ManagerEndsWithStartError()
    {
        var options = KubeControllerManagerOptions.Parse([$"--kubeconfig={server.AdminKubeconfigPath}", "--secure-port=0", "--leader-elect=false",
            "--controllers=nodeipam", "--allocate-node-cidrs", "--cluster-cidr=fd00:10:244::/56", "--node-cidr-mask-size-ipv4=24"]);
        Assert.Empty(options.Validate());
        var host = new ControllerManagerHost(options, NullLoggerFactory.Instance, TimeProvider.System);
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(50));

        var e = await Assert.ThrowsAsync<Kcm.Startup.ControllerStartException>(() => host.RunAsync(stop.Token));

        Assert.Equal("nodeipam", e.Controller);
        Assert.IsType<Kcm.Controllers.NodeIpam.NodeIpamConfigException>(e.InnerException);
        Assert.Equal("error starting controllers: usage of --node-cidr-mask-size-ipv4 is not allowed for a single-stack IPv6 cluster", e.Message);
        Assert.False(stop.IsCancellationRequested);
    }

    [Fact(Timeout = 60_000)]
    public async Task Run_LeaderElect_LeadsThenReleasesOnShutdown()
    {
        var lockName = "kcm-" + Guid.NewGuid().ToString("N")[..8];
        var options = KubeControllerManagerOptions.Parse([$"--kubeconfig={server.AdminKubeconfigPath}", "--secure-port=0",
            $"--leader-elect-resource-name={lockName}", "--controllers=cloud-node-lifecycle"]);
        var host = new ControllerManagerHost(options, NullLoggerFactory.Instance, TimeProvider.System);
        using var client = KubeApiClient.FromKubeconfig(server.AdminKubeconfigPath);
        using var stop = new CancellationTokenSource();
        var run = host.RunAsync(stop.Token);

        Lease? lease = null;
        while (lease?.Spec?.HolderIdentity != host.Identity)
        {
            await Task.Delay(50);
            try
            {
                lease = await client.GetAsync<Lease>("kube-system", lockName);
            }
            catch (Kcm.Client.Errors.NotFoundException)
            {
            }
        }
        Assert.Equal(15, lease.Spec!.LeaseDurationSeconds);

        stop.Cancel();
        Assert.Equal(ManagerExit.Stopped, await run);
        var released = await client.GetAsync<Lease>("kube-system", lockName);
        Assert.True(string.IsNullOrEmpty(released.Spec?.HolderIdentity), "the lease is released on graceful shutdown");
    }

    [Fact(Timeout = 60_000)]
    public async Task Run_LeaderWithControllers_HealthzListsLeaderElectionThenEachStartedController()
    {
        var port = FreePort();
        // csrcleaner and tokencleaner only delete objects that are long expired; cloud-node-lifecycle is skipped without a cloud provider (no check).
        var options = KubeControllerManagerOptions.Parse([$"--kubeconfig={server.AdminKubeconfigPath}", $"--secure-port={port}", "--bind-address=127.0.0.1",
            $"--leader-elect-resource-name=kcm-{Guid.NewGuid().ToString("N")[..8]}", "--controllers=csrcleaner,tokencleaner,cloud-node-lifecycle"]);
        var host = new ControllerManagerHost(options, NullLoggerFactory.Instance, TimeProvider.System);
        using var stop = new CancellationTokenSource();
        var run = host.RunAsync(stop.Token);
        using var anonymous = ClientWithCertificate(server.ScratchDirectory, new Uri($"https://127.0.0.1:{port}"), null);

        var verbose = await Eventually.GetAsync("controller checks on /healthz", async () =>
        {
            var body = await anonymous.GetStringAsync("/healthz?verbose");
            return body.Contains("tokencleaner", StringComparison.Ordinal) ? body : null;
        });
        Assert.Equal("[+]leaderElection ok\n[+]csrcleaner ok\n[+]tokencleaner ok\nhealthz check passed\n", verbose);
        Assert.Equal("ok", await anonymous.GetStringAsync("/healthz"));
        Assert.Equal("[+]leaderElection ok\n[+]csrcleaner excluded: ok\n[+]tokencleaner ok\nhealthz check passed\n",
            await anonymous.GetStringAsync("/healthz?verbose&exclude=csrcleaner"));

        stop.Cancel();
        Assert.Equal(ManagerExit.Stopped, await run);
    }

    [Fact(Timeout = 60_000)]
    public async Task Run_SecurePortWithDelegatedAuth_AnonymousAndUserWithoutRbacAre403_AdminGetsMetrics()
    {
        var dir = server.ScratchDirectory;
        var kcmKubeconfig = server.WriteUserKubeconfig("kube-controller-manager", "system:kube-controller-manager");
        server.WriteUserKubeconfig("nobody", "nobody", "no-permissions");
        server.WriteUserKubeconfig("metrics-admin", "admin", "system:masters");
        var port = FreePort();
        var options = KubeControllerManagerOptions.Parse([$"--kubeconfig={kcmKubeconfig}", $"--secure-port={port}", "--bind-address=127.0.0.1",
            "--leader-elect=false", "--controllers=cloud-node-lifecycle", $"--authentication-kubeconfig={kcmKubeconfig}", $"--authorization-kubeconfig={kcmKubeconfig}",
            $"--client-ca-file={server.CaPath}"]);
        Assert.Empty(options.Validate());
        var host = new ControllerManagerHost(options, NullLoggerFactory.Instance, TimeProvider.System);
        using var stop = new CancellationTokenSource();
        var run = host.RunAsync(stop.Token);
        var url = new Uri($"https://127.0.0.1:{port}");
        // The port serves a self-signed certificate (no --tls-cert-file): these clients test its client authentication only.
        using var anonymous = ClientWithCertificate(dir, url, null);
        using var admin = ClientWithCertificate(dir, url, "metrics-admin");
        using var nobody = ClientWithCertificate(dir, url, "nobody");

        await Eventually.TrueAsync("secure port serving", async () =>
        {
            try
            {
                return (await anonymous.GetAsync("/healthz")).StatusCode == HttpStatusCode.OK;
            }
            catch (HttpRequestException)
            {
                return false;
            }
        });

        // As upstream: no credentials is system:anonymous, which authorization (the SubjectAccessReview) denies.
        var anonymousDenied = await anonymous.GetAsync("/metrics");
        Assert.Equal(HttpStatusCode.Forbidden, anonymousDenied.StatusCode);
        Assert.Contains("system:anonymous", await anonymousDenied.Content.ReadAsStringAsync());
        var denied = await nobody.GetAsync("/metrics");
        Assert.Equal(HttpStatusCode.Forbidden, denied.StatusCode);
        Assert.Contains("nobody", await denied.Content.ReadAsStringAsync());
        var metrics = await admin.GetAsync("/metrics");
        Assert.Equal(HttpStatusCode.OK, metrics.StatusCode);
        Assert.Contains("kubernetes_build_info{", await metrics.Content.ReadAsStringAsync());

        stop.Cancel();
        Assert.Equal(ManagerExit.Stopped, await run);
    }

    [Fact(Timeout = 90_000)]
    public async Task Run_Seed000FlagsWithAuthenticationKubeconfig_AdminCertificateGetsMetricsWithoutClientCaFlag()
    {
        // Seed 000's unit file (binary-install guide) with the delegated-auth kubeconfigs its later versions add and no
        // --client-ca-file: the client CA comes from kube-system/extension-apiserver-authentication, as upstream's does.
        var dir = server.ScratchDirectory;
        var kcmKubeconfig = server.WriteUserKubeconfig("seed000-kcm", "system:kube-controller-manager");
        server.WriteUserKubeconfig("seed000-admin", "admin", "system:masters");
        var (tlsCert, tlsKey) = TestCertificates.WriteServingCertificate(server.CaPath, server.CaKeyPath, dir, "seed000-serving");
        var port = FreePort();
        var options = KubeControllerManagerOptions.Parse([
            "--port=0", $"--secure-port={port}", "--bind-address=127.0.0.1", $"--kubeconfig={kcmKubeconfig}",
            "--service-cluster-ip-range=10.254.0.0/16", "--cluster-name=kubernetes", $"--cluster-signing-cert-file={server.CaPath}",
            $"--cluster-signing-key-file={server.CaKeyPath}", "--experimental-cluster-signing-duration=8760h", $"--root-ca-file={server.CaPath}",
            $"--service-account-private-key-file={server.ServiceAccountKeyPath}", "--leader-elect=true",
            $"--leader-elect-resource-name=kcm-{Guid.NewGuid().ToString("N")[..8]}", "--feature-gates=RotateKubeletServerCertificate=true",
            // Seed 000 runs *,bootstrapsigner,tokencleaner; one we do not implement keeps this test off the shared cluster's objects.
            "--controllers=cloud-node-lifecycle", "--horizontal-pod-autoscaler-use-rest-clients=true", "--horizontal-pod-autoscaler-sync-period=10s",
            $"--tls-cert-file={tlsCert}", $"--tls-private-key-file={tlsKey}", "--use-service-account-credentials=true",
            $"--authentication-kubeconfig={kcmKubeconfig}", $"--authorization-kubeconfig={kcmKubeconfig}", "--v=2"]);
        Assert.Empty(options.Validate());
        var host = new ControllerManagerHost(options, NullLoggerFactory.Instance, TimeProvider.System);
        using var stop = new CancellationTokenSource();
        var run = host.RunAsync(stop.Token);
        var url = new Uri($"https://127.0.0.1:{port}");
        // curl --cacert ca.pem --cert admin.pem --key admin-key.pem https://127.0.0.1:<port>/metrics
        using var admin = CurlLikeClient(url, server.CaPath, Path.Combine(dir, "seed000-admin.pem"), Path.Combine(dir, "seed000-admin-key.pem"));
        using var anonymous = CurlLikeClient(url, server.CaPath, null, null);

        var metrics = await Eventually.GetAsync("/metrics with the admin certificate", async () =>
        {
            using var response = await admin.GetAsync("/metrics");
            return response.StatusCode == HttpStatusCode.OK ? await response.Content.ReadAsStringAsync() : null;
        });
        Assert.Contains("kubernetes_build_info{", metrics);
        var denied = await anonymous.GetAsync("/metrics");
        Assert.Equal(HttpStatusCode.Forbidden, denied.StatusCode);
        Assert.Contains(@"forbidden: User \""system:anonymous\"" cannot get path \""/metrics\""", await denied.Content.ReadAsStringAsync());

        stop.Cancel();
        Assert.Equal(ManagerExit.Stopped, await run);
    }

    // Like curl --cacert: the server's certificate must chain to the given CA and name the host.
    private static HttpClient CurlLikeClient(Uri url, string caPath, string? certPath, string? keyPath)
    {
        var ca = X509Certificate2.CreateFromPem(File.ReadAllText(caPath));
        var handler = new SocketsHttpHandler();
        // curl checks no revocation either; the test CA publishes no CRL.
        handler.SslOptions.CertificateChainPolicy = new X509ChainPolicy { TrustMode = X509ChainTrustMode.CustomRootTrust, CustomTrustStore = { ca }, RevocationMode = X509RevocationMode.NoCheck };
        if (certPath != null)
        {
            using var pem = X509Certificate2.CreateFromPemFile(certPath, keyPath);
            handler.SslOptions.ClientCertificates = [X509CertificateLoader.LoadPkcs12(pem.Export(X509ContentType.Pkcs12), null)];
        }
        return new HttpClient(handler) { BaseAddress = url };
    }

    private static HttpClient ClientWithCertificate(string dir, Uri url, string? fileBase)
    {
        var handler = new SocketsHttpHandler { SslOptions = { RemoteCertificateValidationCallback = (_, _, _, _) => true } };
        if (fileBase != null)
        {
            using var pem = X509Certificate2.CreateFromPemFile(Path.Combine(dir, fileBase + ".pem"), Path.Combine(dir, fileBase + "-key.pem"));
            handler.SslOptions.ClientCertificates = [X509CertificateLoader.LoadPkcs12(pem.Export(X509ContentType.Pkcs12), null)];
        }
        return new HttpClient(handler) { BaseAddress = url };
    }
}

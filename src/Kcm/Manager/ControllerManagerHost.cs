using System.Runtime.ExceptionServices;
using Kcm.Client;
using Kcm.Client.Config;
using Kcm.Client.Transport;
using Kcm.Options;
using Kcm.Runtime.LeaderElection;
using Kcm.Controllers;
using Kcm.Controllers.Clients;
using Kcm.Runtime.Metrics;
using Kcm.Serving;
using Kcm.Startup;
using Microsoft.Extensions.Logging;

namespace Kcm.Manager;

/// <summary>Why the process ended: clean shutdown, or leadership lost (upstream exits non-zero then).</summary>
public enum ManagerExit { Stopped, LeadershipLost }

/// <summary>
/// The drop-in controller manager process: client, secure port, leader election, then the enabled
/// controllers for as long as this instance leads. Controllers run under a token cancelled the
/// moment leadership is lost, before another instance could see the lease expire.
/// </summary>
public sealed class ControllerManagerHost(KubeControllerManagerOptions options, ILoggerFactory loggers, TimeProvider time)
{
    public const string Version = "v1.26.3";

    private readonly ILogger _logger = loggers.CreateLogger("controllermanager");

    /// <summary>Port the secure server listens on once started (0 before, or when disabled).</summary>
    public int SecurePort { get; private set; }

    public string Identity { get; } = LeaderElectionIdentity.Create();

    /// <summary>Called once the inputs are checked and the ports are up, just before leader election (or the controllers).</summary>
    public Action? OnStarted { get; init; }

    public async Task<ManagerExit> RunAsync(CancellationToken stop)
    {
        _logger.LogInformation("Version: {Version}", Version);
        foreach (var warning in options.Warnings) _logger.LogWarning("{Warning}", warning);

        var metrics = CreateMetrics(options);
        // One transport per TLS configuration, as client-go's cache: every controller's client shares its HTTP/2 connection.
        using var transports = new TransportCache();
        var clientOptions = new KubeClientOptions { Metrics = new RestClientMetrics(metrics), TimeProvider = time, Transports = transports };
        var connection = options.Generic.ClientConnection;
        var config = KubeconfigLoader.BuildConfigFromFlags(NullIfEmpty(connection.Master), NullIfEmpty(connection.Kubeconfig)) with
        {
            Qps = connection.Qps,
            Burst = connection.Burst,
            // --kube-api-content-type: protobuf (the default) for built-in kinds, as upstream; json forces JSON.
            ContentType = connection.ContentType,
            UserAgent = $"kube-controller-manager/{Version} (linux/amd64) kubernetes/{Environment.ProcessId:x}",
        };
        using var client = new KubeApiClient(config, clientOptions);

        var queueMetrics = new WorkQueueMetricsProvider(metrics);
        using var controllerClients = CreateControllerClients(config, clientOptions, client);
        var health = new HealthChecks([]);
        var controllers = new ControllerRunner(options, client, controllerClients, queueMetrics, metrics, loggers, time) { Health = health };
        LeaderElector? elector = null;
        using var electionStop = CancellationTokenSource.CreateLinkedTokenSource(stop);
        ExceptionDispatchInfo? startFailure = null;
        var leaderElection = options.Generic.LeaderElection;
        // As upstream: the lock has its own client, so controller traffic cannot starve renewals, with a
        // timeout of half the renew deadline so one hung request cannot eat the whole deadline.
        using var lockClient = leaderElection.LeaderElect
            ? new KubeApiClient(client.Config with { Timeout = leaderElection.RenewDeadline / 2 }, clientOptions)
            : null;
        if (lockClient != null)
        {
            elector = CreateElector(lockClient, metrics);
            // Upstream tolerates 20 s past lease expiry before /healthz reports the leader unhealthy.
            health.Add([new HealthCheck("leaderElection", _ =>
                Task.FromResult(elector.TryCheckHealth(TimeSpan.FromSeconds(20), out var failure) ? null : failure))]);
        }

        await using var server = await StartSecureServerAsync(metrics, health, clientOptions, stop);
        SecurePort = server?.Port ?? 0;
        await using var insecure = await StartInsecureServerAsync(metrics, health, stop);

        OnStarted?.Invoke();
        if (elector == null)
        {
            await controllers.RunAsync(stop);
            return ManagerExit.Stopped;
        }
        await elector.RunAsync(electionStop.Token);
        // As upstream's klog.Fatalf("error starting controllers: ..."): the process ends, the lease released.
        startFailure?.Throw();
        return stop.IsCancellationRequested ? ManagerExit.Stopped : ManagerExit.LeadershipLost;

        LeaderElector CreateElector(KubeApiClient lockClient, MetricsRegistry registry)
        {
            var resourceLock = ResourceLocks.Create(leaderElection.ResourceLock, leaderElection.ResourceNamespace, leaderElection.ResourceName, lockClient, Identity);
            return new LeaderElector(new LeaderElectionConfig
            {
                Lock = resourceLock,
                Name = leaderElection.ResourceName,
                LeaseDuration = leaderElection.LeaseDuration,
                RenewDeadline = leaderElection.RenewDeadline,
                RetryPeriod = leaderElection.RetryPeriod,
                ReleaseOnCancel = true,
                TimeProvider = time,
                Metrics = new LeaderElectionMetrics(registry),
                Logger = loggers.CreateLogger("leaderelection"),
                Callbacks = new LeaderCallbacks
                {
                    OnStartedLeading = async ct =>
                    {
                        try
                        {
                            await controllers.RunAsync(ct);
                        }
                        catch (ControllerStartException e)
                        {
                            startFailure = ExceptionDispatchInfo.Capture(e);
                            await electionStop.CancelAsync();
                        }
                    },
                    OnStoppedLeading = () =>
                    {
                        if (!electionStop.IsCancellationRequested) _logger.LogError("leaderelection lost");
                    },
                    OnNewLeader = leader =>
                    {
                        if (leader != Identity) _logger.LogInformation("new leader elected: {Leader}", leader);
                    },
                },
            });
        }
    }

    /// <summary>The registry served on /metrics with the families every component has from the start.</summary>
    internal static MetricsRegistry CreateMetrics(KubeControllerManagerOptions options)
    {
        var metrics = new MetricsRegistry();
        ProcessMetrics.Register(metrics);
        ComponentBaseMetrics.RegisterBuildInfo(metrics, Version);
        ComponentBaseMetrics.RegisterFeatureGates(metrics, options.FeatureGates.States());
        ComponentBaseMetrics.RegisterRegistryCounts(metrics);
        return metrics;
    }

    private ControllerClientsHandle CreateControllerClients(ClientConfig config, KubeClientOptions clientOptions, KubeApiClient rootClient)
    {
        if (!options.KubeCloudShared.UseServiceAccountCredentials)
        {
            return new ControllerClientsHandle(new KubeconfigControllerClients(config, clientOptions));
        }
        if (string.IsNullOrEmpty(options.ServiceAccountController.ServiceAccountKeyFile))
        {
            _logger.LogWarning("--use-service-account-credentials was specified without providing a --service-account-private-key-file");
        }
        return new ControllerClientsHandle(new ServiceAccountControllerClients(config, clientOptions, rootClient));
    }

    private sealed class ControllerClientsHandle(IControllerClients clients) : IControllerClients, IDisposable
    {
        public KubeApiClient For(string serviceAccountName, float qpsScale = 1, int burstScale = 1) => clients.For(serviceAccountName, qpsScale, burstScale);

        public KubeApiClient RootFor(string name) => clients.RootFor(name);

        public void Dispose() => (clients as IDisposable)?.Dispose();
    }

    private async Task<SecureServer?> StartSecureServerAsync(MetricsRegistry metrics, HealthChecks health, KubeClientOptions clientOptions, CancellationToken ct)
    {
        var serving = options.SecureServing;
        if (serving.SecurePort == 0) return null;
        var certificate = ServingCertificate.Load(serving.TlsCertFile, serving.TlsPrivateKeyFile, serving.CertDirectory, serving.BindAddress.ToString(), time);
        var authentication = await new DelegatedAuthenticationLoader(options.Authentication, clientOptions, loggers.CreateLogger("authentication")).LoadDynamicAsync(ct);
        var authz = options.Authorization;
        var authorization = new AuthorizationSettings
        {
            AlwaysAllowPaths = authz.AlwaysAllowPaths,
            SubjectAccessReviewClient = authz.RemoteKubeconfigFile.Length > 0 ? AuthorizationClient(authz.RemoteKubeconfigFile, clientOptions) : null,
            AllowCacheTtl = authz.AllowCacheTtl,
            DenyCacheTtl = authz.DenyCacheTtl,
        };
        if (authorization.SubjectAccessReviewClient == null)
        {
            _logger.LogWarning("No authorization-kubeconfig provided, so SubjectAccessReview of authorization tokens won't work.");
        }
        var server = await SecureServer.StartAsync(
            new SecureServingSettings
            {
                BindAddress = serving.BindAddress,
                Port = serving.SecurePort,
                Certificate = certificate,
                Tls = TlsServingPolicy.FromFlags(serving.TlsMinVersion, serving.TlsCipherSuites),
                SniCertificates = ServingCertificate.LoadSni(serving.SniCertKeys),
                Http2MaxStreamsPerConnection = serving.Http2MaxStreamsPerConnection,
                ReuseAddress = serving.PermitAddressSharing,
                ReusePort = serving.PermitPortSharing,
            },
            new DelegatingAuthenticator(authentication, time, loggers.CreateLogger("authentication")),
            new DelegatingAuthorizer(authorization, time, loggers.CreateLogger("authorization")),
            health, metrics, () => Configz.Build(options), loggers, ct);
        _logger.LogInformation("Serving securely on {Address}:{Port}", serving.BindAddress, server.Port);
        return server;
    }

    /// <summary>The deprecated plain-HTTP port (--port, --address): health and metrics with no authentication, as it always was.</summary>
    private async Task<SecureServer?> StartInsecureServerAsync(MetricsRegistry metrics, HealthChecks health, CancellationToken ct)
    {
        var insecure = options.InsecureServing;
        if (insecure.Port <= 0) return null;
        var server = await SecureServer.StartAsync(
            new SecureServingSettings { BindAddress = insecure.Address, Port = insecure.Port, Certificate = null, PortFlag = "--port" },
            new DelegatingAuthenticator(new AuthenticationSettings(), time, loggers.CreateLogger("authentication")),
            new DelegatingAuthorizer(new AuthorizationSettings { AlwaysAllowPaths = ["/*"] }, time, loggers.CreateLogger("authorization")),
            health, metrics, () => Configz.Build(options), loggers, ct);
        _logger.LogWarning("Serving insecurely on {Address}:{Port}", insecure.Address, server.Port);
        return server;
    }

    private static string? NullIfEmpty(string s) => s.Length == 0 ? null : s;

    private static KubeApiClient AuthorizationClient(string kubeconfig, KubeClientOptions clientOptions)
    {
        try
        {
            // As upstream's delegated authorization client: high limits, since they bound the port's responsiveness.
            return new KubeApiClient(KubeconfigLoader.LoadFromFile(kubeconfig) with { Qps = 200, Burst = 400 }, clientOptions);
        }
        catch (KubeconfigException e)
        {
            throw new StartupException($"failed to get delegated authorization kubeconfig: {e.Message}", e);
        }
    }
}

using System.Net;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json.Nodes;
using Kcm.Api.Security;
using Kcm.ApiServer.Admission;
using Kcm.ApiServer.Authentication;
using Kcm.ApiServer.Authorization;
using Kcm.ApiServer.Certificates;
using Kcm.ApiServer.CustomResources;
using Kcm.ApiServer.Endpoints;
using Kcm.ApiServer.Endpoints.AuthApis;
using Kcm.ApiServer.Registry;
using Kcm.ApiServer.Authentication.ServiceAccounts;
using Kcm.ApiServer.Storage;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.AspNetCore.Server.Kestrel.Https;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Kcm.ApiServer.Hosting;

/// <summary>An in-process Kubernetes-compatible API server over HTTPS with x509 client authentication; state in memory.</summary>
public sealed class EmbeddedApiServer : IAsyncDisposable
{
    private static readonly string[] SystemNamespaces = ["default", "kube-system", "kube-public", "kube-node-lease"];

    private readonly WebApplication _app;
    private readonly ClusterCertificates _certificates;
    private readonly ObjectStore _store;
    private readonly ILogger _logger;
    private bool _stopped;
    private ComponentStatusEndpoint? _componentStatuses;
    private CustomResourceDefinitionController? _crdController;

    private EmbeddedApiServer(WebApplication app, ClusterCertificates certificates, ObjectStore store, ILogger logger,
        string stateDirectory, int port, string host)
    {
        _app = app;
        _certificates = certificates;
        _store = store;
        _logger = logger;
        StateDirectory = stateDirectory;
        Port = port;
        Url = new Uri($"https://{host}:{port}");
        AdminKubeconfigPath = Path.Combine(stateDirectory, "admin.kubeconfig");
        AdminTokenPath = Path.Combine(stateDirectory, AuthenticationSetup.AdminTokenFile);
    }

    /// <summary>
    /// Issues a component's certificate in the state directory (e.g. kube-controller-manager.pem with
    /// CN/O system:kube-controller-manager, as the deployment guides make it) and writes
    /// <c>&lt;fileBase&gt;.kubeconfig</c> for it; returns the kubeconfig path.
    /// </summary>
    public string WriteComponentKubeconfig(string fileBase, string commonName, string organization)
    {
        _certificates.EnsureComponentCertificate(StateDirectory, fileBase, commonName, organization, DateTimeOffset.UtcNow).Dispose();
        return KubeconfigWriter.Write(StateDirectory, Url.ToString().TrimEnd('/'), fileBase + ".pem", fileBase + "-key.pem",
            commonName, fileBase + ".kubeconfig");
    }

    /// <summary>File holding a bearer token for user admin in system:masters.</summary>
    public string AdminTokenPath { get; }

    public Uri Url { get; }
    public int Port { get; }
    public string AdminKubeconfigPath { get; }
    public string StateDirectory { get; }

    /// <summary>Requests served so far by component, verb, resource and code (for benchmarks).</summary>
    public RequestLog Requests { get; private init; } = new();

    /// <summary>The store behind the server, for in-process tests and benchmarks.</summary>
    public ObjectStore Store => _store;

    public static async Task<EmbeddedApiServer> StartAsync(EmbeddedApiServerOptions options, ILoggerFactory loggerFactory, CancellationToken ct)
    {
        if (string.IsNullOrEmpty(options.StateDirectory)) throw new ArgumentException("StateDirectory is required", nameof(options));
        var logger = loggerFactory.CreateLogger("Kcm.ApiServer");
        var stateDirectory = Path.GetFullPath(options.StateDirectory);
        var certificates = ClusterCertificates.LoadOrCreate(stateDirectory, options.Time);
        try
        {
            var bindAddress = IPAddress.Parse(options.BindAddress);
            var serviceNetwork = Registry.ServiceNetwork.Parse(options.ServiceClusterIpRange, options.ServiceNodePortRange);
            var store = new ObjectStore(options.WatchCacheSize, options.WatcherBufferSize);
            var registry = new GenericStore(store, AdmissionPipeline.Default(store, serviceNetwork, options.Time), options.Time);
            var resources = new ResourceHandler(registry, options.Time, new WatchStreamer(options.Time, options.WatchBookmarkInterval));
            var authentication = AuthenticationSetup.Create(stateDirectory, options.TokenAuthFile, [.. options.ServiceAccountKeyFiles],
                [.. options.ServiceAccountIssuers], [.. options.ApiAudiences], options.AnonymousAuth, store, options.Time);
            var authorizer = AuthorizationModes.Build(options.AuthorizationModes, store);
            var signingKey = options.ServiceAccountSigningKeyFile.Length > 0
                ? options.ServiceAccountSigningKeyFile : Path.Combine(stateDirectory, ClusterCertificates.CaKeyFile);
            var authApis = new AuthApiHandler(
                new TokenReviewEndpoint(authentication.Tokens, authentication.ApiAudiences),
                new AccessReviewEndpoint(authorizer, authorizer),
                new TokenRequestEndpoint(ServiceAccountTokenSigner.Load(signingKey), options.ServiceAccountIssuers.FirstOrDefault() ?? "",
                    authentication.ApiAudiences, store, options.Time));
            var discovery = new DiscoveryDocuments();
            var customResources = new CustomResourceRegistry(registry);
            discovery.Extension = customResources;

            var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions { ContentRootPath = stateDirectory });
            builder.Services.AddSingleton(loggerFactory);
            builder.Services.AddLogging();
            builder.Services.Replace(ServiceDescriptor.Singleton(loggerFactory));
            builder.WebHost.UseKestrelCore();
            builder.WebHost.ConfigureKestrel(kestrel =>
            {
                kestrel.AddServerHeader = false;
                // The handler enforces upstream's 3 MiB limit itself to answer with a Status.
                kestrel.Limits.MaxRequestBodySize = null;
                // kube-apiserver's limit (Go's 250, made explicit in secure_serving.go): clients past it open another connection.
                kestrel.Limits.Http2.MaxStreamsPerConnection = 250;
                kestrel.Listen(bindAddress, options.SecurePort, listen =>
                {
                    listen.Protocols = options.EnableHttp2 ? HttpProtocols.Http1AndHttp2 : HttpProtocols.Http1;
                    listen.UseHttps(new HttpsConnectionAdapterOptions
                    {
                        ServerCertificate = certificates.Serving,
                        ServerCertificateChain = [certificates.Ca],
                        ClientCertificateMode = ClientCertificateMode.AllowCertificate,
                        ClientCertificateValidation = (cert, _, _) => CertificateChains.IsTrusted(cert, [certificates.Ca], CertificateChains.ClientAuth),
                    });
                });
            });
            var app = builder.Build();
            var port = 0;
            var advertised = "";
            var componentStatuses = new ComponentStatusEndpoint(options.ComponentStatusProbes);
            var handler = new ApiRequestHandler(authentication.RequestAuthenticator, authorizer, discovery, resources,
                _ => advertised, logger, authApis, componentStatuses, new AggregatedApiProxy(store, authorizer, discovery), customResources);
            var requestLog = new RequestLog();
            app.Use(requestLog.InvokeAsync);
            app.Run(handler.HandleAsync);
            await app.StartAsync(ct);

            var address = app.Services.GetRequiredService<Microsoft.AspNetCore.Hosting.Server.IServer>()
                .Features.Get<IServerAddressesFeature>()!.Addresses.First();
            port = new Uri(address.Replace("[::]", "localhost").Replace("0.0.0.0", "localhost")).Port;
            var host = bindAddress.Equals(IPAddress.Any) || bindAddress.Equals(IPAddress.IPv6Any) ? "127.0.0.1"
                : bindAddress.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? $"[{bindAddress}]" : bindAddress.ToString();
            advertised = $"{host}:{port}";

            var server = new EmbeddedApiServer(app, certificates, store, logger, stateDirectory, port, host)
            {
                Requests = requestLog,
                _componentStatuses = componentStatuses,
            };
            KubeconfigWriter.WriteAdmin(stateDirectory, server.Url.ToString().TrimEnd('/'));
            var advertiseAddress = options.AdvertiseAddress.Length > 0 ? options.AdvertiseAddress
                : bindAddress.Equals(IPAddress.Any) || bindAddress.Equals(IPAddress.IPv6Any) ? "127.0.0.1" : bindAddress.ToString();
            server.Bootstrap(registry, serviceNetwork, advertiseAddress);
            server._crdController = new CustomResourceDefinitionController(registry, customResources, options.Time, logger);
            server._crdController.Start();
            logger.LogInformation("Embedded API server ready at {Url} (state in {StateDirectory})", server.Url, stateDirectory);
            return server;
        }
        catch
        {
            certificates.Dispose();
            throw;
        }
    }

    private void Bootstrap(GenericStore registry, Registry.ServiceNetwork serviceNetwork, string advertiseAddress)
    {
        var system = new UserInfo("system:apiserver", "", ["system:masters", UserInfo.AuthenticatedGroup], new Dictionary<string, IReadOnlyList<string>>());
        var entry = Kcm.Api.Catalog.ApiCatalog.Find("", "v1", "namespaces")!;
        foreach (var name in SystemNamespaces)
        {
            var req = new ResourceRequest("", "v1", "", "namespaces", "", "", false, entry, null);
            var ns = new JsonObject
            {
                ["kind"] = "Namespace",
                ["apiVersion"] = "v1",
                ["metadata"] = new JsonObject { ["name"] = name },
            };
            registry.Create(req, ns, system);
        }
        Kcm.ApiServer.Bootstrap.KubernetesService.Create(registry, serviceNetwork, advertiseAddress, Port, system);
        Kcm.ApiServer.Bootstrap.ExtensionApiserverAuthentication.Create(registry, _certificates.Ca, system);
        BootstrapPolicyReconciler.Reconcile(registry, _store, system);
    }

    public async Task StopAsync(CancellationToken ct)
    {
        if (_stopped) return;
        _stopped = true;
        if (_crdController is not null) await _crdController.DisposeAsync();
        // Ending watch streams first lets Kestrel drain instead of waiting out its shutdown timeout.
        _store.CloseAllWatchers();
        await _app.StopAsync(ct);
    }

    public async ValueTask DisposeAsync()
    {
        using (var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10)))
        {
            await StopAsync(cts.Token);
        }
        await _app.DisposeAsync();
        _componentStatuses?.Dispose();
        _certificates.Dispose();
        _logger.LogDebug("Embedded API server disposed");
    }
}

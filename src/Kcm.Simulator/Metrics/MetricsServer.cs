using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json.Nodes;
using Kcm.Api.Core.V1;
using Kcm.Api.Selectors;
using Kcm.Client;
using Kcm.Runtime.Informers;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Https;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Kcm.Simulator.Metrics;

/// <summary>
/// A metrics.k8s.io/v1beta1 aggregated API server for the simulated nodes (what metrics-server is to kubelets):
/// PodMetrics for the Running pods bound to them and NodeMetrics for the nodes, over HTTPS with a self-signed
/// certificate (its own CA bundle), answering whoever the API server forwards. With <see cref="MetricsServerOptions.Register"/>
/// it registers itself as APIService v1beta1.metrics.k8s.io behind a selector-less Service and its Endpoints.
/// </summary>
public sealed class MetricsServer : IAsyncDisposable
{
    private const string Prefix = "/apis/metrics.k8s.io/v1beta1";

    private readonly WebApplication _app;
    private readonly X509Certificate2 _certificate;
    private readonly MetricsServerOptions _options;
    private readonly IObjectCache<Pod> _pods;
    private readonly Func<IReadOnlyList<string>> _nodes;
    private readonly TimeProvider _time;
    private readonly KubeApiClient _client;
    private readonly ILogger _logger;
    private bool _registered;

    private MetricsServer(WebApplication app, X509Certificate2 certificate, MetricsServerOptions options, IObjectCache<Pod> pods,
        Func<IReadOnlyList<string>> nodes, TimeProvider time, KubeApiClient client, ILogger logger)
    {
        _app = app;
        _certificate = certificate;
        _options = options;
        _pods = pods;
        _nodes = nodes;
        _time = time;
        _client = client;
        _logger = logger;
    }

    /// <summary>The address the server listens on (the bind address and the port actually bound).</summary>
    public IPEndPoint EndPoint { get; private set; } = new(IPAddress.None, 0);

    /// <summary>PEM of the serving certificate (self-signed: it is its own CA bundle).</summary>
    public string CaBundlePem => _certificate.ExportCertificatePem();

    /// <summary>Starts serving, then registers the APIService when asked to.</summary>
    public static async Task<MetricsServer> StartAsync(KubeApiClient client, IObjectCache<Pod> pods, Func<IReadOnlyList<string>> nodes,
        MetricsServerOptions options, TimeProvider time, ILogger logger, CancellationToken ct)
    {
        options.Validate();
        var certificate = SelfSigned(options);
        var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions());
        builder.Services.AddLogging();
        builder.WebHost.UseKestrelCore();
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            kestrel.Listen(options.BindAddress, options.Port, listen => listen.UseHttps(new HttpsConnectionAdapterOptions
            {
                ServerCertificate = certificate,
                // The API server presents its front-proxy client certificate; requests are not authenticated here.
                ClientCertificateMode = ClientCertificateMode.AllowCertificate,
                ClientCertificateValidation = (_, _, _) => true,
            }));
        });
        var app = builder.Build();
        var server = new MetricsServer(app, certificate, options, pods, nodes, time, client, logger);
        app.Run(server.HandleAsync);
        try
        {
            await app.StartAsync(ct).ConfigureAwait(false);
            var address = app.Services.GetRequiredService<Microsoft.AspNetCore.Hosting.Server.IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
            server.EndPoint = new IPEndPoint(options.BindAddress, new Uri(address).Port);
            if (options.Register)
            {
                await MetricsApiRegistration.RegisterAsync(client, options, server.EndPoint, server.CaBundlePem, ct).ConfigureAwait(false);
                server._registered = true;
            }
        }
        catch
        {
            await server.DisposeAsync().ConfigureAwait(false);
            throw;
        }
        logger.LogInformation("Serving metrics.k8s.io/v1beta1 on https://{EndPoint}{Registered}", server.EndPoint,
            options.Register ? $" (APIService v1beta1.metrics.k8s.io -> {options.ServiceNamespace}/{options.ServiceName})" : "");
        return server;
    }

    private async Task HandleAsync(HttpContext ctx)
    {
        var path = ctx.Request.Path.Value ?? "/";
        var (code, body) = ctx.Request.Method is "GET" or "HEAD"
            ? Answer(path.TrimEnd('/'), ctx.Request.Query["labelSelector"].ToString())
            : (405, MetricsDocuments.Status(405, "MethodNotAllowed", $"the server does not allow this method on the requested resource"));
        ctx.Response.StatusCode = code;
        if (body is null)
        {
            ctx.Response.ContentType = "text/plain";
            await ctx.Response.WriteAsync("ok", ctx.RequestAborted).ConfigureAwait(false);
            return;
        }
        ctx.Response.ContentType = "application/json";
        await ctx.Response.Body.WriteAsync(Encoding.UTF8.GetBytes(body.ToJsonString()), ctx.RequestAborted).ConfigureAwait(false);
    }

    internal (int Code, JsonObject? Body) Answer(string path, string labelSelector)
    {
        if (path is "/healthz" or "/livez" or "/readyz") return (200, null);
        if (path == "/apis") return (200, new JsonObject { ["kind"] = "APIGroupList", ["apiVersion"] = "v1", ["groups"] = new JsonArray(MetricsDocuments.Group()) });
        if (path == "/apis/metrics.k8s.io") return (200, MetricsDocuments.Group());
        if (path == Prefix) return (200, MetricsDocuments.ResourceList());
        if (!path.StartsWith(Prefix + "/", StringComparison.Ordinal)) return NotFound("the server could not find the requested resource");

        LabelSelector selector;
        try
        {
            selector = labelSelector.Length == 0 ? LabelSelector.Everything : LabelSelector.Parse(labelSelector);
        }
        catch (SelectorParseException e)
        {
            return (400, MetricsDocuments.Status(400, "BadRequest", $"unable to parse requirement: {e.Message}"));
        }
        var segments = path[(Prefix.Length + 1)..].Split('/').Select(Uri.UnescapeDataString).ToArray();
        var now = _time.GetUtcNow();
        switch (segments)
        {
            case ["pods"]:
                return (200, MetricsDocuments.List("PodMetricsList", ReportedPods(null).Where(p => selector.Matches(p.Metadata?.Labels)).Select(p => MetricsDocuments.PodMetrics(p, _options, now))));
            case ["namespaces", var ns, "pods"]:
                return (200, MetricsDocuments.List("PodMetricsList", ReportedPods(ns).Where(p => selector.Matches(p.Metadata?.Labels)).Select(p => MetricsDocuments.PodMetrics(p, _options, now))));
            case ["namespaces", var ns, "pods", var name]:
                return ReportedPods(ns).FirstOrDefault(p => p.Metadata?.Name == name) is { } pod
                    ? (200, MetricsDocuments.PodMetrics(pod, _options, now))
                    : NotFound($"podmetrics.metrics.k8s.io \"{name}\" not found", name, "pods");
            case ["nodes"]:
                return (200, MetricsDocuments.List("NodeMetricsList", _nodes().Select(n => MetricsDocuments.NodeMetrics(n, PodsOn(n), _options, now))));
            case ["nodes", var node]:
                return _nodes().Contains(node)
                    ? (200, MetricsDocuments.NodeMetrics(node, PodsOn(node), _options, now))
                    : NotFound($"nodemetrics.metrics.k8s.io \"{node}\" not found", node, "nodes");
            default:
                return NotFound("the server could not find the requested resource");
        }
    }

    /// <summary>Running pods on this simulator's nodes: those a kubelet would report.</summary>
    private IEnumerable<Pod> ReportedPods(string? ns)
    {
        var nodes = _nodes().ToHashSet(StringComparer.Ordinal);
        var pods = ns is null ? _pods.List() : _pods.ByIndex(KnownIndexers.Namespace, ns);
        return pods.Where(p => p.Status?.Phase == "Running" && p.Spec?.NodeName is { } n && nodes.Contains(n))
            .OrderBy(p => p.Metadata?.Namespace, StringComparer.Ordinal).ThenBy(p => p.Metadata?.Name, StringComparer.Ordinal);
    }

    private IEnumerable<Pod> PodsOn(string node) => _pods.ByIndex(KnownIndexers.PodNodeName, node).Where(p => p.Status?.Phase == "Running");

    private static (int, JsonObject) NotFound(string message, string? name = null, string? kind = null)
    {
        var status = MetricsDocuments.Status(404, "NotFound", message);
        if (name is not null) status["details"] = new JsonObject { ["name"] = name, ["group"] = "metrics.k8s.io", ["kind"] = kind };
        return (404, status);
    }

    private static X509Certificate2 SelfSigned(MetricsServerOptions options)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={options.ServiceName}.{options.ServiceNamespace}.svc", key, HashAlgorithmName.SHA256);
        var san = new SubjectAlternativeNameBuilder();
        san.AddDnsName($"{options.ServiceName}.{options.ServiceNamespace}.svc");
        san.AddDnsName($"{options.ServiceName}.{options.ServiceNamespace}.svc.cluster.local");
        san.AddDnsName("localhost");
        san.AddIpAddress(options.BindAddress);
        request.CertificateExtensions.Add(san.Build());
        // Self-signed and used as its own CA bundle: Go accepts it as a root only with CA:TRUE.
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature | X509KeyUsageFlags.KeyCertSign, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], false));
        var now = DateTimeOffset.UtcNow;
        using var created = request.CreateSelfSigned(now.AddMinutes(-5), now.AddYears(1));
        return X509CertificateLoader.LoadPkcs12(created.Export(X509ContentType.Pkcs12), null);
    }

    /// <summary>Unregisters (when it registered) and stops serving.</summary>
    public async ValueTask DisposeAsync()
    {
        if (_registered)
        {
            _registered = false;
            try
            {
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
                await MetricsApiRegistration.UnregisterAsync(_client, _options, timeout.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is Kcm.Client.Errors.KubeApiException or HttpRequestException or IOException or OperationCanceledException)
            {
                _logger.LogWarning("Could not remove APIService v1beta1.metrics.k8s.io: {Error}", e.Message);
            }
        }
        using (var stop = new CancellationTokenSource(TimeSpan.FromSeconds(5)))
        {
            try
            {
                await _app.StopAsync(stop.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
            }
        }
        await _app.DisposeAsync().ConfigureAwait(false);
        _certificate.Dispose();
    }
}

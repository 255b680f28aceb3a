using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using Kcm.Api.Core.V1;
using Kcm.Api.Security;
using Kcm.Client;
using Kcm.Client.Config;
using Kcm.Client.Errors;
using Kcm.Options;
using Kcm.Startup;
using Microsoft.Extensions.Logging;

namespace Kcm.Serving;

/// <summary>
/// Builds the secure port's authentication settings at start-up as upstream's DelegatingAuthenticationOptions.ApplyTo
/// does: the CA files named by flags (refused when unreadable), a client for TokenReview, and, unless
/// --authentication-skip-lookup, what the flags leave out looked up in kube-system/extension-apiserver-authentication.
/// A request-header lookup that fails stops the start unless --authentication-tolerate-lookup-failure; a client CA
/// lookup that fails is only a warning, as upstream's first population of that CA is.
/// </summary>
public sealed class DelegatedAuthenticationLoader(AuthenticationOptions flags, KubeClientOptions clientOptions, ILogger logger)
{
    public const string ConfigMapNamespace = "kube-system";
    public const string ConfigMapName = "extension-apiserver-authentication";

    /// <summary>How often the ConfigMap is read again for CA and request-header changes.</summary>
    public TimeSpan ReloadPeriod { get; init; } = TimeSpan.FromSeconds(10);

    private KubeApiClient? _client;
    private bool _lookupClientCa;
    private bool _lookupRequestHeader;

    /// <summary>
    /// The settings <see cref="LoadAsync"/> gives, kept current afterwards: what was looked up in the ConfigMap is
    /// read again every <see cref="ReloadPeriod"/> until <paramref name="ct"/> is cancelled, as upstream's
    /// ConfigMapCAController and RequestHeaderAuthRequestController follow it (what flags set never changes).
    /// </summary>
    public async Task<DynamicAuthenticationSettings> LoadDynamicAsync(CancellationToken ct)
    {
        var settings = new DynamicAuthenticationSettings(await LoadAsync(ct));
        if (_client != null && (_lookupClientCa || _lookupRequestHeader))
            _ = Task.Run(() => ReloadLoopAsync(_client, settings, ct), CancellationToken.None);
        return settings;
    }

    private async Task ReloadLoopAsync(KubeApiClient client, DynamicAuthenticationSettings settings, CancellationToken ct)
    {
        while (!ct.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(ReloadPeriod, ct);
                var data = await GetConfigMapDataAsync(client, ct);
                var next = settings.Current;
                if (_lookupRequestHeader) next = RequestHeaderFromCluster(data, next);
                if (_lookupClientCa)
                {
                    next = next with
                    {
                        ClientCa = data != null && data.TryGetValue("client-ca-file", out var pem) && pem.Length > 0
                            ? ParseBundle("client-ca::kube-system::extension-apiserver-authentication::client-ca-file", pem)
                            : [],
                    };
                }
                if (settings.Update(next)) logger.LogInformation("Loaded a new client CA or request-header configuration from configmap/{Name} in {Namespace}", ConfigMapName, ConfigMapNamespace);
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                return;
            }
            catch (LookupException e)
            {
                // The last good configuration stays in force, as upstream's controllers keep theirs.
                logger.LogWarning("Unable to reload authentication configuration from configmap/{Name} in {Namespace}: {Error}", ConfigMapName, ConfigMapNamespace, e.Message);
            }
        }
    }

    public async Task<AuthenticationSettings> LoadAsync(CancellationToken ct)
    {
        var client = CreateClient();
        _client = flags.SkipInClusterLookup ? null : client;
        _lookupClientCa = flags.ClientCaFile.Length == 0;
        _lookupRequestHeader = flags.RequestHeaderClientCaFile.Length == 0;
        var settings = new AuthenticationSettings
        {
            RequestHeaderAllowedNames = flags.RequestHeaderAllowedNames,
            RequestHeaderUsernameHeaders = flags.RequestHeaderUsernameHeaders,
            RequestHeaderGroupHeaders = flags.RequestHeaderGroupHeaders,
            RequestHeaderExtraHeaderPrefixes = flags.RequestHeaderExtraHeaderPrefixes,
            TokenReviewClient = client,
            TokenCacheTtl = flags.TokenWebhookCacheTtl,
        };
        if (flags.ClientCaFile.Length > 0)
        {
            settings = settings with { ClientCa = LoadBundle("client-ca-bundle", flags.ClientCaFile, "unable to load client CA provider") };
        }
        if (flags.RequestHeaderClientCaFile.Length > 0)
        {
            settings = settings with { RequestHeaderClientCa = LoadBundle("request-header", flags.RequestHeaderClientCaFile, "unable to create request header authentication config") };
        }
        if (flags.SkipInClusterLookup) return settings;

        var lookupClientCa = flags.ClientCaFile.Length == 0;
        var lookupRequestHeader = flags.RequestHeaderClientCaFile.Length == 0;
        if (client == null)
        {
            if (lookupClientCa)
                logger.LogWarning("No authentication-kubeconfig provided in order to lookup client-ca-file in configmap/{Name} in {Namespace}, so client certificate authentication won't work.", ConfigMapName, ConfigMapNamespace);
            if (lookupRequestHeader)
                logger.LogWarning("No authentication-kubeconfig provided in order to lookup requestheader-client-ca-file in configmap/{Name} in {Namespace}, so request-header client certificate authentication won't work.", ConfigMapName, ConfigMapNamespace);
            return settings;
        }
        if (!lookupClientCa && !lookupRequestHeader) return settings;

        // One read serves both lookups. The request-header one decides whether start-up goes on, as upstream,
        // where the client CA is only populated later, when the port starts serving.
        IDictionary<string, string>? data = null;
        LookupException? failure = null;
        try
        {
            data = await GetConfigMapDataAsync(client, ct);
        }
        catch (LookupException e)
        {
            failure = e;
        }
        if (lookupRequestHeader)
        {
            try
            {
                settings = RequestHeaderFromCluster(failure == null ? data : throw failure, settings);
            }
            catch (LookupException e) when (flags.TolerateInClusterLookupFailure)
            {
                logger.LogWarning("Error looking up in-cluster authentication configuration: {Error}", e.Message);
                logger.LogWarning("Continuing without authentication configuration. This may treat all requests as anonymous.");
                logger.LogWarning("To require authentication configuration lookup to succeed, set --authentication-tolerate-lookup-failure=false");
            }
            catch (LookupException e)
            {
                throw new StartupException($"{Source}: unable to load configmap based request-header-client-ca-file: {e.Message}", e);
            }
        }
        if (lookupClientCa)
        {
            try
            {
                if (failure != null) throw failure;
                if (data != null && data.TryGetValue("client-ca-file", out var pem) && pem.Length > 0)
                {
                    settings = settings with { ClientCa = ParseBundle("client-ca::kube-system::extension-apiserver-authentication::client-ca-file", pem) };
                }
            }
            catch (LookupException e)
            {
                logger.LogWarning("Initial population of client CA failed: {Error}", e.Message);
            }
        }
        return settings;
    }

    private string Source => flags.RemoteKubeconfigFile.Length > 0 ? $"--authentication-kubeconfig {flags.RemoteKubeconfigFile}" : "in-cluster config for delegated authentication";

    // --authentication-kubeconfig, else the in-cluster config when there is one (the kubeconfig is optional here).
    private KubeApiClient? CreateClient()
    {
        if (flags.RemoteKubeconfigFile.Length > 0)
        {
            try
            {
                return new KubeApiClient(KubeconfigLoader.LoadFromFile(flags.RemoteKubeconfigFile) with { Qps = 200, Burst = 400 }, clientOptions);
            }
            catch (KubeconfigException e)
            {
                throw new StartupException($"failed to get delegated authentication kubeconfig: {e.Message}", e);
            }
        }
        var inCluster = new InClusterConfigLoader();
        if (!inCluster.IsInCluster) return null;
        try
        {
            return new KubeApiClient(inCluster.Load() with { Qps = 200, Burst = 400 }, clientOptions);
        }
        catch (Exception e) when (e is KubeconfigException or IOException or UnauthorizedAccessException or FormatException)
        {
            logger.LogWarning("failed to read in-cluster kubeconfig for delegated authentication: {Error}", e.Message);
            return null;
        }
    }

    private static AuthenticationSettings RequestHeaderFromCluster(IDictionary<string, string>? data, AuthenticationSettings settings)
    {
        // As upstream's request-header controller: a missing ConfigMap leaves request-header authentication off.
        var empty = settings with { RequestHeaderClientCa = [], RequestHeaderUsernameHeaders = [], RequestHeaderGroupHeaders = [], RequestHeaderExtraHeaderPrefixes = [], RequestHeaderAllowedNames = [] };
        if (data == null) return empty;
        var ca = data.TryGetValue("requestheader-client-ca-file", out var pem) && pem.Length > 0
            ? ParseBundle("client-ca::kube-system::extension-apiserver-authentication::requestheader-client-ca-file", pem)
            : [];
        return empty with
        {
            RequestHeaderClientCa = ca,
            RequestHeaderUsernameHeaders = Strings(data, "requestheader-username-headers"),
            RequestHeaderGroupHeaders = Strings(data, "requestheader-group-headers"),
            RequestHeaderExtraHeaderPrefixes = Strings(data, "requestheader-extra-headers-prefix"),
            RequestHeaderAllowedNames = Strings(data, "requestheader-allowed-names"),
        };
    }

    private static IReadOnlyList<string> Strings(IDictionary<string, string> data, string key)
    {
        if (!data.TryGetValue(key, out var json) || json.Length == 0) return [];
        try
        {
            return JsonSerializer.Deserialize(json, ConfigzJson.Default.ListString) ?? [];
        }
        catch (JsonException e)
        {
            throw new LookupException(e.Message);
        }
    }

    /// <summary>The ConfigMap's data; null when it does not exist.</summary>
    private async Task<IDictionary<string, string>?> GetConfigMapDataAsync(KubeApiClient client, CancellationToken ct)
    {
        var url = $"{client.Config.Server.ToString().TrimEnd('/')}/api/v1/namespaces/{ConfigMapNamespace}/configmaps/{ConfigMapName}";
        try
        {
            var configMap = await client.GetAsync<ConfigMap>(ConfigMapNamespace, ConfigMapName, ct);
            return configMap.Data ?? new Dictionary<string, string>();
        }
        catch (NotFoundException)
        {
            return null;
        }
        catch (ForbiddenException e)
        {
            logger.LogWarning("Unable to get configmap/{Name} in {Namespace}.  Usually fixed by 'kubectl create rolebinding -n {Namespace} ROLEBINDING_NAME --role=extension-apiserver-authentication-reader --serviceaccount=YOUR_NS:YOUR_SA'",
                ConfigMapName, ConfigMapNamespace, ConfigMapNamespace);
            throw new LookupException(e.Message);
        }
        catch (KubeApiException e)
        {
            throw new LookupException(e.Message);
        }
        catch (HttpRequestException e)
        {
            throw new LookupException($"Get \"{url}\": {await DescribeAsync(client.Config, e, ct)}");
        }
        catch (OperationCanceledException e) when (!ct.IsCancellationRequested)
        {
            throw new LookupException($"Get \"{url}\": context deadline exceeded: {e.Message}");
        }
    }

    /// <summary>Go's wording for why a request failed: the TLS verification error when that was it, else the socket error.</summary>
    private static async Task<string> DescribeAsync(ClientConfig config, HttpRequestException e, CancellationToken ct)
    {
        if (e.InnerException is AuthenticationException && !config.InsecureSkipTlsVerify)
        {
            var presented = await FetchServerCertificateAsync(config, ct);
            if (presented != null)
            {
                using (presented)
                {
                    var host = config.TlsServerName ?? config.Server.Host;
                    if (!presented.MatchesHostname(host, allowWildcards: true, allowCommonName: false))
                        return $"x509: certificate is not valid for {host}";
                    if (config.CertificateAuthorities.Count > 0 && !CertificateChains.IsTrusted(presented, config.CertificateAuthorities, CertificateChains.ServerAuth))
                        return "x509: certificate signed by unknown authority";
                }
            }
            return $"tls: {e.InnerException.Message}";
        }
        var socket = e.InnerException as SocketException ?? e.InnerException?.InnerException as SocketException;
        return socket != null ? $"dial tcp {config.Server.Host}:{config.Server.Port}: connect: {socket.Message.ToLowerInvariant()}" : e.Message;
    }

    private static async Task<X509Certificate2?> FetchServerCertificateAsync(ClientConfig config, CancellationToken ct)
    {
        try
        {
            using var tcp = new TcpClient();
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
            timeout.CancelAfter(TimeSpan.FromSeconds(10));
            await tcp.ConnectAsync(config.Server.Host, config.Server.Port, timeout.Token);
            X509Certificate2? presented = null;
            await using var tls = new SslStream(tcp.GetStream(), false, (_, certificate, _, _) =>
            {
                if (certificate != null) presented = X509CertificateLoader.LoadCertificate(certificate.GetRawCertData());
                return true;
            });
            await tls.AuthenticateAsClientAsync(new SslClientAuthenticationOptions { TargetHost = config.TlsServerName ?? config.Server.Host }, timeout.Token);
            return presented;
        }
        catch (Exception e) when (e is SocketException or IOException or AuthenticationException or OperationCanceledException)
        {
            return null;
        }
    }

    private static IReadOnlyList<X509Certificate2> LoadBundle(string providerPrefix, string path, string context)
    {
        byte[] data;
        try
        {
            data = File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new StartupException($"{context}: open {path}: {(e is FileNotFoundException or DirectoryNotFoundException ? "no such file or directory" : e.Message)}", e);
        }
        try
        {
            return ParseBundle($"{providerPrefix}::{path}", data);
        }
        catch (LookupException e)
        {
            throw new StartupException($"{context}: {e.Message}", e);
        }
    }

    private static IReadOnlyList<X509Certificate2> ParseBundle(string name, string pem) => ParseBundle(name, System.Text.Encoding.UTF8.GetBytes(pem));

    // dynamiccertificates' CA bundle checks: empty content, then cert.ParseCertsPEM.
    private static IReadOnlyList<X509Certificate2> ParseBundle(string name, byte[] data)
    {
        if (data.Length == 0) throw new LookupException($"missing content for CA bundle \"{name}\"");
        try
        {
            return GoPem.ParseCertificates(data);
        }
        catch (FormatException e)
        {
            throw new LookupException($"error loading CA bundle for \"{name}\": {e.Message}");
        }
    }

    private sealed class LookupException(string message) : Exception(message);
}

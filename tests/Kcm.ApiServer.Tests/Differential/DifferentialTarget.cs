using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json.Nodes;
using Kcm.Client.Config;
using Kcm.Testing;

namespace Kcm.ApiServer.Tests.Differential;

/// <summary>One server of a differential comparison: raw HTTP (client certificate from its kubeconfig) and kubectl.</summary>
public sealed class DifferentialTarget : IDisposable
{
    private readonly HttpClient _http;
    private readonly KubectlScope _kubectl;

    public DifferentialTarget(string name, string kubeconfigPath)
    {
        Name = name;
        KubeconfigPath = kubeconfigPath;
        var config = KubeconfigLoader.LoadFromFile(kubeconfigPath);
        _http = CreateHttpClient(config);
        _kubectl = new KubectlScope(kubeconfigPath);
    }

    public string Name { get; }
    public string KubeconfigPath { get; }
    public KubectlRunner Kubectl => _kubectl.Runner;

    /// <summary>An HttpClient that trusts only the kubeconfig's CA and presents its client certificate (or bearer token).</summary>
    public static HttpClient CreateHttpClient(ClientConfig config)
    {
        var authorities = config.CertificateAuthorities;
        var handler = new SocketsHttpHandler
        {
            PooledConnectionLifetime = TimeSpan.FromMinutes(5),
            SslOptions =
            {
                RemoteCertificateValidationCallback = (_, cert, _, errors) =>
                {
                    if (config.InsecureSkipTlsVerify) return true;
                    if (cert is null) return false;
                    if (authorities.Count == 0) return errors == System.Net.Security.SslPolicyErrors.None;
                    using var chain = new X509Chain();
                    chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
                    foreach (var ca in authorities) chain.ChainPolicy.CustomTrustStore.Add(ca);
                    chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
                    return chain.Build(new X509Certificate2(cert));
                },
            },
        };
        if (config.ClientCertificate is { } certificate) handler.SslOptions.ClientCertificates = new X509CertificateCollection { certificate };
        var client = new HttpClient(handler) { BaseAddress = config.Server, Timeout = TimeSpan.FromSeconds(60), DefaultRequestVersion = HttpVersion.Version11 };
        if (config.BearerToken is { Length: > 0 } token) client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return client;
    }

    public async Task<DiffResponse> SendAsync(HttpMethod method, string path, string? body, string contentType, CancellationToken ct)
    {
        using var request = new HttpRequestMessage(method, path);
        if (body is not null) request.Content = new StringContent(body, Encoding.UTF8, new MediaTypeHeaderValue(contentType));
        using var response = await _http.SendAsync(request, ct);
        var text = await response.Content.ReadAsStringAsync(ct);
        JsonNode? json = null;
        if (text.Length > 0 && text[0] is '{' or '[') json = JsonNode.Parse(text);
        var warnings = response.Headers.TryGetValues("Warning", out var values) ? values.ToList() : [];
        return new DiffResponse((int)response.StatusCode, json, text, warnings);
    }

    /// <summary>Reads a watch until <paramref name="count"/> events arrived (or the timeout), returning them in order.</summary>
    public async Task<List<JsonNode>> WatchAsync(string path, int count, TimeSpan timeout, Func<Task> trigger)
    {
        using var cts = new CancellationTokenSource(timeout);
        using var request = new HttpRequestMessage(HttpMethod.Get, path);
        using var response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cts.Token);
        await using var stream = await response.Content.ReadAsStreamAsync(cts.Token);
        using var reader = new StreamReader(stream);
        await trigger();
        var events = new List<JsonNode>();
        try
        {
            while (events.Count < count && await reader.ReadLineAsync(cts.Token) is { } line)
            {
                if (line.Length > 0) events.Add(JsonNode.Parse(line)!);
            }
        }
        catch (OperationCanceledException)
        {
        }
        return events;
    }

    public void Dispose()
    {
        _http.Dispose();
        _kubectl.Dispose();
    }
}

public sealed record DiffResponse(int Code, JsonNode? Body, string Text, IReadOnlyList<string> Warnings);

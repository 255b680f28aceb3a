using System.Net;
using System.Net.NetworkInformation;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json.Nodes;
using Kcm.Testing;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using static Kcm.ApiServer.Tests.Http;

namespace Kcm.ApiServer.Tests;

/// <summary>
/// An APIService backed by a Service and Endpoints: requests to its group version reach the backend (kube-aggregator
/// on a real server, the embedded server's proxy otherwise) with the caller in the front-proxy headers.
/// </summary>
[Collection(ServerCollection.Name)]
public sealed class AggregatedApiTests(ApiServerFixture fixture)
{
    private readonly HttpClient _client = fixture.HttpClient;

    [Fact(Timeout = 60_000)]
    public async Task AggregatedGroupVersion_RegisteredByApiService_ProxiedToEndpointWithCallerHeaders()
    {
        var group = $"t{Guid.NewGuid():N}"[..9] + ".kcm.dev";
        var address = NonLoopbackAddress();
        var serviceName = "agg-" + group.Split('.')[0];
        using var certificate = SelfSigned($"{serviceName}.default.svc", address);
        await using var backend = await EchoBackend.StartAsync(address, certificate, group);
        var ns = await CreateNamespaceAsync(_client);

        Assert.Equal(HttpStatusCode.Created, (await PostAsync(_client, "/api/v1/namespaces/default/services",
            $$$"""{"metadata":{"name":"{{{serviceName}}}"},"spec":{"ports":[{"name":"https","port":443,"targetPort":{{{backend.Port}}} }]}}""")).Code);
        Assert.Equal(HttpStatusCode.Created, (await PostAsync(_client, "/api/v1/namespaces/default/endpoints",
            $$$"""{"metadata":{"name":"{{{serviceName}}}"},"subsets":[{"addresses":[{"ip":"{{{address}}}"}],"ports":[{"name":"https","port":{{{backend.Port}}} }]}]}""")).Code);
        var caBundle = Convert.ToBase64String(System.Text.Encoding.ASCII.GetBytes(certificate.ExportCertificatePem()));
        Assert.Equal(HttpStatusCode.Created, (await PostAsync(_client, "/apis/apiregistration.k8s.io/v1/apiservices",
            $$$"""{"metadata":{"name":"v1.{{{group}}}"},"spec":{"group":"{{{group}}}","version":"v1","service":{"namespace":"default","name":"{{{serviceName}}}","port":443},"caBundle":"{{{caBundle}}}","groupPriorityMinimum":100,"versionPriority":100}}""")).Code);
        try
        {
            var echoed = await Eventually.GetAsync("the aggregated API to answer", async () =>
            {
                var (code, body) = await GetAsync(_client, $"/apis/{group}/v1/namespaces/{ns}/things?labelSelector=a%3Db");
                return code == HttpStatusCode.OK ? body : null;
            });
            Assert.Equal($"/apis/{group}/v1/namespaces/{ns}/things", Str(echoed!["path"]));
            Assert.Equal("?labelSelector=a%3Db", Str(echoed["query"]));
            Assert.Equal("admin", Str(echoed["user"]));
            // kube-aggregator sends one header line per group; .NET's HttpClient joins them into one line with ", ".
            Assert.Contains("system:masters", echoed["groups"]!.AsArray().SelectMany(g => Str(g).Split(", ")));

            var (_, groups) = await GetAsync(_client, "/apis");
            Assert.Contains(group, groups!["groups"]!.AsArray().Select(g => Str(g!["name"])));
        }
        finally
        {
            // A registered group nobody serves would break discovery (and so namespace deletion) for everyone else.
            await DeleteAsync(_client, $"/apis/apiregistration.k8s.io/v1/apiservices/v1.{group}");
            await DeleteAsync(_client, $"/api/v1/namespaces/default/endpoints/{serviceName}");
            await DeleteAsync(_client, $"/api/v1/namespaces/default/services/{serviceName}");
        }
    }

    /// <summary>Endpoints may not name loopback addresses: the machine's first other IPv4 address.</summary>
    private static IPAddress NonLoopbackAddress()
        => NetworkInterface.GetAllNetworkInterfaces()
            .Where(n => n.OperationalStatus == OperationalStatus.Up && n.NetworkInterfaceType != NetworkInterfaceType.Loopback)
            .SelectMany(n => n.GetIPProperties().UnicastAddresses.Select(a => a.Address))
            .First(a => a.AddressFamily == AddressFamily.InterNetwork && !IPAddress.IsLoopback(a) && !a.ToString().StartsWith("169.254.", StringComparison.Ordinal));

    private static X509Certificate2 SelfSigned(string dnsName, IPAddress address)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={dnsName}", key, HashAlgorithmName.SHA256);
        var san = new SubjectAlternativeNameBuilder();
        san.AddDnsName(dnsName);
        san.AddIpAddress(address);
        request.CertificateExtensions.Add(san.Build());
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature | X509KeyUsageFlags.KeyCertSign, true));
        using var created = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddHours(1));
        return X509CertificateLoader.LoadPkcs12(created.Export(X509ContentType.Pkcs12), null);
    }

    /// <summary>Answers discovery of its group version, and echoes the path, query and front-proxy headers of anything else.</summary>
    private sealed class EchoBackend(WebApplication app, int port) : IAsyncDisposable
    {
        public int Port => port;

        public static async Task<EchoBackend> StartAsync(IPAddress address, X509Certificate2 certificate, string group)
        {
            var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions());
            builder.WebHost.UseKestrelCore();
            builder.WebHost.ConfigureKestrel(k => k.Listen(address, 0, l => l.UseHttps(certificate)));
            var app = builder.Build();
            app.Run(async ctx =>
            {
                var path = ctx.Request.Path.Value ?? "";
                var body = path.TrimEnd('/') == $"/apis/{group}/v1"
                    ? new JsonObject { ["kind"] = "APIResourceList", ["apiVersion"] = "v1", ["groupVersion"] = $"{group}/v1", ["resources"] = new JsonArray() }
                    : new JsonObject
                    {
                        ["path"] = path,
                        ["query"] = ctx.Request.QueryString.Value,
                        ["user"] = ctx.Request.Headers["X-Remote-User"].ToString(),
                        ["groups"] = new JsonArray([.. ctx.Request.Headers["X-Remote-Group"].Select(g => (JsonNode?)JsonValue.Create(g))]),
                    };
                ctx.Response.ContentType = "application/json";
                await ctx.Response.WriteAsync(body.ToJsonString());
            });
            await app.StartAsync();
            var bound = new Uri(app.Services.GetRequiredService<Microsoft.AspNetCore.Hosting.Server.IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First()).Port;
            return new EchoBackend(app, bound);
        }

        public async ValueTask DisposeAsync()
        {
            await app.StopAsync();
            await app.DisposeAsync();
        }
    }
}

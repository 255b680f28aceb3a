using System.Net;
using System.Net.Sockets;
using System.Text.Json.Nodes;
using Kcm.ApiServer.Hosting;
using Kcm.Testing;
using static Kcm.ApiServer.Tests.Http;

namespace Kcm.ApiServer.Tests;

/// <summary>A server whose componentstatuses probe a healthy local endpoint and a closed port.</summary>
public sealed class ComponentStatusFixture : EmbeddedServerFixture, IAsyncLifetime
{
    private readonly HttpListener _healthy = new();

    public int ClosedPort { get; } = FreePort();

    protected override void Configure(EmbeddedApiServerOptions options)
    {
        var port = FreePort();
        _healthy.Prefixes.Add($"http://127.0.0.1:{port}/");
        _healthy.Start();
        _ = ServeAsync();
        options.ComponentStatusProbes = new Dictionary<string, Uri>
        {
            ["controller-manager"] = new($"http://127.0.0.1:{port}/healthz"),
            ["scheduler"] = new($"https://127.0.0.1:{ClosedPort}/healthz"),
        };
    }

    private async Task ServeAsync()
    {
        while (_healthy.IsListening)
        {
            HttpListenerContext ctx;
            try
            {
                ctx = await _healthy.GetContextAsync();
            }
            catch (Exception e) when (e is HttpListenerException or ObjectDisposedException)
            {
                return;
            }
            var ok = "ok"u8.ToArray();
            ctx.Response.StatusCode = ctx.Request.Url!.AbsolutePath == "/healthz" ? 200 : 500;
            await ctx.Response.OutputStream.WriteAsync(ok);
            ctx.Response.Close();
        }
    }

    private static int FreePort()
    {
        using var socket = new TcpListener(IPAddress.Loopback, 0);
        socket.Start();
        return ((IPEndPoint)socket.LocalEndpoint).Port;
    }

    async Task IAsyncLifetime.DisposeAsync()
    {
        _healthy.Close();
        await DisposeAsync();
    }
}

public sealed class ComponentStatusTests(ComponentStatusFixture fixture) : IClassFixture<ComponentStatusFixture>
{
    [EmbeddedOnlyFact("probes endpoints configured on the embedded server", Timeout = 30000)]
    public async Task List_ProbesEveryComponent_HealthyOrDialError()
    {
        var (code, body) = await GetAsync(fixture.HttpClient, "/api/v1/componentstatuses");
        Assert.Equal(HttpStatusCode.OK, code);
        Assert.Equal("ComponentStatusList", Str(body!["kind"]));
        var items = body["items"]!.AsArray().ToDictionary(i => Str(i!["metadata"]!["name"]), i => i!["conditions"]![0]!);
        Assert.Equal(["controller-manager", "etcd-0", "scheduler"], items.Keys.Order());
        Assert.Equal(Canon("""{"type":"Healthy","status":"True","message":"ok"}"""), items["controller-manager"].ToJsonString());
        Assert.Equal(Canon("""{"type":"Healthy","status":"True","message":"{\"health\":\"true\"}"}"""), items["etcd-0"].ToJsonString());
        Assert.Equal("False", Str(items["scheduler"]["status"]));
        Assert.Equal($"Get \"https://127.0.0.1:{fixture.ClosedPort}/healthz\": dial tcp 127.0.0.1:{fixture.ClosedPort}: connect: connection refused",
            Str(items["scheduler"]["message"]));
    }

    [EmbeddedOnlyFact("probes endpoints configured on the embedded server", Timeout = 30000)]
    public async Task Get_UnknownComponent_500WithoutReason()
    {
        var (code, body) = await GetAsync(fixture.HttpClient, "/api/v1/componentstatuses/nope");
        Assert.Equal(HttpStatusCode.InternalServerError, code);
        Assert.Equal(Canon("""{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"Component not found: nope","code":500}"""),
            body!.ToJsonString());
    }

    [EmbeddedOnlyFact("probes endpoints configured on the embedded server", Timeout = 30000)]
    public async Task Get_AsTable_StatusMessageErrorColumns()
    {
        var (_, table) = await GetAsync(fixture.HttpClient, "/api/v1/componentstatuses/controller-manager", "application/json;as=Table;v=v1;g=meta.k8s.io");
        Assert.Equal("Name,Status,Message,Error", string.Join(',', table!["columnDefinitions"]!.AsArray().Select(c => Str(c!["name"]))));
        Assert.Equal(Canon("""["controller-manager","Healthy","ok",""]"""), table["rows"]![0]!["cells"]!.ToJsonString());
    }
}

using System.Net;
using System.Text.Json.Nodes;
using Kcm.Api;
using Kcm.Api.Apps.V1;
using Kcm.Api.Autoscaling.V1;
using Kcm.Api.Core.V1;
using Kcm.Api.Meta.V1;
using Kcm.Api.Policy.V1;
using Kcm.Api.Rbac.V1;
using Kcm.Client.Errors;
using Kcm.Client.Tests.Support;

namespace Kcm.Client.Tests;

public sealed class KubeApiClientTests
{
    private const string Cm = """{"kind":"ConfigMap","apiVersion":"v1","metadata":{"name":"c","namespace":"ns","resourceVersion":"7"}}""";

    [Fact]
    public void ResourcePath_CoreNamedAndClusterScoped_BuildsUpstreamPaths()
    {
        Assert.Equal("/api/v1/namespaces/ns/pods/p/status", ResourcePath.For(Pod.Resource, "ns", "p", "status"));
        Assert.Equal("/api/v1/pods", ResourcePath.For(Pod.Resource, null));
        Assert.Equal("/apis/apps/v1/namespaces/ns/deployments/d/scale", ResourcePath.For(Deployment.Resource, "ns", "d", "scale"));
        Assert.Equal("/api/v1/nodes/n1", ResourcePath.For(Node.Resource, null, "n1"));
        Assert.Equal("/apis/rbac.authorization.k8s.io/v1/clusterroles", ResourcePath.For(ClusterRole.Resource, null));
        Assert.Throws<ArgumentException>(() => ResourcePath.For(Node.Resource, "ns", "n1"));
    }

    // A newer server's fields must survive a typed read-modify-write. A real v1.26 apiserver drops fields it does
    // not know, so no server of ours can hold fields our v1.26 types lack: the newer server is scripted here.
    [Fact(Timeout = 10000)]
    public async Task Update_AfterGet_SendsBackFieldsTheTypesDoNotKnow()
    {
        const string stored = """
            {"kind":"Deployment","apiVersion":"apps/v1","metadata":{"name":"future","namespace":"ns","resourceVersion":"7","labels":{"a":"b"}},
             "spec":{"selector":{"matchLabels":{"a":"b"}},"futureSpecField":{"nested":[1,2,3]},
                     "template":{"metadata":{"labels":{"a":"b"}},"spec":{"containers":[{"name":"c","image":"nginx","futureContainerField":"x"}]}}}}
            """;
        var handler = new StubHandler().Respond(HttpStatusCode.OK, stored).Respond(r => StubHandler.Response(HttpStatusCode.OK, r.Body!));
        using var client = TestClients.Create(handler);

        var typed = await client.GetAsync<Deployment>("ns", "future");
        typed.Metadata!.Labels!["touched"] = "yes";
        await client.UpdateAsync(typed);

        var sent = JsonNode.Parse(handler.Requests[1].Body!)!;
        Assert.Equal(HttpMethod.Put, handler.Requests[1].Method);
        Assert.Equal("yes", sent["metadata"]!["labels"]!["touched"]!.GetValue<string>());
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse("""{"nested":[1,2,3]}"""), sent["spec"]!["futureSpecField"]));
        Assert.Equal("x", sent["spec"]!["template"]!["spec"]!["containers"]![0]!["futureContainerField"]!.GetValue<string>());
    }

    [Fact(Timeout = 10000)]
    public async Task ListAsync_AllOptions_EncodedAsQuery()
    {
        var handler = new StubHandler().Respond(HttpStatusCode.OK, """{"kind":"PodList","apiVersion":"v1","metadata":{"resourceVersion":"10"},"items":[{"metadata":{"name":"a"}}]}""");
        using var client = TestClients.Create(handler);

        var list = await client.ListAsync<Pod>("ns", new ListOptions
        {
            LabelSelector = "app=web,tier in (a,b)",
            FieldSelector = "spec.nodeName=n1",
            Limit = 5,
            Continue = "tok",
            ResourceVersion = "0",
            ResourceVersionMatch = "NotOlderThan",
            TimeoutSeconds = 30,
        });

        Assert.IsType<PodList>(list);
        Assert.Equal("a", Assert.Single(list.Items!).Metadata?.Name);
        Assert.Equal("10", list.Metadata?.ResourceVersion);
        var uri = handler.Requests[0].Uri;
        Assert.Equal("/api/v1/namespaces/ns/pods", uri.AbsolutePath);
        Assert.Equal("?labelSelector=app%3Dweb%2Ctier%20in%20%28a%2Cb%29&fieldSelector=spec.nodeName%3Dn1&limit=5&continue=tok&resourceVersion=0&resourceVersionMatch=NotOlderThan&timeoutSeconds=30", uri.Query);
    }

    [Fact(Timeout = 10000)]
    public async Task ListAllAsync_ThreePages_FollowsContinueAndJoinsItems()
    {
        var handler = new StubHandler()
            .Respond(HttpStatusCode.OK, """{"metadata":{"resourceVersion":"10","continue":"c1","remainingItemCount":2},"items":[{"metadata":{"name":"a"}}]}""")
            .Respond(HttpStatusCode.OK, """{"metadata":{"resourceVersion":"10","continue":"c2"},"items":[{"metadata":{"name":"b"}}]}""")
            .Respond(HttpStatusCode.OK, """{"metadata":{"resourceVersion":"10"},"items":[{"metadata":{"name":"c"}}]}""");
        using var client = TestClients.Create(handler);

        var list = await client.ListAllAsync<ConfigMap>(null, new ListOptions { LabelSelector = "x=y" });

        Assert.Equal(["a", "b", "c"], list.Items!.Select(i => i.Metadata!.Name));
        Assert.Null(list.Metadata?.Continue);
        Assert.Equal("10", list.Metadata?.ResourceVersion);
        Assert.Equal("?labelSelector=x%3Dy&limit=500", handler.Requests[0].Uri.Query);
        Assert.Equal("?labelSelector=x%3Dy&limit=500&continue=c2", handler.Requests[2].Uri.Query);
        Assert.Equal("/api/v1/configmaps", handler.Requests[0].Uri.AbsolutePath);
    }

    [Fact(Timeout = 10000)]
    public async Task ListAllAsync_ContinueExpired_FallsBackToFullList()
    {
        var handler = new StubHandler()
            .Respond(HttpStatusCode.OK, """{"metadata":{"continue":"c1"},"items":[{"metadata":{"name":"a"}}]}""")
            .Respond(HttpStatusCode.Gone, """{"kind":"Status","apiVersion":"v1","status":"Failure","reason":"Expired","message":"continue expired","code":410}""")
            .Respond(HttpStatusCode.OK, """{"metadata":{"resourceVersion":"20"},"items":[{"metadata":{"name":"a"}},{"metadata":{"name":"b"}}]}""");
        using var client = TestClients.Create(handler);

        var list = await client.ListAllAsync<ConfigMap>("ns");

        Assert.Equal(2, list.Items!.Count);
        Assert.Equal("", handler.Requests[2].Uri.Query);
    }

    [Fact(Timeout = 10000)]
    public async Task CreateAsync_MissingTypeMeta_SendsApiVersionAndKind()
    {
        var handler = new StubHandler().Respond(HttpStatusCode.Created, """{"kind":"Deployment","apiVersion":"apps/v1","metadata":{"name":"d","namespace":"ns"}}""");
        using var client = TestClients.Create(handler);
        var deployment = new Deployment { Metadata = new ObjectMeta { Name = "d", Namespace = "ns" } };

        var created = await client.CreateAsync(deployment, options: new WriteOptions { FieldManager = "kcm", DryRun = true });

        var request = handler.Requests[0];
        Assert.Equal(HttpMethod.Post, request.Method);
        Assert.Equal("/apis/apps/v1/namespaces/ns/deployments", request.Uri.AbsolutePath);
        Assert.Equal("?dryRun=All&fieldManager=kcm", request.Uri.Query);
        var body = JsonNode.Parse(request.Body!)!;
        Assert.Equal("apps/v1", (string?)body["apiVersion"]);
        Assert.Equal("Deployment", (string?)body["kind"]);
        Assert.Null(deployment.Kind);
        Assert.Equal("d", created.Metadata?.Name);
    }

    [Fact(Timeout = 10000)]
    public async Task CreateAsync_NamespacedWithoutNamespace_ThrowsArgumentException()
    {
        using var client = TestClients.Create(new StubHandler());

        await Assert.ThrowsAsync<ArgumentException>(() => client.CreateAsync(new ConfigMap { Metadata = new ObjectMeta { Name = "c" } }));
    }

    [Fact(Timeout = 10000)]
    public async Task UpdateAsync_Conflict_ThrowsConflictException()
    {
        var handler = new StubHandler().Respond(HttpStatusCode.Conflict, """{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"Operation cannot be fulfilled on configmaps \"c\": the object has been modified","reason":"Conflict","details":{"name":"c","kind":"configmaps"},"code":409}""");
        using var client = TestClients.Create(handler);
        var cm = new ConfigMap { Metadata = new ObjectMeta { Name = "c", Namespace = "ns", ResourceVersion = "6" } };

        var ex = await Assert.ThrowsAsync<ConflictException>(() => client.UpdateAsync(cm));

        Assert.Equal(HttpMethod.Put, handler.Requests[0].Method);
        Assert.Equal("/api/v1/namespaces/ns/configmaps/c", handler.Requests[0].Uri.AbsolutePath);
        Assert.Equal("c", ex.Status.Details?.Name);
    }

    [Fact(Timeout = 10000)]
    public async Task UpdateStatusAsync_PutsToStatusSubresource()
    {
        var handler = new StubHandler().Respond(HttpStatusCode.OK, """{"metadata":{"name":"p","namespace":"ns"}}""");
        using var client = TestClients.Create(handler);

        await client.UpdateStatusAsync(new Pod { Metadata = new ObjectMeta { Name = "p", Namespace = "ns" }, Status = new PodStatus { Phase = "Running" } });

        Assert.Equal("/api/v1/namespaces/ns/pods/p/status", handler.Requests[0].Uri.AbsolutePath);
        Assert.Equal("Running", (string?)JsonNode.Parse(handler.Requests[0].Body!)!["status"]!["phase"]);
    }

    [Theory(Timeout = 10000)]
    [InlineData(PatchType.Json, "application/json-patch+json")]
    [InlineData(PatchType.Merge, "application/merge-patch+json")]
    [InlineData(PatchType.StrategicMerge, "application/strategic-merge-patch+json")]
    public async Task PatchAsync_EachType_SendsContentType(PatchType type, string contentType)
    {
        var handler = new StubHandler().Respond(HttpStatusCode.OK, Cm);
        using var client = TestClients.Create(handler);

        await client.PatchAsync<ConfigMap>("ns", "c", type, """{"data":{"k":"v"}}""");

        Assert.Equal(HttpMethod.Patch, handler.Requests[0].Method);
        Assert.Equal(contentType, handler.Requests[0].ContentType);
        Assert.Equal("""{"data":{"k":"v"}}""", handler.Requests[0].Body);
    }

    [Fact(Timeout = 10000)]
    public async Task PatchAsync_Subresource_AppendsIt()
    {
        var handler = new StubHandler().Respond(HttpStatusCode.OK, """{"metadata":{"name":"n1"}}""");
        using var client = TestClients.Create(handler);

        await client.PatchAsync<Node>(null, "n1", PatchType.StrategicMerge, """{"status":{}}""", subresource: "status");

        Assert.Equal("/api/v1/nodes/n1/status", handler.Requests[0].Uri.AbsolutePath);
    }

    [Fact(Timeout = 10000)]
    public async Task DeleteAsync_Options_SentAsJsonBody()
    {
        var handler = new StubHandler().Respond(HttpStatusCode.OK, """{"kind":"Status","apiVersion":"v1","status":"Success"}""");
        using var client = TestClients.Create(handler);

        await client.DeleteAsync<Pod>("ns", "p", new DeleteOptions
        {
            Preconditions = new Preconditions { Uid = "u-1", ResourceVersion = "9" },
            PropagationPolicy = "Foreground",
            GracePeriodSeconds = 0,
            DryRun = ["All"],
        });

        var request = handler.Requests[0];
        Assert.Equal(HttpMethod.Delete, request.Method);
        Assert.Equal("/api/v1/namespaces/ns/pods/p", request.Uri.AbsolutePath);
        Assert.Equal("application/json", request.ContentType);
        var body = JsonNode.Parse(request.Body!)!;
        Assert.Equal("u-1", (string?)body["preconditions"]!["uid"]);
        Assert.Equal("9", (string?)body["preconditions"]!["resourceVersion"]);
        Assert.Equal("Foreground", (string?)body["propagationPolicy"]);
        Assert.Equal(0, (long?)body["gracePeriodSeconds"]);
        Assert.Equal("All", (string?)body["dryRun"]![0]);
    }

    [Fact(Timeout = 10000)]
    public async Task DeleteAsync_NotFound_ThrowsNotFoundException()
    {
        var handler = new StubHandler().Respond(HttpStatusCode.NotFound, """{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"pods \"p\" not found","reason":"NotFound","details":{"name":"p","kind":"pods"},"code":404}""");
        using var client = TestClients.Create(handler);

        var ex = await Assert.ThrowsAsync<NotFoundException>(() => client.DeleteAsync<Pod>("ns", "p"));

        Assert.True(KubeApiErrors.IsNotFound(ex));
        Assert.Equal("{}", handler.Requests[0].Body);
    }

    [Fact(Timeout = 10000)]
    public async Task DeleteCollectionAsync_SelectorAndOptions_SentAsQueryAndBody()
    {
        var handler = new StubHandler().Respond(HttpStatusCode.OK, """{"kind":"PodList","items":[]}""");
        using var client = TestClients.Create(handler);

        await client.DeleteCollectionAsync<Pod>("ns", new ListOptions { LabelSelector = "a=b" }, new DeleteOptions { PropagationPolicy = "Background" });

        Assert.Equal("/api/v1/namespaces/ns/pods", handler.Requests[0].Uri.AbsolutePath);
        Assert.Equal("?labelSelector=a%3Db", handler.Requests[0].Uri.Query);
        Assert.Contains("Background", handler.Requests[0].Body);
    }

    [Fact(Timeout = 10000)]
    public async Task Subresources_ScaleEvictionBindingTokenApproval_UseUpstreamPaths()
    {
        var handler = new StubHandler { Fallback = _ => StubHandler.Response(HttpStatusCode.OK, """{"kind":"X","metadata":{"name":"x"},"spec":{"replicas":3}}""") };
        using var client = TestClients.Create(handler);

        var scale = await client.GetScaleAsync<Deployment>("ns", "d");
        await client.UpdateScaleAsync<ReplicaSet>("ns", "rs", new Scale { Metadata = new ObjectMeta { Name = "rs" }, Spec = new ScaleSpec { Replicas = 2 } });
        await client.EvictAsync(new Eviction { Metadata = new ObjectMeta { Name = "p", Namespace = "ns" } });
        await client.BindAsync(new Binding { Metadata = new ObjectMeta { Name = "p", Namespace = "ns" }, Target = new ObjectReference { Kind = "Node", Name = "n1" } });
        await client.CreateTokenAsync("ns", "sa", new Kcm.Api.Authentication.V1.TokenRequest());
        await client.UpdateApprovalAsync(new Kcm.Api.Certificates.V1.CertificateSigningRequest { Metadata = new ObjectMeta { Name = "csr-1" } });

        Assert.Equal(3, scale.Spec?.Replicas);
        Assert.Equal(
            [
                "GET /apis/apps/v1/namespaces/ns/deployments/d/scale",
                "PUT /apis/apps/v1/namespaces/ns/replicasets/rs/scale",
                "POST /api/v1/namespaces/ns/pods/p/eviction",
                "POST /api/v1/namespaces/ns/pods/p/binding",
                "POST /api/v1/namespaces/ns/serviceaccounts/sa/token",
                "PUT /apis/certificates.k8s.io/v1/certificatesigningrequests/csr-1/approval",
            ],
            handler.Requests.Select(r => $"{r.Method} {r.Uri.AbsolutePath}"));
        Assert.Equal("autoscaling/v1", (string?)JsonNode.Parse(handler.Requests[1].Body!)!["apiVersion"]);
        Assert.Equal("Eviction", (string?)JsonNode.Parse(handler.Requests[2].Body!)!["kind"]);
        Assert.Equal("policy/v1", (string?)JsonNode.Parse(handler.Requests[2].Body!)!["apiVersion"]);
    }

    [Fact(Timeout = 10000)]
    public async Task WatchAsync_CannedStream_YieldsTypedEventsThenThrowsGoneOnExpired()
    {
        var stream = string.Join("\n",
            """{"type":"ADDED","object":{"kind":"ConfigMap","apiVersion":"v1","metadata":{"name":"a","resourceVersion":"11"}}}""",
            """{"type":"MODIFIED","object":{"kind":"ConfigMap","apiVersion":"v1","metadata":{"name":"a","resourceVersion":"12"},"data":{"k":"v}{\"x"}}}""",
            """{"type":"BOOKMARK","object":{"kind":"ConfigMap","apiVersion":"v1","metadata":{"resourceVersion":"15"}}}""",
            """{"type":"ERROR","object":{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"too old resource version: 11 (14)","reason":"Expired","code":410}}""");
        var handler = new StubHandler().Respond(HttpStatusCode.OK, stream);
        using var client = TestClients.Create(handler);
        var events = new List<Kcm.Client.Watch.WatchEvent<ConfigMap>>();

        var ex = await Assert.ThrowsAsync<GoneException>(async () =>
        {
            await foreach (var e in client.WatchAsync<ConfigMap>("ns", new ListOptions { ResourceVersion = "10", AllowWatchBookmarks = true, TimeoutSeconds = 300 }))
            {
                events.Add(e);
            }
        });

        Assert.True(ex.IsExpired);
        Assert.Contains("too old resource version", ex.Message);
        Assert.Equal([Kcm.Client.Watch.WatchEventType.Added, Kcm.Client.Watch.WatchEventType.Modified, Kcm.Client.Watch.WatchEventType.Bookmark], events.Select(e => e.Type));
        Assert.Equal("v}{\"x", events[1].Object.Data!["k"]);
        Assert.Equal("15", events[2].Object.Metadata?.ResourceVersion);
        Assert.Equal("?watch=true&allowWatchBookmarks=true&resourceVersion=10&timeoutSeconds=300", handler.Requests[0].Uri.Query);
    }

    [Fact(Timeout = 10000)]
    public async Task WatchAsync_ErrorStatusResponse_ThrowsTypedError()
    {
        var handler = new StubHandler().Respond(HttpStatusCode.Forbidden, """{"kind":"Status","apiVersion":"v1","status":"Failure","message":"pods is forbidden","reason":"Forbidden","code":403}""");
        using var client = TestClients.Create(handler);

        await Assert.ThrowsAsync<ForbiddenException>(async () =>
        {
            await foreach (var unused in client.WatchAsync<Pod>(null))
            {
            }
        });
    }

    [Fact]
    public void ListType_ImplementsTypedList()
    {
        Assert.True(typeof(IKubernetesList<Pod>).IsAssignableFrom(Pod.ListType));
    }
}

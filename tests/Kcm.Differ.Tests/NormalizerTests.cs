using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json.Nodes;

namespace Kcm.Differ.Tests;

public class NormalizerTests
{
    private static JsonObject Parse(string json) => JsonNode.Parse(json)!.AsObject();

    [Fact]
    public void Normalize_ServerChosenFields_AreReplacedOrDropped()
    {
        var rs = Parse("""
            {"kind":"ReplicaSet","metadata":{"name":"web-abc12","namespace":"differ-x-ours-1","uid":"0f0e0d0c-1111-2222-3333-444455556666",
             "resourceVersion":"42","creationTimestamp":"2026-12-06T04:00:00Z","managedFields":[{"manager":"kcm"}],
             "labels":{"pod-template-hash":"abc12"}},
             "status":{"conditions":[{"lastTransitionTime":"2026-12-06T04:00:01Z","reason":"X"}]}}
            """);
        var pod = Parse("""
            {"kind":"Pod","metadata":{"name":"web-abc12-zx9q8","generateName":"web-abc12-","namespace":"differ-x-ours-1",
             "ownerReferences":[{"kind":"ReplicaSet","name":"web-abc12","uid":"0f0e0d0c-1111-2222-3333-444455556666"}]}}
            """);
        var normalizer = new Normalizer("differ-x-ours-1", [rs, pod], ["pod-template-hash"]);

        var outRs = normalizer.Normalize(rs);
        var outPod = normalizer.Normalize(pod);

        Assert.Null(outRs["metadata"]!["uid"]);
        Assert.Null(outRs["metadata"]!["resourceVersion"]);
        Assert.Null(outRs["metadata"]!["managedFields"]);
        Assert.Equal("<ns>", (string?)outRs["metadata"]!["namespace"]);
        Assert.Equal("<time>", (string?)outRs["status"]!["conditions"]![0]!["lastTransitionTime"]);
        Assert.Equal("web-<pod-template-hash>", (string?)outRs["metadata"]!["name"]);
        Assert.Equal("web-<pod-template-hash>-<generated>", (string?)outPod["metadata"]!["name"]);
        Assert.Equal("<uid ReplicaSet/web-<pod-template-hash>>", (string?)outPod["metadata"]!["ownerReferences"]![0]!["uid"]);
        Assert.Equal("Pod/web-<pod-template-hash>-<generated>", normalizer.KeyOf(pod));
    }

    [Fact]
    public void Normalize_EventOfDeletedObject_GeneratedNameInMessageIsReplaced()
    {
        // The Job and its pod are gone (TTL); only the event names the pod.
        var ev = Parse("""
            {"kind":"Event","metadata":{"name":"ttl.17a","namespace":"ns-1"},"involvedObject":{"kind":"Job","name":"ttl"},
             "reason":"SuccessfulCreate","message":"Created pod: ttl-zh5mq"}
            """);

        var result = new Normalizer("ns-1", [ev], []).Normalize(ev);

        Assert.Equal("Created pod: ttl-<generated>", (string?)result["message"]);
    }

    [Fact]
    public void Normalize_CronJobsJobsAndTheirPods_ScheduledMinuteIsReplaced()
    {
        var cronJob = Parse("""{"kind":"CronJob","metadata":{"name":"hello","namespace":"ns-1"}}""");
        var job = Parse("""{"kind":"Job","metadata":{"name":"hello-29441295","namespace":"ns-1","uid":"11111111-0000-0000-0000-000000000001"}}""");
        var pod = Parse("""
            {"kind":"Pod","metadata":{"name":"hello-29441295-zx9q8","generateName":"hello-29441295-","namespace":"ns-1",
             "ownerReferences":[{"kind":"Job","name":"hello-29441295","uid":"11111111-0000-0000-0000-000000000001"}]}}
            """);
        var normalizer = new Normalizer("ns-1", [cronJob, job, pod], []);

        Assert.Equal("Job/hello-<scheduled>", normalizer.KeyOf(job));
        Assert.Equal("Pod/hello-<scheduled>-<generated>", normalizer.KeyOf(pod));
        Assert.Equal("<uid Job/hello-<scheduled>>", (string?)normalizer.Normalize(pod)["metadata"]!["ownerReferences"]![0]!["uid"]);
        // A Job the history limit deleted is named only in an event.
        Assert.Equal("Deleted job hello-<scheduled>", normalizer.Text("Deleted job hello-29441290"));
        Assert.Equal("hello-2", normalizer.Text("hello-2"));
    }

    [Fact]
    public void Text_UnknownUid_BecomesPlaceholder()
    {
        var normalizer = new Normalizer("ns-1", [], []);

        Assert.Equal("owner <uid> in <ns>", normalizer.Text("owner 11111111-0000-0000-0000-000000000001 in ns-1"));
    }

    [Fact]
    public void Normalize_Event_KeepsWhatHappenedNotWhenOrHowOften()
    {
        var ev = Parse("""
            {"kind":"Event","metadata":{"name":"web.17a","namespace":"ns-1","uid":"u"},"reason":"ScalingReplicaSet","message":"Scaled up",
             "count":3,"firstTimestamp":"2026-12-06T04:00:00Z","lastTimestamp":"2026-12-06T04:00:09Z","source":{"component":"deployment-controller","host":"h"}}
            """);

        var result = new Normalizer("ns-1", [ev], []).Normalize(ev);

        Assert.Null(result["count"]);
        Assert.Null(result["lastTimestamp"]);
        Assert.Null(result["metadata"]!["name"]);
        Assert.Null(result["source"]!["host"]);
        Assert.Equal("deployment-controller", (string?)result["source"]!["component"]);
    }

    [Fact]
    public void Normalize_IssuedCertificate_IsDescribedWithoutSerialOrInstants()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=alice, O=devs", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, critical: true));
        string Issue(DateTimeOffset notBefore)
        {
            using var cert = request.CreateSelfSigned(notBefore, notBefore.AddHours(1));
            return Convert.ToBase64String(Encoding.ASCII.GetBytes(cert.ExportCertificatePem()));
        }
        JsonObject Csr(string certificate) => new() { ["kind"] = "CertificateSigningRequest", ["metadata"] = new JsonObject { ["name"] = "c" }, ["status"] = new JsonObject { ["certificate"] = certificate } };
        var normalizer = new Normalizer("ns", [], []);

        var first = normalizer.Normalize(Csr(Issue(DateTimeOffset.UtcNow)));
        var second = normalizer.Normalize(Csr(Issue(DateTimeOffset.UtcNow.AddMinutes(3))));

        Assert.Empty(ObjectDiff.Compare(new Dictionary<string, JsonObject> { ["c"] = first }, new Dictionary<string, JsonObject> { ["c"] = second }));
        Assert.Equal(3600, (long)first["status"]!["certificate"]!["lifetimeSeconds"]!);
        Assert.Equal("CN=alice, O=devs", (string?)first["status"]!["certificate"]!["subject"]);
    }

    [Fact]
    public void LabelValues_CollectsEachValueOnce()
    {
        JsonObject WithHash(string hash) => new() { ["metadata"] = new JsonObject { ["labels"] = new JsonObject { ["pod-template-hash"] = hash } } };

        Assert.Equal(["a1", "b2"], Normalizer.LabelValues([WithHash("b2"), WithHash("a1"), WithHash("b2")], "pod-template-hash"));
    }

    [Fact]
    public void SortLists_UnorderedPath_SameItemsInAnyOrderCompareEqual()
    {
        JsonObject Slice(params string[] addresses) => new()
        {
            ["endpoints"] = new JsonArray([.. addresses.Select(a => new JsonObject { ["addresses"] = new JsonArray(a) })]),
            ["ports"] = new JsonArray("b", "a"),
        };

        var first = Normalizer.SortLists(Slice("10.0.0.2", "10.0.0.1"), ["endpoints", "missing.path"]);
        var second = Normalizer.SortLists(Slice("10.0.0.1", "10.0.0.2"), ["endpoints"]);

        Assert.Equal(first.ToJsonString(), second.ToJsonString());
        Assert.Equal("10.0.0.1", (string?)first["endpoints"]![0]!["addresses"]![0]);
        // Lists not named keep their order.
        Assert.Equal(["b", "a"], first["ports"]!.AsArray().Select(p => (string?)p));
    }

    [Fact]
    public void Normalize_ServiceAccountTokenSecret_ComparesClaimsNotSignature()
    {
        static string B64(string text) => Convert.ToBase64String(Encoding.UTF8.GetBytes(text));
        static string B64Url(string json) => B64(json).TrimEnd('=').Replace('+', '-').Replace('/', '_');
        JsonObject Secret(string ns, string uid, string signature) => new()
        {
            ["kind"] = "Secret",
            ["metadata"] = new JsonObject { ["name"] = "t", ["namespace"] = ns },
            ["data"] = new JsonObject
            {
                ["namespace"] = B64(ns),
                ["token"] = B64($"{B64Url("""{"alg":"RS256","kid":"k1"}""")}.{B64Url($$"""{"iss":"kubernetes/serviceaccount","kubernetes.io/serviceaccount/namespace":"{{ns}}","kubernetes.io/serviceaccount/service-account.uid":"{{uid}}"}""")}.{signature}"),
                ["blob"] = Convert.ToBase64String([0xff, 0xfe, 0x00]),
            },
        };
        var sa = (string ns, string uid) => new JsonObject { ["kind"] = "ServiceAccount", ["metadata"] = new JsonObject { ["name"] = "builder", ["namespace"] = ns, ["uid"] = uid } };
        var upstream = Secret("ns-a", "11111111-1111-1111-1111-111111111111", "sigA");
        var ours = Secret("ns-b", "22222222-2222-2222-2222-222222222222", "sigB");

        var first = new Normalizer("ns-a", [upstream, sa("ns-a", "11111111-1111-1111-1111-111111111111")], []).Normalize(upstream);
        var second = new Normalizer("ns-b", [ours, sa("ns-b", "22222222-2222-2222-2222-222222222222")], []).Normalize(ours);

        Assert.Equal(first.ToJsonString(), second.ToJsonString());
        Assert.Equal("<ns>", (string?)first["data"]!["namespace"]);
        Assert.Equal("k1", (string?)first["data"]!["token"]!["jwt header"]!["kid"]);
        Assert.Equal("<uid ServiceAccount/builder>", (string?)first["data"]!["token"]!["jwt claims"]!["kubernetes.io/serviceaccount/service-account.uid"]);
        // Not UTF-8: left as base64.
        Assert.Equal("//4A", (string?)first["data"]!["blob"]);
    }

    [Fact]
    public void Normalize_KeyNamingTheRunsNamespace_IsRewritten()
    {
        var role = new JsonObject
        {
            ["kind"] = "ClusterRole",
            ["metadata"] = new JsonObject { ["name"] = "ns-a-pods", ["labels"] = new JsonObject { ["example.com/aggregate-to-ns-a"] = "true" } },
        };

        var normalized = new Normalizer("ns-a", [role], []).Normalize(role);

        Assert.Equal("true", (string?)normalized["metadata"]!["labels"]!["example.com/aggregate-to-<ns>"]);
        Assert.Equal("<ns>-pods", (string?)normalized["metadata"]!["name"]);
    }
}

using System.Text.Json.Nodes;
using Kcm.Testing;

namespace Kcm.ApiServer.Tests.Kubectl;

/// <summary>
/// The real kubectl against the server: typed commands (protobuf bodies), apply, server-side tables,
/// OpenAPI-backed validation and explain, deletion propagation, RBAC checks and CSR approval.
/// </summary>
public sealed class KubectlTests(KubectlFixture fixture) : IClassFixture<KubectlFixture>
{
    private KubectlRunner K => fixture.Kubectl;

    private const string DeploymentYaml = """
        apiVersion: apps/v1
        kind: Deployment
        metadata:
          name: web
          labels: {app: web}
        spec:
          replicas: 2
          selector:
            matchLabels: {app: web}
          template:
            metadata:
              labels: {app: web}
            spec:
              containers:
              - name: nginx
                image: nginx:1.25
                ports:
                - containerPort: 80
        """;

    private static string[] Lines(string output) => output.Split('\n', StringSplitOptions.RemoveEmptyEntries);

    private static string[] Cells(string line) => line.Split(' ', StringSplitOptions.RemoveEmptyEntries);

    [Fact]
    public async Task CreateConfigMapAndServiceAccount_TypedCommands_ObjectsStoredWithTheirData()
    {
        var ns = await fixture.NewNamespaceAsync();
        Assert.Contains("configmap/settings created", await K.OkAsync("create", "configmap", "settings", "-n", ns, "--from-literal=mode=fast", "--from-literal=level=3"));
        Assert.Contains("serviceaccount/robot created", await K.OkAsync("create", "serviceaccount", "robot", "-n", ns));

        var cm = JsonNode.Parse(await K.OkAsync("get", "configmap", "settings", "-n", ns, "-o", "json"))!;
        Assert.Equal("fast", (string?)cm["data"]!["mode"]);
        Assert.Equal("3", (string?)cm["data"]!["level"]);
        Assert.Null(cm["metadata"]!["generation"]);
        Assert.Equal("robot", await K.OkAsync("get", "sa", "robot", "-n", ns, "-o", "jsonpath={.metadata.name}"));

        var table = Lines(await K.OkAsync("get", "configmap", "settings", "-n", ns));
        Assert.Equal(["NAME", "DATA", "AGE"], Cells(table[0]));
        Assert.Equal(["settings", "2"], Cells(table[1])[..2]);
    }

    [Fact]
    public async Task Apply_ThreeTimes_CreatedThenUnchangedThenOnlyChangedFieldConfigured()
    {
        var ns = await fixture.NewNamespaceAsync();
        Assert.Contains("deployment.apps/web created", (await K.RunWithInputAsync(DeploymentYaml, "apply", "-n", ns, "-f", "-")).Stdout);
        var second = await K.RunWithInputAsync(DeploymentYaml, "apply", "-n", ns, "-f", "-");
        Assert.Contains("deployment.apps/web unchanged", second.Stdout);

        // A field apply does not own must survive the next apply.
        await K.OkAsync("annotate", "deployment", "web", "-n", ns, "owner=someone-else");
        var changed = DeploymentYaml.Replace("nginx:1.25", "nginx:1.26", StringComparison.Ordinal);
        var third = await K.RunWithInputAsync(changed, "apply", "-n", ns, "-f", "-");
        Assert.Contains("deployment.apps/web configured", third.Stdout);

        var d = JsonNode.Parse(await K.OkAsync("get", "deployment", "web", "-n", ns, "-o", "json"))!;
        Assert.Equal("nginx:1.26", (string?)d["spec"]!["template"]!["spec"]!["containers"]![0]!["image"]);
        Assert.Equal(80, (int?)d["spec"]!["template"]!["spec"]!["containers"]![0]!["ports"]![0]!["containerPort"]);
        Assert.Equal(2, (int?)d["spec"]!["replicas"]);
        Assert.Equal("someone-else", (string?)d["metadata"]!["annotations"]!["owner"]);
        Assert.Contains("nginx:1.26", (string?)d["metadata"]!["annotations"]!["kubectl.kubernetes.io/last-applied-configuration"]);
    }

    [Fact]
    public async Task Get_OutputFormatsAndSelectors_ShowUpstreamColumnsAndObjects()
    {
        var ns = await fixture.NewNamespaceAsync();
        var pods = $"""
            apiVersion: v1
            kind: Pod
            metadata: {"{"}name: front, labels: {"{"}tier: front{"}"}{"}"}
            spec: {"{"}containers: [{"{"}name: c, image: busybox{"}"}]{"}"}
            ---
            apiVersion: v1
            kind: Pod
            metadata: {"{"}name: back, labels: {"{"}tier: back{"}"}{"}"}
            spec: {"{"}containers: [{"{"}name: c, image: busybox{"}"}]{"}"}
            """;
        var created = await K.RunWithInputAsync(pods, "create", "-n", ns, "-f", "-");
        Assert.True(created.ExitCode == 0, created.Output);

        var table = Lines(await K.OkAsync("get", "pods", "-n", ns));
        Assert.Equal(["NAME", "READY", "STATUS", "RESTARTS", "AGE"], Cells(table[0]));
        Assert.Equal(["back", "0/1", "Pending", "0"], Cells(table[1])[..4]);

        var wide = Lines(await K.OkAsync("get", "pods", "-n", ns, "-o", "wide", "-l", "tier=front", "--show-labels"));
        Assert.Equal("NAME READY STATUS RESTARTS AGE IP NODE NOMINATED NODE READINESS GATES LABELS", string.Join(' ', Cells(wide[0])));
        Assert.Equal(2, wide.Length);
        Assert.Equal(["front", "0/1", "Pending", "0"], Cells(wide[1])[..4]);
        Assert.EndsWith("<none>   <none>   <none>           <none>            tier=front", wide[1]);

        var all = Lines(await K.OkAsync("get", "pods", "-A"));
        Assert.Equal("NAMESPACE", Cells(all[0])[0]);
        Assert.Contains(all, l => Cells(l) is [var n, "front", ..] && n == ns);

        var yaml = await K.OkAsync("get", "pod", "back", "-n", ns, "-o", "yaml");
        Assert.Contains("kind: Pod", yaml);
        Assert.Contains("tier: back", yaml);
        var list = JsonNode.Parse(await K.OkAsync("get", "pods", "-n", ns, "-o", "json"))!;
        Assert.Equal("List", (string?)list["kind"]);
        Assert.Equal(2, list["items"]!.AsArray().Count);
    }

    [Fact]
    public async Task CreateAndScaleDeployment_TypedCommands_TableAndReplicasFollow()
    {
        var ns = await fixture.NewNamespaceAsync();
        Assert.Contains("deployment.apps/api created", await K.OkAsync("create", "deployment", "api", "-n", ns, "--image=nginx", "--replicas=2"));
        Assert.Contains("deployment.apps/api scaled", await K.OkAsync("scale", "deployment", "api", "-n", ns, "--replicas=5"));
        Assert.Equal("5", await K.OkAsync("get", "deployment", "api", "-n", ns, "-o", "jsonpath={.spec.replicas}"));

        var wide = Lines(await K.OkAsync("get", "deployment", "api", "-n", ns, "-o", "wide"));
        Assert.Equal("NAME READY UP-TO-DATE AVAILABLE AGE CONTAINERS IMAGES SELECTOR", string.Join(' ', Cells(wide[0])));
        var row = Cells(wide[1]);
        Assert.Equal(["api", "0/5", "0", "0"], row[..4]);
        Assert.Equal(["nginx", "nginx", "app=api"], row[^3..]);

        var describe = await K.OkAsync("describe", "deployment", "api", "-n", ns);
        Assert.Contains("Replicas:               5 desired", describe);
        Assert.Contains("Image:         nginx", describe);
    }

    [Fact]
    public async Task Describe_PodAndNode_PrintsTheirDetails()
    {
        var ns = await fixture.NewNamespaceAsync();
        var node = "node-" + Guid.NewGuid().ToString("N")[..8];
        var created = await K.RunWithInputAsync($$$"""
            apiVersion: v1
            kind: Node
            metadata: {name: {{{node}}}, labels: {node-role.kubernetes.io/worker: ""}}
            ---
            apiVersion: v1
            kind: Pod
            metadata: {name: solo, namespace: {{{ns}}}}
            spec: {containers: [{name: main, image: busybox}]}
            """, "create", "-f", "-");
        Assert.True(created.ExitCode == 0, created.Output);
        try
        {
            var pod = await K.OkAsync("describe", "pod", "solo", "-n", ns);
            Assert.Contains("Name:             solo", pod);
            Assert.Contains("Image:        busybox", pod);
            // The service account token volume's section widens this column, as on a real cluster.
            Assert.Matches(@"QoS Class: +BestEffort", pod);
            Assert.Matches(@"kube-api-access-[a-z0-9]{5}:\n +Type: +Projected", pod);

            var described = await K.OkAsync("describe", "node", node);
            Assert.Contains($"Name:               {node}", described);
            Assert.Contains("Roles:              worker", described);

            var nodes = Lines(await K.OkAsync("get", "node", node));
            Assert.Equal("NAME STATUS ROLES AGE VERSION", string.Join(' ', Cells(nodes[0])));
            Assert.Equal([node, "Unknown", "worker"], Cells(nodes[1])[..3]);
        }
        finally
        {
            await K.RunAsync("delete", "node", node, "--wait=false");
        }
    }

    [Theory]
    [InlineData("foreground", "foregroundDeletion")]
    [InlineData("orphan", "orphan")]
    public async Task Delete_Cascade_LeavesTheMatchingFinalizer(string cascade, string finalizer)
    {
        var ns = await fixture.NewNamespaceAsync();
        var applied = await K.RunWithInputAsync(DeploymentYaml, "apply", "-n", ns, "-f", "-");
        Assert.True(applied.ExitCode == 0, applied.Output);
        Assert.Contains("deployment.apps \"web\" deleted", await K.OkAsync("delete", "deployment", "web", "-n", ns, "--cascade=" + cascade, "--wait=false"));
        var meta = JsonNode.Parse(await K.OkAsync("get", "deployment", "web", "-n", ns, "-o", "jsonpath={.metadata}"))!;
        Assert.Equal([finalizer], meta["finalizers"]!.AsArray().Select(f => (string?)f));
        Assert.NotNull(meta["deletionTimestamp"]);
    }

    [Fact]
    public async Task GetWatch_NewObject_PrintedAsATableRowUnderTheSameHeader()
    {
        var ns = await fixture.NewNamespaceAsync();
        await K.OkAsync("create", "configmap", "first", "-n", ns, "--from-literal=a=b");
        // The server ends the watch after --request-timeout, so kubectl exits by itself.
        var watching = K.RunAsync("get", "configmaps", "-n", ns, "-w", "--request-timeout=4s");
        await Task.Delay(1500);
        await K.OkAsync("create", "configmap", "second", "-n", ns);
        var lines = Lines((await watching).Stdout);
        Assert.Equal(["NAME", "DATA", "AGE"], Cells(lines[0]));
        Assert.Equal(["first", "1"], Cells(lines[1])[..2]);
        Assert.Equal(["second", "0"], Cells(lines[^1])[..2]);
        Assert.Single(lines, l => l.StartsWith("NAME", StringComparison.Ordinal));
    }

    [Fact]
    public async Task GetRaw_Healthz_Ok()
        => Assert.Equal("ok", await K.OkAsync("get", "--raw", "/healthz"));

    [Fact]
    public async Task AuthCanI_ServiceAccountTokenBeforeAndAfterBinding_NoThenYes()
    {
        var ns = await fixture.NewNamespaceAsync();
        await K.OkAsync("create", "serviceaccount", "reader", "-n", ns);
        var token = (await K.OkAsync("create", "token", "reader", "-n", ns)).Trim();
        Assert.Equal(3, token.Split('.').Length);
        var asReader = await TokenKubectlAsync(token);

        var denied = await asReader.RunAsync("auth", "can-i", "list", "pods", "-n", ns);
        Assert.Equal(1, denied.ExitCode);
        Assert.Equal("no", denied.Stdout.Trim());

        // A role of our own: the aggregated `view` gets its rules from a controller that a bare apiserver lacks.
        var binding = "reader-" + ns;
        Assert.Contains($"clusterrole.rbac.authorization.k8s.io/{binding} created",
            await K.OkAsync("create", "clusterrole", binding, "--verb=get,list,watch", "--resource=pods"));
        Assert.Contains($"clusterrolebinding.rbac.authorization.k8s.io/{binding} created",
            await K.OkAsync("create", "clusterrolebinding", binding, $"--clusterrole={binding}", $"--serviceaccount={ns}:reader"));
        try
        {
            // A real apiserver's RBAC authorizer reads an informer cache: the binding counts a moment later.
            await Eventually.TrueAsync("the binding lets the reader list pods",
                async () => (await asReader.RunAsync("auth", "can-i", "list", "pods", "-n", ns)).Stdout.Trim() == "yes");
            Assert.Equal("no", (await asReader.RunAsync("auth", "can-i", "delete", "pods", "-n", ns)).Stdout.Trim());
            Assert.Equal("yes", (await K.OkAsync("auth", "can-i", "delete", "pods", "-n", ns)).Trim());
        }
        finally
        {
            await K.RunAsync("delete", "clusterrolebinding", binding);
            await K.RunAsync("delete", "clusterrole", binding);
        }
    }

    [Fact]
    public async Task Certificate_ApproveAndDeny_ConditionColumnFollows()
    {
        var approved = "csr-a-" + Guid.NewGuid().ToString("N")[..8];
        var denied = "csr-d-" + Guid.NewGuid().ToString("N")[..8];
        var request = Convert.ToBase64String(System.Text.Encoding.ASCII.GetBytes(CertificateRequestPem()));
        foreach (var name in (string[])[approved, denied])
        {
            var created = await K.RunWithInputAsync($$$"""
                apiVersion: certificates.k8s.io/v1
                kind: CertificateSigningRequest
                metadata: {name: {{{name}}}}
                spec:
                  request: {{{request}}}
                  signerName: example.com/tests
                  expirationSeconds: 7200
                  usages: [client auth]
                """, "create", "-f", "-");
            Assert.True(created.ExitCode == 0, created.Output);
        }
        try
        {
            Assert.Contains("approved", await K.OkAsync("certificate", "approve", approved));
            Assert.Contains("denied", await K.OkAsync("certificate", "deny", denied));
            var table = Lines(await K.OkAsync("get", "csr", approved, denied));
            Assert.Equal("NAME AGE SIGNERNAME REQUESTOR REQUESTEDDURATION CONDITION", string.Join(' ', Cells(table[0])));
            var rows = table[1..].Select(Cells).ToDictionary(c => c[0]);
            Assert.Equal(["example.com/tests", "admin", "120m", "Approved"], rows[approved][2..]);
            Assert.Equal("Denied", rows[denied][^1]);
            var waited = await K.RunAsync("wait", "--for=condition=Approved", "csr/" + approved, "--timeout=10s");
            Assert.Contains("condition met", waited.Stdout);
        }
        finally
        {
            await K.RunAsync("delete", "csr", approved, denied);
        }
    }

    [Fact]
    public async Task Wait_ForCondition_ReturnsOnceStatusReportsIt()
    {
        var ns = await fixture.NewNamespaceAsync();
        var created = await K.RunWithInputAsync("""
            apiVersion: v1
            kind: Pod
            metadata: {name: slow}
            spec: {containers: [{name: c, image: busybox}]}
            """, "create", "-n", ns, "-f", "-");
        Assert.True(created.ExitCode == 0, created.Output);
        var waiting = K.RunAsync("wait", "--for=condition=Ready", "pod/slow", "-n", ns, "--timeout=20s");
        await Task.Delay(500);
        Assert.False(waiting.IsCompleted);
        await K.OkAsync("patch", "pod", "slow", "-n", ns, "--subresource=status", "--type=merge",
            "-p", """{"status":{"conditions":[{"type":"Ready","status":"True"}]}}""");
        var result = await waiting;
        Assert.True(result.ExitCode == 0, result.Output);
        Assert.Contains("pod/slow condition met", result.Stdout);
    }

    [Fact]
    public async Task Create_InvalidObjects_UpstreamFieldErrors()
    {
        var ns = await fixture.NewNamespaceAsync();
        var pod = await K.RunWithInputAsync("""
            apiVersion: v1
            kind: Pod
            metadata: {name: broken}
            spec: {containers: [{name: c}]}
            """, "create", "-n", ns, "-f", "-");
        Assert.NotEqual(0, pod.ExitCode);
        Assert.Contains("The Pod \"broken\" is invalid: spec.containers[0].image: Required value", pod.Stderr);

        var deployment = await K.RunWithInputAsync(DeploymentYaml.Replace("labels: {app: web}\n    spec:", "labels: {app: other}\n    spec:", StringComparison.Ordinal),
            "create", "-n", ns, "-f", "-");
        Assert.NotEqual(0, deployment.ExitCode);
        Assert.Contains("The Deployment \"web\" is invalid: spec.template.metadata.labels: Invalid value: map[string]string{\"app\":\"other\"}: `selector` does not match template `labels`", deployment.Stderr);

        var service = await K.RunWithInputAsync("""
            apiVersion: v1
            kind: Service
            metadata: {name: portless}
            spec: {selector: {app: x}}
            """, "create", "-n", ns, "-f", "-");
        Assert.Contains("The Service \"portless\" is invalid: spec.ports: Required value", service.Stderr);

        // kubectl's schema-backed validation (from /openapi/v3) rejects unknown fields before the request is sent.
        var unknown = await K.RunWithInputAsync("""
            apiVersion: v1
            kind: ConfigMap
            metadata: {name: typo}
            dataa: {a: b}
            """, "create", "-n", ns, "-f", "-");
        Assert.NotEqual(0, unknown.ExitCode);
        Assert.Contains("dataa", unknown.Stderr);
    }

    [Fact]
    public async Task Explain_DeploymentStrategy_ListsFieldsFromOpenApi()
    {
        var explained = await K.OkAsync("explain", "deployment.spec.strategy");
        Assert.Contains("KIND:       Deployment", explained);
        Assert.Contains("rollingUpdate\t<RollingUpdateDeployment>", explained);
        Assert.Contains("type\t<string>", explained);
    }

    private async Task<KubectlRunner> TokenKubectlAsync(string token)
    {
        var server = (await K.OkAsync("config", "view", "--raw", "--minify", "-o", "jsonpath={.clusters[0].cluster.server}")).Trim();
        var ca = (await K.OkAsync("config", "view", "--raw", "--minify", "-o", "jsonpath={.clusters[0].cluster.certificate-authority-data}")).Trim();
        var path = Path.Combine(fixture.ScratchDirectory, "token-" + Guid.NewGuid().ToString("N")[..12] + ".kubeconfig");
        await File.WriteAllTextAsync(path, $"""
            apiVersion: v1
            kind: Config
            clusters: [{"{"}name: c, cluster: {"{"}server: "{server}", certificate-authority-data: "{ca}"{"}"}{"}"}]
            users: [{"{"}name: u, user: {"{"}token: "{token}"{"}"}{"}"}]
            contexts: [{"{"}name: x, context: {"{"}cluster: c, user: u{"}"}{"}"}]
            current-context: x
            """);
        return fixture.Scope.As(path);
    }

    private static string CertificateRequestPem()
    {
        using var key = System.Security.Cryptography.ECDsa.Create();
        var request = new System.Security.Cryptography.X509Certificates.CertificateRequest("CN=tester", key, System.Security.Cryptography.HashAlgorithmName.SHA256);
        return request.CreateSigningRequestPem();
    }
}

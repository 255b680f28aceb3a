using Kcm.Api.Meta.V1;
using Kcm.Api.Rbac.V1;
using Kcm.Client.Errors;
using Kcm.Controllers.ClusterRoleAggregation;
using Kcm.Controllers.Tests.Support;
using Kcm.Controllers.Tests.Workloads;
using Kcm.Testing;

namespace Kcm.Controllers.Tests.ClusterRoleAggregation;

/// <summary>
/// The aggregation controller as the manager starts it, against the test server (embedded, or the real one
/// KCM_TEST_KUBECONFIG names). Neither server fills admin/edit/view itself, so these pass only with the controller.
/// On a shared real cluster the built-in roles are cluster-wide: the controller writes them as upstream's would,
/// and this class's own roles have unique names and are removed.
/// </summary>
public sealed class ClusterRoleAggregationIntegrationTests : IAsyncLifetime
{
    private readonly string _id = Guid.NewGuid().ToString("N")[..6];
    private readonly WorkloadServer _server = new();
    private ControllerTestHost? _host;

    public async Task InitializeAsync()
    {
        await _server.InitializeAsync();
        _host = new ControllerTestHost(_server, DebugFileLoggerProvider.FromEnvironment());
        var run = ClusterRoleAggregationDescriptor.Value.Start(_host.Context, new ClusterRoleAggregationOptions())
            ?? throw new InvalidOperationException("the clusterrole-aggregation controller declined to start");
        _host.Start(run);
    }

    public async Task DisposeAsync()
    {
        if (_host is not null)
        {
            await _host.DisposeAsync();
        }
        await _server.DisposeAsync();
    }

    [Fact(Timeout = 90_000)]
    public async Task AuthCanI_UserBoundToEdit_AnswersAsUpstream()
    {
        var client = _host!.Client;
        var ns = await TestNamespaces.CreateAsync(client, $"crag{_id}");
        var user = $"crag-{_id}-dana";
        await client.CreateAsync(new RoleBinding
        {
            Metadata = new ObjectMeta { Name = "dana-edit", Namespace = ns },
            RoleRef = new RoleRef { ApiGroup = "rbac.authorization.k8s.io", Kind = "ClusterRole", Name = "edit" },
            Subjects = [new Subject { ApiGroup = "rbac.authorization.k8s.io", Kind = "User", Name = user }],
        }, ns);
        using var scope = new KubectlScope(_server.WriteUserKubeconfig($"dana-{_id}", user));
        var kubectl = scope.Runner;

        // edit takes view's rules only once view itself is filled (view aggregates into edit), so each answer settles
        // on its own; a later ClusterRole event re-syncs edit.
        foreach (var (verb, resource) in new[] { ("create", "deployments.apps"), ("list", "pods"), ("create", "pods/eviction") })
        {
            await Eventually.TrueAsync($"edit lets the user {verb} {resource}", async () =>
                (await kubectl.RunAsync("auth", "can-i", verb, resource, "-n", ns)).Stdout.Trim() == "yes");
        }
        var roles = await kubectl.RunAsync("auth", "can-i", "create", "roles.rbac.authorization.k8s.io", "-n", ns);
        Assert.Equal((1, "no"), (roles.ExitCode, roles.Stdout.Trim()));
        var bindings = await kubectl.RunAsync("auth", "can-i", "create", "rolebindings.rbac.authorization.k8s.io", "-n", ns);
        Assert.Equal("no", bindings.Stdout.Trim());

        // The built-in roles as upstream's controller leaves them: edit and admin include view's rules (view aggregates into edit, edit into admin).
        // admin is re-synced when edit changes, so it may still be catching up with edit's last write.
        var view = await client.GetAsync<ClusterRole>(null, "view");
        Assert.NotEmpty(view.Rules ?? []);
        var admin = await Eventually.GetAsync("admin to include every rule of view", async () =>
        {
            var role = await client.GetAsync<ClusterRole>(null, "admin");
            return view.Rules!.All(r => (role.Rules ?? []).Any(a => SameRule(a, r))) ? role : null;
        });
        if (_server.UsesExternalCluster)
        {
            // The real server serves apply, so the controller writes as upstream's field manager with an Apply.
            Assert.Contains(admin.Metadata!.ManagedFields ?? [], f => f.Manager == ClusterRoleAggregationController.ServiceAccountName && f.Operation == "Apply");
        }
    }

    [Fact(Timeout = 90_000)]
    public async Task CustomRoleLabelledForAdmin_ShowsUpInAdminAndLeavesWithIt()
    {
        var client = _host!.Client;
        var name = $"crag-{_id}-widgets";
        var rule = new PolicyRule { ApiGroups = [$"{_id}.example.com"], Resources = ["widgets"], Verbs = ["get", "list", "watch", "create"] };
        try
        {
            await client.CreateAsync(new ClusterRole
            {
                Metadata = new ObjectMeta { Name = name, Labels = new Dictionary<string, string> { ["rbac.authorization.k8s.io/aggregate-to-admin"] = "true" } },
                Rules = [rule],
            });

            await Eventually.TrueAsync($"admin includes the rule of {name}", async () =>
                (await client.GetAsync<ClusterRole>(null, "admin")).Rules?.Any(r => SameRule(r, rule)) == true);
            var edit = await client.GetAsync<ClusterRole>(null, "edit");
            Assert.DoesNotContain(edit.Rules ?? [], r => SameRule(r, rule));

            // Changing the source role changes the aggregate.
            await client.PatchAsync<ClusterRole>(null, name, Kcm.Client.PatchType.Merge, """{"rules":[{"apiGroups":["__ID__.example.com"],"resources":["gadgets"],"verbs":["get"]}]}""".Replace("__ID__", _id));
            await Eventually.TrueAsync($"admin follows the new rule of {name}", async () =>
            {
                var rules = (await client.GetAsync<ClusterRole>(null, "admin")).Rules ?? [];
                return rules.Any(r => r.Resources?.SequenceEqual(["gadgets"]) == true && r.ApiGroups?.SequenceEqual([$"{_id}.example.com"]) == true)
                    && !rules.Any(r => SameRule(r, rule));
            });

            await client.DeleteAsync<ClusterRole>(null, name);
            await Eventually.TrueAsync($"admin without the rules of the deleted {name}", async () =>
                (await client.GetAsync<ClusterRole>(null, "admin")).Rules?.Any(r => r.ApiGroups?.Contains($"{_id}.example.com") == true) == false);
        }
        finally
        {
            try
            {
                await client.DeleteAsync<ClusterRole>(null, name);
            }
            catch (NotFoundException)
            {
            }
        }
    }

    private static bool SameRule(PolicyRule a, PolicyRule b)
        => Same(a.Verbs, b.Verbs) && Same(a.ApiGroups, b.ApiGroups) && Same(a.Resources, b.Resources)
            && Same(a.ResourceNames, b.ResourceNames) && Same(a.NonResourceURLs, b.NonResourceURLs);

    private static bool Same(List<string>? a, List<string>? b) => (a ?? []).SequenceEqual(b ?? []);
}

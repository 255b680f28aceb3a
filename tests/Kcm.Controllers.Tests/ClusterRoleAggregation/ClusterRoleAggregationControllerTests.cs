using Kcm.Api.Meta.V1;
using Kcm.Api.Rbac.V1;
using Kcm.Client.Errors;
using Kcm.Controllers.ClusterRoleAggregation;
using Kcm.Runtime.Informers;
using Kcm.Runtime.Queues;
using Microsoft.Extensions.Logging.Abstractions;

namespace Kcm.Controllers.Tests.ClusterRoleAggregation;

/// <summary>The aggregation controller without a server (upstream's TestSyncClusterRole cases, with and without apply).</summary>
public sealed class ClusterRoleAggregationControllerTests : IDisposable
{
    private static readonly ObjectKey Combined = new(null, "combined");

    private readonly ThreadSafeStore<ClusterRole> _roles = new(ObjectKey.Of);
    private readonly FakeClusterRoleWriter _writer = new();
    private readonly RateLimitingQueue<ObjectKey> _queue = RateLimitingQueue<ObjectKey>.WithDefaultControllerRateLimiter(new WorkQueueOptions { Name = ClusterRoleAggregationController.QueueName });
    private readonly ClusterRoleAggregationController _controller;

    public ClusterRoleAggregationControllerTests()
    {
        _controller = new ClusterRoleAggregationController(_roles, _writer, _queue, NullLogger.Instance);
    }

    public void Dispose() => _queue.Dispose();

    private static List<PolicyRule> Hammer() => [Rule("hammer", "nails"), Rule("hammer", "wedges")];

    private static List<PolicyRule> Chisel() => [Rule("chisel", "mortises")];

    private static List<PolicyRule> Saw() => [Rule("saw", "boards")];

    public static TheoryData<bool> ApplyServed => new() { true, false };

    [Theory]
    [MemberData(nameof(ApplyServed))]
    public async Task SyncAsync_DeadRules_ReplacedBySelectedRoles(bool applyServed)
    {
        Seed(Role("hammer", "bar", Hammer()), CombinedRole(["bar"], Saw()));

        await SyncAsync(applyServed);

        AssertWritten(applyServed, Hammer());
    }

    [Theory]
    [MemberData(nameof(ApplyServed))]
    public async Task SyncAsync_NothingSelected_RulesStripped(bool applyServed)
    {
        Seed(Role("hammer", "not-bar", Hammer()), CombinedRole(["bar"], Hammer()));

        await SyncAsync(applyServed);

        AssertWritten(applyServed, []);
        Assert.Equal("""{"kind":"ClusterRole","apiVersion":"rbac.authorization.k8s.io/v1","metadata":{"name":"combined"}}""",
            ApiClusterRoleWriter.ApplyPatch("combined", []));
    }

    [Theory]
    [MemberData(nameof(ApplyServed))]
    public async Task SyncAsync_SeveralSelected_RulesInRoleNameOrder(bool applyServed)
    {
        Seed(Role("hammer", "bar", Hammer()), Role("chisel", "bar", Chisel()), Role("saw", "not-bar", Saw()), CombinedRole(["bar"]));

        await SyncAsync(applyServed);

        AssertWritten(applyServed, [.. Chisel(), .. Hammer()]);
    }

    [Theory]
    [MemberData(nameof(ApplyServed))]
    public async Task SyncAsync_MultipleSelectors_EachSelectorsRolesInTurn(bool applyServed)
    {
        Seed(Role("hammer", "bar", Hammer()), Role("chisel", "bar", Chisel()), Role("saw", "not-bar", Saw()), CombinedRole(["bar", "not-bar"]));

        await SyncAsync(applyServed);

        AssertWritten(applyServed, [.. Chisel(), .. Hammer(), .. Saw()]);
    }

    [Theory]
    [MemberData(nameof(ApplyServed))]
    public async Task SyncAsync_EqualRulesInSeveralRoles_KeptOnce(bool applyServed)
    {
        Seed(Role("hammer", "bar", Hammer()), Role("chisel", "bar", Chisel()), Role("saw", "bar", Saw()), Role("other-saw", "not-bar", Saw()),
            CombinedRole(["bar", "not-bar"]));

        await SyncAsync(applyServed);

        AssertWritten(applyServed, [.. Chisel(), .. Hammer(), .. Saw()]);
    }

    [Fact]
    public async Task SyncAsync_RulesAlreadyAggregated_WritesNothing()
    {
        Seed(Role("hammer", "bar", Hammer()), CombinedRole(["bar"], Hammer()));

        await SyncAsync(applyServed: true);

        Assert.Empty(_writer.Applies);
        Assert.Empty(_writer.Updates);
    }

    [Fact]
    public async Task SyncAsync_NoMatchAndRulesAbsent_WritesNothing()
    {
        // Semantic equality: the empty result equals a role whose rules are null.
        Seed(Role("hammer", "not-bar", Hammer()), CombinedRole(["bar"]));

        await SyncAsync(applyServed: true);

        Assert.Empty(_writer.Applies);
    }

    [Fact]
    public async Task SyncAsync_SameRuleWithListsInOtherOrder_KeptTwice()
    {
        // Semantic DeepEqual compares lists in order, so these two rules are different rules.
        Seed(Role("a", "bar", [new PolicyRule { Verbs = ["get", "list"], Resources = ["pods"] }]),
            Role("b", "bar", [new PolicyRule { Verbs = ["list", "get"], Resources = ["pods"], ApiGroups = [] }]),
            CombinedRole(["bar"]));

        await SyncAsync(applyServed: true);

        Assert.Equal(2, Assert.Single(_writer.Applies).Rules.Count);
    }

    [Fact]
    public async Task SyncAsync_EmptySelectorMatchingItself_SkipsOwnRules()
    {
        var combined = CombinedRole([], Saw());
        combined.AggregationRule!.ClusterRoleSelectors = [new LabelSelector()];
        Seed(Role("hammer", "any", Hammer()), combined);

        await SyncAsync(applyServed: true);

        AssertWritten(true, Hammer());
    }

    [Fact]
    public async Task SyncAsync_RoleWithoutAggregationRuleOrMissing_WritesNothing()
    {
        Seed(Role("hammer", "bar", Hammer()));

        await _controller.SyncAsync(new ObjectKey(null, "hammer"), CancellationToken.None);
        await _controller.SyncAsync(Combined, CancellationToken.None);

        Assert.Empty(_writer.Applies);
    }

    [Fact]
    public async Task SyncAsync_InvalidSelector_Throws()
    {
        var combined = CombinedRole([]);
        combined.AggregationRule!.ClusterRoleSelectors = [new LabelSelector { MatchExpressions = [new LabelSelectorRequirement { Key = "a", Operator = "Near" }] }];
        Seed(Role("hammer", "bar", Hammer()), combined);

        await Assert.ThrowsAnyAsync<Exception>(() => _controller.SyncAsync(Combined, CancellationToken.None));
        Assert.Empty(_writer.Applies);
    }

    [Fact]
    public async Task SyncAsync_ApplyFailsOtherwise_NoFallback()
    {
        Seed(Role("hammer", "bar", Hammer()), CombinedRole(["bar"]));
        _writer.ApplyError = KubeApiErrors.FromStatus(new Kcm.Api.Meta.V1.Status { Reason = "Conflict", Code = 409 }, 409);

        await Assert.ThrowsAsync<ConflictException>(() => _controller.SyncAsync(Combined, CancellationToken.None));
        Assert.Empty(_writer.Updates);
    }

    [Fact]
    public void EnqueueAggregatingRoles_AnyChange_QueuesEveryAggregatingRoleOnly()
    {
        var other = CombinedRole(["x"]);
        other.Metadata!.Name = "other";
        Seed(Role("hammer", "bar", Hammer()), CombinedRole(["bar"]), other);

        _controller.EnqueueAggregatingRoles();

        var queued = new List<ObjectKey>();
        while (_queue.TryTake(out var key))
        {
            queued.Add(key);
        }
        Assert.Equal(["combined", "other"], queued.Select(k => k.Name).Order(StringComparer.Ordinal));
    }

    [Fact]
    public void ApplyPatch_Rule_OnlyNonEmptyListsInApplyConfigurationOrder()
    {
        var patch = ApiClusterRoleWriter.ApplyPatch("admin", [new PolicyRule { ApiGroups = [""], Resources = ["pods"], Verbs = ["get"], ResourceNames = [] }]);

        Assert.Equal("""{"kind":"ClusterRole","apiVersion":"rbac.authorization.k8s.io/v1","metadata":{"name":"admin"},"rules":[{"verbs":["get"],"apiGroups":[""],"resources":["pods"]}]}""", patch);
    }

    [Fact]
    public void WithRules_CachedRole_KeepsOtherFieldsAndLeavesCacheAlone()
    {
        var cached = CombinedRole(["bar"], Saw());
        cached.Metadata!.ResourceVersion = "12";

        var updated = ApiClusterRoleWriter.WithRules(cached, Hammer());

        Assert.Equal("12", updated.Metadata!.ResourceVersion);
        Assert.NotNull(updated.AggregationRule);
        Assert.Equal(2, updated.Rules!.Count);
        Assert.Single(cached.Rules!);
        Assert.Null(ApiClusterRoleWriter.WithRules(cached, []).Rules);
    }

    private async Task SyncAsync(bool applyServed)
    {
        if (!applyServed)
        {
            _writer.ApplyError = KubeApiErrors.FromStatus(new Kcm.Api.Meta.V1.Status { Reason = "UnsupportedMediaType", Code = 415 }, 415);
        }
        await _controller.SyncAsync(Combined, CancellationToken.None);
    }

    private void AssertWritten(bool applyServed, List<PolicyRule> expected)
    {
        var apply = Assert.Single(_writer.Applies);
        Assert.Equal("combined", apply.Name);
        Assert.Equal(Describe(expected), Describe(apply.Rules));
        if (applyServed)
        {
            Assert.Empty(_writer.Updates);
            return;
        }
        var update = Assert.Single(_writer.Updates);
        Assert.Equal("combined", update.Cached.Metadata!.Name);
        Assert.Equal(Describe(expected), Describe(update.Rules));
    }

    private static string Describe(IEnumerable<PolicyRule> rules)
        => string.Join(";", rules.Select(r => string.Join(",", r.Verbs ?? []) + "/" + string.Join(",", r.Resources ?? [])));

    private void Seed(params ClusterRole[] roles)
    {
        foreach (var role in roles)
        {
            _roles.Upsert(role);
        }
    }

    private static PolicyRule Rule(string verb, string resource) => new() { Verbs = [verb], Resources = [resource] };

    private static ClusterRole Role(string name, string foo, List<PolicyRule> rules) => new()
    {
        Metadata = new ObjectMeta { Name = name, Labels = new Dictionary<string, string> { ["foo"] = foo } },
        Rules = rules,
    };

    private static ClusterRole CombinedRole(string[] foos, params List<PolicyRule>[] rules) => new()
    {
        Metadata = new ObjectMeta { Name = "combined" },
        AggregationRule = new AggregationRule
        {
            ClusterRoleSelectors = foos.Select(f => new LabelSelector { MatchLabels = new Dictionary<string, string> { ["foo"] = f } }).ToList(),
        },
        Rules = rules.Length == 0 ? null : rules.SelectMany(r => r).ToList(),
    };

    private sealed class FakeClusterRoleWriter : IClusterRoleWriter
    {
        public List<(string Name, IReadOnlyList<PolicyRule> Rules)> Applies { get; } = [];

        public List<(ClusterRole Cached, IReadOnlyList<PolicyRule> Rules)> Updates { get; } = [];

        public Exception? ApplyError { get; set; }

        public Task ApplyAsync(string name, IReadOnlyList<PolicyRule> rules, CancellationToken cancellationToken)
        {
            Applies.Add((name, rules));
            return ApplyError is null ? Task.CompletedTask : Task.FromException(ApplyError);
        }

        public Task UpdateAsync(ClusterRole cached, IReadOnlyList<PolicyRule> rules, CancellationToken cancellationToken)
        {
            Updates.Add((cached, rules));
            return Task.CompletedTask;
        }
    }
}

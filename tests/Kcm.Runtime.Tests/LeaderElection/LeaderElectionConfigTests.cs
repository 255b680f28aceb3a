using Kcm.Runtime.LeaderElection;

namespace Kcm.Runtime.Tests.LeaderElection;

public sealed class LeaderElectionConfigTests
{
    private static readonly LeaderCallbacks Callbacks = new()
    {
        OnStartedLeading = _ => Task.CompletedTask,
        OnStoppedLeading = () => { },
    };

    private static LeaderElectionConfig Valid(string identity = "me") => new()
    {
        Lock = new InMemoryLock(new InMemoryLockStore(TimeProvider.System), identity),
        LeaseDuration = TimeSpan.FromSeconds(15),
        RenewDeadline = TimeSpan.FromSeconds(10),
        RetryPeriod = TimeSpan.FromSeconds(2),
        Callbacks = Callbacks,
    };

    public static TheoryData<string, double, double, double, string> Durations => new()
    {
        { "lease equal to renew", 10, 10, 2, "leaseDuration must be greater than renewDeadline" },
        { "lease below renew", 5, 10, 2, "leaseDuration must be greater than renewDeadline" },
        { "renew equal to retry*1.2", 15, 2.4, 2, "renewDeadline must be greater than retryPeriod*JitterFactor" },
        { "renew below retry*1.2", 15, 2.3, 2, "renewDeadline must be greater than retryPeriod*JitterFactor" },
        { "zero lease", 0, -1, -2, "leaseDuration must be greater than zero" },
        { "zero renew", 1, 0, -1, "renewDeadline must be greater than zero" },
        { "zero retry", 2, 1, 0, "retryPeriod must be greater than zero" },
    };

    [Theory]
    [MemberData(nameof(Durations))]
    public void Validate_BadDurations_ThrowsUpstreamMessage(string situation, double lease, double renew, double retry, string message)
    {
        var config = Valid() with
        {
            LeaseDuration = TimeSpan.FromSeconds(lease),
            RenewDeadline = TimeSpan.FromSeconds(renew),
            RetryPeriod = TimeSpan.FromSeconds(retry),
        };
        var error = Assert.Throws<LeaderElectionConfigException>(config.Validate);
        Assert.True(error.Message.StartsWith(message, StringComparison.Ordinal), $"{situation}: {error.Message}");
    }

    [Theory]
    [InlineData(15, 10, 2)]
    [InlineData(2, 1.5, 0.3)]
    [InlineData(137, 107, 26)]
    [InlineData(2, 1.21, 1)]
    public void Validate_SaneDurations_Passes(double lease, double renew, double retry)
    {
        var config = Valid() with
        {
            LeaseDuration = TimeSpan.FromSeconds(lease),
            RenewDeadline = TimeSpan.FromSeconds(renew),
            RetryPeriod = TimeSpan.FromSeconds(retry),
        };
        config.Validate();
        _ = new LeaderElector(config);
    }

    [Fact]
    public void Validate_MissingPieces_ThrowsUpstreamMessages()
    {
        Assert.Equal("OnStartedLeading callback must not be nil",
            Assert.Throws<LeaderElectionConfigException>(() => new LeaderElector(Valid() with { Callbacks = Callbacks with { OnStartedLeading = null } })).Message);
        Assert.Equal("OnStoppedLeading callback must not be nil",
            Assert.Throws<LeaderElectionConfigException>(() => new LeaderElector(Valid() with { Callbacks = Callbacks with { OnStoppedLeading = null } })).Message);
        Assert.Equal("Lock must not be nil",
            Assert.Throws<LeaderElectionConfigException>(() => new LeaderElector(Valid() with { Lock = null })).Message);
        Assert.Equal("Lock identity is empty",
            Assert.Throws<LeaderElectionConfigException>(() => new LeaderElector(Valid(identity: ""))).Message);
    }

    [Fact]
    public void Defaults_MatchCoreComponents()
    {
        var config = new LeaderElectionConfig();
        Assert.Equal(TimeSpan.FromSeconds(15), config.LeaseDuration);
        Assert.Equal(TimeSpan.FromSeconds(10), config.RenewDeadline);
        Assert.Equal(TimeSpan.FromSeconds(2), config.RetryPeriod);
        Assert.False(config.ReleaseOnCancel);
    }

    [Fact]
    public void Create_UnknownLockType_Throws()
    {
        using var client = new Kcm.Client.KubeApiClient(new Kcm.Client.Config.ClientConfig { Server = new Uri("https://127.0.0.1:1") });
        var error = Assert.Throws<InvalidLockTypeException>(() => ResourceLocks.Create("secrets", "kube-system", "kcm", client, "me"));
        Assert.StartsWith("Invalid lock-type secrets", error.Message);
        Assert.IsType<MultiLock>(ResourceLocks.Create(ResourceLocks.EndpointsLeases, "kube-system", "kcm", client, "me"));
        Assert.IsType<LeaseLock>(ResourceLocks.Create(ResourceLocks.Leases, "kube-system", "kcm", client, "me"));
    }

    [Fact]
    public void Identity_Create_IsHostnameUnderscoreUuid()
    {
        var identity = LeaderElectionIdentity.Create("master-1.example");
        Assert.Matches("^master-1\\.example_[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", identity);
        Assert.NotEqual(identity, LeaderElectionIdentity.Create("master-1.example"));
    }
}

using Kcm.Runtime.LeaderElection;

namespace Kcm.Runtime.Tests.LeaderElection;

public sealed class LeaderElectionRecordTests
{
    [Fact]
    public void Serialize_Record_UpstreamAnnotationShape()
    {
        var record = new LeaderElectionRecord
        {
            HolderIdentity = "m1_6c1f9a2e-5b4d-11e9-8647-d663bd873d93",
            LeaseDurationSeconds = 15,
            AcquireTime = new DateTimeOffset(2018, 12, 9, 1, 38, 24, 512, TimeSpan.Zero),
            RenewTime = new DateTimeOffset(2018, 12, 9, 2, 42, 38, TimeSpan.FromHours(1)),
            LeaderTransitions = 1,
        };
        Assert.Equal(
            "{\"holderIdentity\":\"m1_6c1f9a2e-5b4d-11e9-8647-d663bd873d93\",\"leaseDurationSeconds\":15," +
            "\"acquireTime\":\"2018-12-09T01:38:24Z\",\"renewTime\":\"2018-12-09T01:42:38Z\",\"leaderTransitions\":1}",
            LeaderElectionRecordJson.Serialize(record));
    }

    [Fact]
    public void Serialize_ReleasedRecordWithoutTimes_NullTimesAndEmptyHolder()
    {
        Assert.Equal(
            "{\"holderIdentity\":\"\",\"leaseDurationSeconds\":0,\"acquireTime\":null,\"renewTime\":null,\"leaderTransitions\":0}",
            LeaderElectionRecordJson.Serialize(new LeaderElectionRecord()));
    }

    [Fact]
    public void Deserialize_UpstreamRecord_RoundTrips()
    {
        const string json = "{\"holderIdentity\":\"m1_x\",\"leaseDurationSeconds\":15,\"acquireTime\":\"2018-12-09T01:38:24Z\",\"renewTime\":\"2018-12-09T01:42:38Z\",\"leaderTransitions\":3}";
        var record = LeaderElectionRecordJson.Deserialize(json);
        Assert.Equal("m1_x", record.HolderIdentity);
        Assert.Equal(15, record.LeaseDurationSeconds);
        Assert.Equal(new DateTimeOffset(2018, 12, 9, 1, 38, 24, TimeSpan.Zero), record.AcquireTime);
        Assert.Equal(new DateTimeOffset(2018, 12, 9, 1, 42, 38, TimeSpan.Zero), record.RenewTime);
        Assert.Equal(3, record.LeaderTransitions);
        Assert.Equal(json, LeaderElectionRecordJson.Serialize(record));
    }

    [Fact]
    public void Deserialize_NullsMissingAndUnknownFields_ZeroValues()
    {
        var record = LeaderElectionRecordJson.Deserialize("{\"holderIdentity\":\"a\",\"acquireTime\":null,\"strategy\":\"OldestEmulationVersion\",\"renewTime\":\"2020-01-01T00:00:00+02:00\"}");
        Assert.Equal("a", record.HolderIdentity);
        Assert.Equal(0, record.LeaseDurationSeconds);
        Assert.Null(record.AcquireTime);
        Assert.Equal(new DateTimeOffset(2019, 12, 31, 22, 0, 0, TimeSpan.Zero), record.RenewTime);
    }

    [Theory]
    [InlineData("not json")]
    [InlineData("[]")]
    [InlineData("{\"leaseDurationSeconds\":\"15\"}")]
    [InlineData("{\"renewTime\":\"yesterday\"}")]
    public void Deserialize_Garbage_ThrowsFormatException(string json)
        => Assert.Throws<LeaderElectionRecordFormatException>(() => LeaderElectionRecordJson.Deserialize(json));
}

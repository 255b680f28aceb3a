using Kcm.Api.Core.V1;
using Kcm.Api.Meta.V1;
using Kcm.Runtime.Events;
using Kcm.Testing;

namespace Kcm.Runtime.Tests.Events;

public sealed class EventCorrelatorTests
{
    private readonly FakeTimeProvider _clock = new();

    private Event NewEvent(string message, string reason = "SuccessfulCreate", string name = "web-rs") => new()
    {
        Metadata = new ObjectMeta { Name = $"{name}.{Guid.NewGuid():N}", Namespace = "default" },
        InvolvedObject = new ObjectReference { Kind = "ReplicaSet", Namespace = "default", Name = name, Uid = "uid-" + name, ApiVersion = "apps/v1" },
        Reason = reason,
        Message = message,
        Type = EventTypes.Normal,
        Source = new EventSource { Component = "replicaset-controller" },
        Count = 1,
        FirstTimestamp = _clock.GetUtcNow(),
        LastTimestamp = _clock.GetUtcNow(),
    };

    [Fact]
    public void Correlate_RepeatOfWrittenEvent_PatchesCountOfTheSameEvent()
    {
        var correlator = new EventCorrelator(_clock);
        var first = correlator.Correlate(NewEvent("Created pod: a"));
        Assert.Null(first.Patch);
        first.Event.Metadata!.ResourceVersion = "7";
        correlator.Written(first.Event);

        _clock.Advance(TimeSpan.FromSeconds(5));
        var repeat = correlator.Correlate(NewEvent("Created pod: a"));

        Assert.False(repeat.Skip);
        Assert.NotNull(repeat.Patch);
        Assert.Equal(first.Event.Metadata.Name, repeat.Event.Metadata!.Name);
        Assert.Equal(2, repeat.Event.Count);
        Assert.Contains("\"count\":2", repeat.Patch);
    }

    [Fact]
    public void Correlate_TenDistinctMessagesForOneObject_CombinesFromTheTenth()
    {
        var correlator = new EventCorrelator(_clock);
        for (var i = 0; i < EventCorrelator.AggregateMaxEvents - 1; i++)
        {
            var separate = correlator.Correlate(NewEvent($"Created pod: p{i}"));
            Assert.Equal($"Created pod: p{i}", separate.Event.Message);
            correlator.Written(separate.Event);
        }

        var combined = correlator.Correlate(NewEvent("Created pod: p9"));
        correlator.Written(combined.Event);
        var next = correlator.Correlate(NewEvent("Created pod: p10"));

        Assert.Equal("(combined from similar events): Created pod: p9", combined.Event.Message);
        Assert.Null(combined.Patch);
        Assert.NotNull(next.Patch);
        Assert.Equal("(combined from similar events): Created pod: p10", next.Event.Message);
        Assert.Equal(2, next.Event.Count);
    }

    [Fact]
    public void Correlate_MoreThanBurstForOneObject_DropsUntilRefill()
    {
        var correlator = new EventCorrelator(_clock);
        for (var i = 0; i < EventCorrelator.SpamBurst; i++)
        {
            Assert.False(correlator.Correlate(NewEvent("same")).Skip);
        }

        Assert.True(correlator.Correlate(NewEvent("same")).Skip);
        Assert.False(correlator.Correlate(NewEvent("same", name: "other-rs")).Skip);
        _clock.Advance(EventCorrelator.SpamRefillInterval);
        Assert.False(correlator.Correlate(NewEvent("same")).Skip);
        Assert.True(correlator.Correlate(NewEvent("same")).Skip);
    }
}

using Kcm.Testing;
using Kcm.Runtime.Controllers;
using Kcm.Runtime.Tests.Support;

namespace Kcm.Runtime.Tests.Controllers;

public sealed class ControllerExpectationsTests
{
    [Fact]
    public void SatisfiedExpectations_NothingRecorded_True()
    {
        var expectations = new ControllerExpectations(new FakeTimeProvider());

        Assert.True(expectations.SatisfiedExpectations("ns/rs"));
        Assert.Null(expectations.Get("ns/rs"));
    }

    [Fact]
    public void SatisfiedExpectations_CreationsObservedOneByOne_TrueOnlyAfterLast()
    {
        var expectations = new ControllerExpectations(new FakeTimeProvider());
        expectations.ExpectCreations("ns/rs", 3);

        expectations.CreationObserved("ns/rs");
        expectations.CreationObserved("ns/rs");
        Assert.False(expectations.SatisfiedExpectations("ns/rs"));
        Assert.Equal((1L, 0L), expectations.Get("ns/rs"));

        expectations.CreationObserved("ns/rs");
        Assert.True(expectations.SatisfiedExpectations("ns/rs"));
    }

    [Fact]
    public void SatisfiedExpectations_DeletionsPending_FalseUntilObserved()
    {
        var expectations = new ControllerExpectations(new FakeTimeProvider());
        expectations.ExpectDeletions("ns/rs", 1);

        Assert.False(expectations.SatisfiedExpectations("ns/rs"));
        expectations.DeletionObserved("ns/rs");
        Assert.True(expectations.SatisfiedExpectations("ns/rs"));
    }

    [Fact]
    public void SatisfiedExpectations_PendingForMoreThanFiveMinutes_Expires()
    {
        var clock = new FakeTimeProvider();
        var expectations = new ControllerExpectations(clock);
        expectations.ExpectCreations("ns/rs", 2);

        clock.Advance(TimeSpan.FromMinutes(5));
        Assert.False(expectations.SatisfiedExpectations("ns/rs"));
        clock.Advance(TimeSpan.FromSeconds(1));
        Assert.True(expectations.SatisfiedExpectations("ns/rs"));
    }

    [Fact]
    public void ExpectCreations_Again_RestartsTimeout()
    {
        var clock = new FakeTimeProvider();
        var expectations = new ControllerExpectations(clock);
        expectations.ExpectCreations("ns/rs", 1);
        clock.Advance(TimeSpan.FromMinutes(4));

        expectations.ExpectCreations("ns/rs", 1);
        clock.Advance(TimeSpan.FromMinutes(4));

        Assert.False(expectations.SatisfiedExpectations("ns/rs"));
    }

    [Fact]
    public void CreationObserved_NoRecord_StaysUnrecorded()
    {
        var expectations = new ControllerExpectations(new FakeTimeProvider());

        expectations.CreationObserved("ns/rs");

        Assert.Null(expectations.Get("ns/rs"));
        Assert.True(expectations.SatisfiedExpectations("ns/rs"));
    }

    [Fact]
    public void DeleteExpectations_Pending_SatisfiedAfterwards()
    {
        var expectations = new ControllerExpectations(new FakeTimeProvider());
        expectations.SetExpectations("ns/rs", 2, 2);
        expectations.RaiseExpectations("ns/rs", 1, 0);
        Assert.Equal((3L, 2L), expectations.Get("ns/rs"));

        expectations.DeleteExpectations("ns/rs");

        Assert.True(expectations.SatisfiedExpectations("ns/rs"));
    }
}

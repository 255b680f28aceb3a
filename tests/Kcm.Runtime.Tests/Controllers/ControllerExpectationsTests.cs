using Kcm.Runtime.Informers;
using Kcm.Testing;
using Kcm.Runtime.Controllers;
using Kcm.Runtime.Tests.Support;

namespace Kcm.Runtime.Tests.Controllers;

public sealed class ControllerExpectationsTests
{
    private static ObjectKey Key(string name) => new("ns", name);

    [Fact]
    public void SatisfiedExpectations_NothingRecorded_True()
    {
        var expectations = new ControllerExpectations(new FakeTimeProvider());

        Assert.True(expectations.SatisfiedExpectations(Key("rs")));
        Assert.Null(expectations.Get(Key("rs")));
    }

    [Fact]
    public void SatisfiedExpectations_CreationsObservedOneByOne_TrueOnlyAfterLast()
    {
        var expectations = new ControllerExpectations(new FakeTimeProvider());
        expectations.ExpectCreations(Key("rs"), 3);

        expectations.CreationObserved(Key("rs"));
        expectations.CreationObserved(Key("rs"));
        Assert.False(expectations.SatisfiedExpectations(Key("rs")));
        Assert.Equal((1L, 0L), expectations.Get(Key("rs")));

        expectations.CreationObserved(Key("rs"));
        Assert.True(expectations.SatisfiedExpectations(Key("rs")));
    }

    [Fact]
    public void SatisfiedExpectations_DeletionsPending_FalseUntilObserved()
    {
        var expectations = new ControllerExpectations(new FakeTimeProvider());
        expectations.ExpectDeletions(Key("rs"), 1);

        Assert.False(expectations.SatisfiedExpectations(Key("rs")));
        expectations.DeletionObserved(Key("rs"));
        Assert.True(expectations.SatisfiedExpectations(Key("rs")));
    }

    [Fact]
    public void SatisfiedExpectations_PendingForMoreThanFiveMinutes_Expires()
    {
        var clock = new FakeTimeProvider();
        var expectations = new ControllerExpectations(clock);
        expectations.ExpectCreations(Key("rs"), 2);

        clock.Advance(TimeSpan.FromMinutes(5));
        Assert.False(expectations.SatisfiedExpectations(Key("rs")));
        clock.Advance(TimeSpan.FromSeconds(1));
        Assert.True(expectations.SatisfiedExpectations(Key("rs")));
    }

    [Fact]
    public void ExpectCreations_Again_RestartsTimeout()
    {
        var clock = new FakeTimeProvider();
        var expectations = new ControllerExpectations(clock);
        expectations.ExpectCreations(Key("rs"), 1);
        clock.Advance(TimeSpan.FromMinutes(4));

        expectations.ExpectCreations(Key("rs"), 1);
        clock.Advance(TimeSpan.FromMinutes(4));

        Assert.False(expectations.SatisfiedExpectations(Key("rs")));
    }

    [Fact]
    public void CreationObserved_NoRecord_StaysUnrecorded()
    {
        var expectations = new ControllerExpectations(new FakeTimeProvider());

        expectations.CreationObserved(Key("rs"));

        Assert.Null(expectations.Get(Key("rs")));
        Assert.True(expectations.SatisfiedExpectations(Key("rs")));
    }

    [Fact]
    public void DeleteExpectations_Pending_SatisfiedAfterwards()
    {
        var expectations = new ControllerExpectations(new FakeTimeProvider());
        expectations.SetExpectations(Key("rs"), 2, 2);
        expectations.RaiseExpectations(Key("rs"), 1, 0);
        Assert.Equal((3L, 2L), expectations.Get(Key("rs")));

        expectations.DeleteExpectations(Key("rs"));

        Assert.True(expectations.SatisfiedExpectations(Key("rs")));
    }
}

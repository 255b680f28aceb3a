using Kcm.Api.Autoscaling.V2;
using Kcm.Controllers.PodAutoscaling;
using Kcm.Testing;

namespace Kcm.Controllers.Tests.PodAutoscaling;

public sealed class ScalingBehaviorTests
{
    private static NormalizationArgs Args(int current, int desired, HPAScalingRules? up = null, HPAScalingRules? down = null, int min = 1, int max = 100)
    {
        var scaleDown = ScalingHistory.DefaultedRules(down, scaleUp: false);
        scaleDown.StabilizationWindowSeconds ??= 300;
        return new("ns/web", ScalingHistory.DefaultedRules(up, scaleUp: true), scaleDown, min, max, current, desired);
    }

    [Theory]
    [InlineData(1, 4)] // at least 4
    [InlineData(2, 4)]
    [InlineData(3, 6)] // at most double
    [InlineData(10, 20)]
    public void ConvertWithRules_FarAboveCurrent_LimitedToDoubleOrFour(int current, int expected)
    {
        var limited = ScalingHistory.ConvertWithRules(current, 1000, 1, 100);

        Assert.Equal((expected, "ScaleUpLimit"), (limited.Replicas, limited.Reason));
    }

    [Fact]
    public void ConvertWithRules_BelowMinimum_TooFewReplicas()
        => Assert.Equal(new Limited(2, "TooFewReplicas", "the desired replica count is less than the minimum replica count"), ScalingHistory.ConvertWithRules(5, 1, 2, 10));

    [Fact]
    public void Stabilize_LowerRecommendationWithinWindow_KeepsHighest()
    {
        var time = new FakeTimeProvider();
        var history = new ScalingHistory(time, TimeSpan.FromMinutes(5));
        history.RecordInitialRecommendation(6, "ns/web");

        Assert.Equal(6, history.Stabilize("ns/web", 2));
        time.Advance(TimeSpan.FromMinutes(5) + TimeSpan.FromSeconds(1));
        // Both earlier recommendations are out of the window now.
        Assert.Equal(1, history.Stabilize("ns/web", 1));
    }

    [Fact]
    public void ConvertWithBehaviorRate_DefaultScaleUp_AllowsFourPodsOrDoubleWithinPeriod()
    {
        var history = new ScalingHistory(new FakeTimeProvider(), TimeSpan.FromMinutes(5));

        Assert.Equal(new Limited(6, "ScaleUpLimit", "the desired replica count is increasing faster than the maximum scale rate"), history.ConvertWithBehaviorRate(Args(2, 12)));
        Assert.Equal(20, history.ConvertWithBehaviorRate(Args(10, 30)).Replicas);
        Assert.Equal(new Limited(6, "TooManyReplicas", "the desired replica count is more than the maximum replica count"), history.ConvertWithBehaviorRate(Args(2, 12, max: 6)));
    }

    [Fact]
    public void ConvertWithBehaviorRate_RecentScaleUpInPeriod_CountsAgainstTheLimit()
    {
        var time = new FakeTimeProvider();
        var history = new ScalingHistory(time, TimeSpan.FromMinutes(5));
        var up = new HPAScalingRules { Policies = [new HPAScalingPolicy { Type = "Pods", Value = 2, PeriodSeconds = 60 }] };
        var behavior = new HorizontalPodAutoscalerBehavior { ScaleUp = up };
        history.StoreScaleEvent(behavior, "ns/web", 2, 4);

        time.Advance(TimeSpan.FromSeconds(30));
        Assert.Equal(4, history.ConvertWithBehaviorRate(Args(4, 10, up: up)).Replicas);
        time.Advance(TimeSpan.FromSeconds(31));
        Assert.Equal(6, history.ConvertWithBehaviorRate(Args(4, 10, up: up)).Replicas);
    }

    [Theory]
    [InlineData("Max", 5)] // the policy that removes most: 50% of 10
    [InlineData("Min", 8)] // the one that removes least: 2 pods
    [InlineData("Disabled", 10)]
    public void ConvertWithBehaviorRate_ScaleDownSelectPolicy_PicksByChange(string select, int expected)
    {
        var history = new ScalingHistory(new FakeTimeProvider(), TimeSpan.FromMinutes(5));
        var down = new HPAScalingRules
        {
            SelectPolicy = select,
            Policies = [new HPAScalingPolicy { Type = "Pods", Value = 2, PeriodSeconds = 60 }, new HPAScalingPolicy { Type = "Percent", Value = 50, PeriodSeconds = 60 }],
        };

        Assert.Equal(expected, history.ConvertWithBehaviorRate(Args(10, 1, down: down)).Replicas);
    }

    [Fact]
    public void StabilizeWithBehaviors_ScaleUpWindow_AppliesLowestRecentRecommendation()
    {
        var time = new FakeTimeProvider();
        var history = new ScalingHistory(time, TimeSpan.FromMinutes(5));
        var up = new HPAScalingRules { StabilizationWindowSeconds = 60 };
        history.StabilizeWithBehaviors(Args(3, 3, up: up));
        time.Advance(TimeSpan.FromSeconds(10));

        var stabilized = history.StabilizeWithBehaviors(Args(3, 8, up: up));

        Assert.Equal(new Limited(3, "ScaleUpStabilized", "recent recommendations were lower than current one, applying the lowest recent recommendation"), stabilized);
        time.Advance(TimeSpan.FromSeconds(61));
        Assert.Equal(8, history.StabilizeWithBehaviors(Args(3, 8, up: up)).Replicas);
    }
}

using Kcm.Api.Autoscaling.V2;

namespace Kcm.Controllers.PodAutoscaling;

/// <summary>A desired count and the ScalingLimited/AbleToScale reason and message that explain it.</summary>
public readonly record struct Limited(int Replicas, string Reason, string Message);

/// <summary>What the behavior normalization works with (upstream's NormalizationArg).</summary>
public sealed record NormalizationArgs(string Key, HPAScalingRules ScaleUp, HPAScalingRules ScaleDown, int MinReplicas, int MaxReplicas, int CurrentReplicas, int DesiredReplicas);

/// <summary>
/// Per-HPA memory of recent recommendations and scale events, and the rules that turn a metric's proposal into the
/// count to apply: stabilization windows (scale down only to the highest recommendation in the window; with
/// behaviors also scale up only to the lowest) and scaling policies (how many pods or what percentage may be added
/// or removed per period). Kept in memory only, as upstream: a new leader starts with an empty history.
/// </summary>
public sealed class ScalingHistory(TimeProvider time, TimeSpan downscaleStabilizationWindow)
{
    private const double ScaleUpLimitFactor = 2.0;
    private const double ScaleUpLimitMinimum = 4.0;

    private readonly record struct Recommendation(int Replicas, DateTimeOffset Timestamp);

    private sealed class ScaleEvent(int change, DateTimeOffset timestamp)
    {
        public int Change = change;
        public DateTimeOffset Timestamp = timestamp;
        public bool Outdated;
    }

    private readonly Lock _lock = new();
    private readonly Dictionary<string, List<Recommendation>> _recommendations = new(StringComparer.Ordinal);
    private readonly Dictionary<string, List<ScaleEvent>> _scaleUpEvents = new(StringComparer.Ordinal);
    private readonly Dictionary<string, List<ScaleEvent>> _scaleDownEvents = new(StringComparer.Ordinal);

    public TimeSpan DownscaleStabilizationWindow => downscaleStabilizationWindow;

    public void Forget(string key)
    {
        lock (_lock)
        {
            _recommendations.Remove(key);
            _scaleUpEvents.Remove(key);
            _scaleDownEvents.Remove(key);
        }
    }

    /// <summary>The first time an HPA is seen, its current count counts as a recommendation.</summary>
    public void RecordInitialRecommendation(int currentReplicas, string key)
    {
        lock (_lock)
        {
            if (!_recommendations.ContainsKey(key))
            {
                _recommendations[key] = [new Recommendation(currentReplicas, time.GetUtcNow())];
            }
        }
    }

    /// <summary>Without behaviors: the highest recommendation within the downscale window; records this one.</summary>
    public int Stabilize(string key, int prenormalized)
    {
        var now = time.GetUtcNow();
        var cutoff = now - downscaleStabilizationWindow;
        var max = prenormalized;
        lock (_lock)
        {
            var list = ListFor(_recommendations, key);
            var oldIndex = -1;
            for (var i = 0; i < list.Count; i++)
            {
                if (list[i].Timestamp < cutoff) oldIndex = i;
                else if (list[i].Replicas > max) max = list[i].Replicas;
            }
            Record(list, oldIndex, new Recommendation(prenormalized, now));
        }
        return max;
    }

    /// <summary>With behaviors: the count held between the lowest recommendation of the scale-up window and the highest of the scale-down window.</summary>
    public Limited StabilizeWithBehaviors(NormalizationArgs args)
    {
        var now = time.GetUtcNow();
        var up = args.DesiredReplicas;
        var upCutoff = now - TimeSpan.FromSeconds(args.ScaleUp.StabilizationWindowSeconds ?? 0);
        var down = args.DesiredReplicas;
        var downCutoff = now - TimeSpan.FromSeconds(args.ScaleDown.StabilizationWindowSeconds ?? 0);
        lock (_lock)
        {
            var list = ListFor(_recommendations, args.Key);
            var oldIndex = -1;
            for (var i = 0; i < list.Count; i++)
            {
                var rec = list[i];
                if (rec.Timestamp > upCutoff) up = Math.Min(rec.Replicas, up);
                if (rec.Timestamp > downCutoff) down = Math.Max(rec.Replicas, down);
                if (rec.Timestamp < upCutoff && rec.Timestamp < downCutoff) oldIndex = i;
            }
            Record(list, oldIndex, new Recommendation(args.DesiredReplicas, now));
        }
        var recommendation = args.CurrentReplicas;
        if (recommendation < up) recommendation = up;
        if (recommendation > down) recommendation = down;
        return args.DesiredReplicas >= args.CurrentReplicas
            ? new(recommendation, "ScaleUpStabilized", "recent recommendations were lower than current one, applying the lowest recent recommendation")
            : new(recommendation, "ScaleDownStabilized", "recent recommendations were higher than current one, applying the highest recent recommendation");
    }

    /// <summary>Applies the policies' rate limits and min/max replicas (stabilization is done separately).</summary>
    public Limited ConvertWithBehaviorRate(NormalizationArgs args)
    {
        lock (_lock)
        {
            var ups = _scaleUpEvents.GetValueOrDefault(args.Key) ?? [];
            var downs = _scaleDownEvents.GetValueOrDefault(args.Key) ?? [];
            if (args.DesiredReplicas > args.CurrentReplicas)
            {
                // Until old events leave the period, never below the current count.
                var limit = Math.Max(ScaleUpLimitWithRules(args.CurrentReplicas, ups, downs, args.ScaleUp), args.CurrentReplicas);
                var (maxAllowed, reason, message) = args.MaxReplicas > limit
                    ? (limit, "ScaleUpLimit", "the desired replica count is increasing faster than the maximum scale rate")
                    : (args.MaxReplicas, "TooManyReplicas", "the desired replica count is more than the maximum replica count");
                if (args.DesiredReplicas > maxAllowed) return new(maxAllowed, reason, message);
            }
            else if (args.DesiredReplicas < args.CurrentReplicas)
            {
                var limit = Math.Min(ScaleDownLimitWithRules(args.CurrentReplicas, ups, downs, args.ScaleDown), args.CurrentReplicas);
                var (minAllowed, reason, message) = args.MinReplicas < limit
                    ? (limit, "ScaleDownLimit", "the desired replica count is decreasing faster than the maximum scale rate")
                    : (args.MinReplicas, "TooFewReplicas", "the desired replica count is less than the minimum replica count");
                if (args.DesiredReplicas < minAllowed) return new(minAllowed, reason, message);
            }
        }
        return new(args.DesiredReplicas, "DesiredWithinRange", "the desired count is within the acceptable range");
    }

    /// <summary>Remembers a rescale for the policies' periods, reusing a slot that fell out of the longest one. Nothing without behaviors.</summary>
    public void StoreScaleEvent(HorizontalPodAutoscalerBehavior? behavior, string key, int previous, int next)
    {
        if (behavior is null)
        {
            return;
        }
        var now = time.GetUtcNow();
        var scaleUp = next > previous;
        var rules = (scaleUp ? behavior.ScaleUp : behavior.ScaleDown) ?? new HPAScalingRules();
        var longest = (rules.Policies ?? []).Select(p => p.PeriodSeconds ?? 0).DefaultIfEmpty(0).Max();
        lock (_lock)
        {
            var events = ListFor(scaleUp ? _scaleUpEvents : _scaleDownEvents, key);
            var cutoff = now - TimeSpan.FromSeconds(Math.Max(longest, 0));
            var oldIndex = -1;
            for (var i = 0; i < events.Count; i++)
            {
                if (events[i].Timestamp < cutoff) events[i].Outdated = true;
                if (events[i].Outdated) oldIndex = i;
            }
            var change = scaleUp ? next - previous : previous - next;
            if (oldIndex >= 0) events[oldIndex] = new ScaleEvent(change, now);
            else events.Add(new ScaleEvent(change, now));
        }
    }

    /// <summary>Without behaviors: at most double (and at least 4) per sync, within min and max replicas.</summary>
    public static Limited ConvertWithRules(int currentReplicas, int desiredReplicas, int minReplicas, int maxReplicas)
    {
        var scaleUpLimit = ScaleUpLimit(currentReplicas);
        var (maxAllowed, reason, message) = maxReplicas > scaleUpLimit
            ? (scaleUpLimit, "ScaleUpLimit", "the desired replica count is increasing faster than the maximum scale rate")
            : (maxReplicas, "TooManyReplicas", "the desired replica count is more than the maximum replica count");
        if (desiredReplicas < minReplicas)
        {
            return new(minReplicas, "TooFewReplicas", "the desired replica count is less than the minimum replica count");
        }
        if (desiredReplicas > maxAllowed)
        {
            return new(maxAllowed, reason, message);
        }
        return new(desiredReplicas, "DesiredWithinRange", "the desired count is within the acceptable range");
    }

    internal static int ScaleUpLimit(int currentReplicas) => (int)Math.Max(ScaleUpLimitFactor * currentReplicas, ScaleUpLimitMinimum);

    private int ScaleUpLimitWithRules(int current, List<ScaleEvent> ups, List<ScaleEvent> downs, HPAScalingRules rules)
    {
        if (rules.SelectPolicy == "Disabled") return current;
        var minChange = rules.SelectPolicy == "Min";
        var result = minChange ? int.MaxValue : int.MinValue;
        foreach (var policy in rules.Policies ?? [])
        {
            var periodStart = current - ChangeInPeriod(policy.PeriodSeconds ?? 0, ups) + ChangeInPeriod(policy.PeriodSeconds ?? 0, downs);
            var proposed = policy.Type switch
            {
                "Pods" => periodStart + (policy.Value ?? 0),
                // Rounded up, or a small target could never grow.
                "Percent" => (int)Math.Ceiling(periodStart * (1 + (policy.Value ?? 0) / 100.0)),
                _ => 0,
            };
            result = minChange ? Math.Min(result, proposed) : Math.Max(result, proposed);
        }
        return result;
    }

    private int ScaleDownLimitWithRules(int current, List<ScaleEvent> ups, List<ScaleEvent> downs, HPAScalingRules rules)
    {
        if (rules.SelectPolicy == "Disabled") return current;
        var minChange = rules.SelectPolicy == "Min";
        var result = minChange ? int.MinValue : int.MaxValue;
        foreach (var policy in rules.Policies ?? [])
        {
            var periodStart = current - ChangeInPeriod(policy.PeriodSeconds ?? 0, ups) + ChangeInPeriod(policy.PeriodSeconds ?? 0, downs);
            var proposed = policy.Type switch
            {
                "Pods" => periodStart - (policy.Value ?? 0),
                "Percent" => (int)(periodStart * (1 - (policy.Value ?? 0) / 100.0)),
                _ => 0,
            };
            result = minChange ? Math.Max(result, proposed) : Math.Min(result, proposed);
        }
        return result;
    }

    private int ChangeInPeriod(int periodSeconds, List<ScaleEvent> events)
    {
        var cutoff = time.GetUtcNow() - TimeSpan.FromSeconds(periodSeconds);
        return events.Where(e => e.Timestamp > cutoff).Sum(e => e.Change);
    }

    private static List<T> ListFor<T>(Dictionary<string, List<T>> map, string key)
        => map.TryGetValue(key, out var list) ? list : map[key] = [];

    private static void Record(List<Recommendation> list, int oldIndex, Recommendation recommendation)
    {
        if (oldIndex >= 0) list[oldIndex] = recommendation;
        else list.Add(recommendation);
    }

    /// <summary>The API server's defaults for behavior rules (autoscaling/v2 SetDefaults), for objects that arrive without them.</summary>
    public static HPAScalingRules DefaultedRules(HPAScalingRules? rules, bool scaleUp)
    {
        var result = scaleUp
            ? new HPAScalingRules
            {
                StabilizationWindowSeconds = 0,
                SelectPolicy = "Max",
                Policies = [new() { Type = "Pods", Value = 4, PeriodSeconds = 15 }, new() { Type = "Percent", Value = 100, PeriodSeconds = 15 }],
            }
            : new HPAScalingRules
            {
                SelectPolicy = "Max",
                Policies = [new() { Type = "Percent", Value = 100, PeriodSeconds = 15 }],
            };
        if (rules is null) return result;
        result.SelectPolicy = rules.SelectPolicy ?? result.SelectPolicy;
        result.StabilizationWindowSeconds = rules.StabilizationWindowSeconds ?? result.StabilizationWindowSeconds;
        result.Policies = rules.Policies ?? result.Policies;
        return result;
    }
}

using Kcm.Api.Core.V1;
using Kcm.Api.Meta.V1;

namespace Kcm.Runtime.Events;

/// <summary>What the correlator decided for one event.</summary>
/// <param name="Event">The event to write (possibly with a combined message, count and first timestamp).</param>
/// <param name="Patch">A strategic merge patch for an event already written (count, lastTimestamp, message), or null to create it.</param>
/// <param name="Skip">True when the spam filter dropped the event.</param>
public sealed record CorrelatedEvent(Event Event, string? Patch, bool Skip);

/// <summary>
/// client-go's EventCorrelator with its defaults: a spam filter (per source and object, a token bucket of
/// burst 25 refilled one per 5 minutes), an aggregator (more than 10 distinct messages for the same
/// source/object/type/reason within 10 minutes become one "(combined from similar events): " event) and
/// a de-duplicator (a repeat of a written event becomes a count/lastTimestamp patch of it). Single-threaded:
/// the broadcaster calls it from one loop.
/// </summary>
public sealed class EventCorrelator(TimeProvider time)
{
    public const int SpamBurst = 25;
    public static readonly TimeSpan SpamRefillInterval = TimeSpan.FromMinutes(5);
    public const int AggregateMaxEvents = 10;
    public static readonly TimeSpan AggregateInterval = TimeSpan.FromMinutes(10);
    private const int MaxCacheEntries = 4096;
    private const string CombinedPrefix = "(combined from similar events): ";

    private readonly LruCache<string, SpamBucket> _spam = new(MaxCacheEntries);
    private readonly LruCache<string, AggregateRecord> _aggregates = new(MaxCacheEntries);
    private readonly LruCache<string, WrittenRecord> _written = new(MaxCacheEntries);

    public CorrelatedEvent Correlate(Event newEvent)
    {
        var now = time.GetUtcNow();
        if (!AllowedBySpamFilter(newEvent, now))
        {
            return new CorrelatedEvent(newEvent, null, Skip: true);
        }
        var (aggregated, dedupeKey) = Aggregate(newEvent, now);
        if (_written.TryGet(dedupeKey, out var previous))
        {
            aggregated.Count = previous.Count + 1;
            aggregated.FirstTimestamp = previous.FirstTimestamp;
            aggregated.Metadata!.Name = previous.Name;
            aggregated.Metadata.ResourceVersion = previous.ResourceVersion;
            var patch = new System.Text.Json.Nodes.JsonObject
            {
                ["count"] = aggregated.Count,
                ["lastTimestamp"] = Kcm.Api.KubeTime.Format(aggregated.LastTimestamp!.Value),
                ["message"] = aggregated.Message,
            };
            return new CorrelatedEvent(aggregated, patch.ToJsonString(), Skip: false);
        }
        return new CorrelatedEvent(aggregated, null, Skip: false);
    }

    /// <summary>Remembers what the sink wrote, so the next identical event patches it.</summary>
    public void Written(Event written)
    {
        _written.Set(DedupeKey(written), new WrittenRecord(written.Count ?? 1, written.FirstTimestamp, written.Metadata?.Name ?? "", written.Metadata?.ResourceVersion));
    }

    private bool AllowedBySpamFilter(Event e, DateTimeOffset now)
    {
        var key = string.Join('\u0001', e.Source?.Component, e.Source?.Host, e.InvolvedObject?.Kind, e.InvolvedObject?.Namespace,
            e.InvolvedObject?.Name, e.InvolvedObject?.Uid, e.InvolvedObject?.ApiVersion);
        if (!_spam.TryGet(key, out var bucket))
        {
            bucket = new SpamBucket { Tokens = SpamBurst, LastRefill = now };
            _spam.Set(key, bucket);
        }
        var refills = (now - bucket.LastRefill).Ticks / SpamRefillInterval.Ticks;
        if (refills > 0)
        {
            bucket.Tokens = (int)Math.Min(SpamBurst, bucket.Tokens + refills);
            bucket.LastRefill += TimeSpan.FromTicks(refills * SpamRefillInterval.Ticks);
        }
        if (bucket.Tokens == 0)
        {
            return false;
        }
        bucket.Tokens--;
        return true;
    }

    private (Event Event, string DedupeKey) Aggregate(Event e, DateTimeOffset now)
    {
        var aggregateKey = string.Join('\u0001', e.Source?.Component, e.Source?.Host, e.InvolvedObject?.Kind, e.InvolvedObject?.Namespace,
            e.InvolvedObject?.Name, e.InvolvedObject?.Uid, e.InvolvedObject?.ApiVersion, e.Type, e.Reason);
        if (!_aggregates.TryGet(aggregateKey, out var record) || now - record.LastSeen > AggregateInterval)
        {
            record = new AggregateRecord();
            _aggregates.Set(aggregateKey, record);
        }
        record.Messages.Add(e.Message ?? "");
        record.LastSeen = now;
        if (record.Messages.Count < AggregateMaxEvents)
        {
            return (e, DedupeKey(e));
        }
        var combined = new Event
        {
            Metadata = new ObjectMeta { Name = e.Metadata!.Name, Namespace = e.Metadata.Namespace },
            Count = 1,
            FirstTimestamp = e.FirstTimestamp,
            LastTimestamp = e.LastTimestamp,
            InvolvedObject = e.InvolvedObject,
            Message = CombinedPrefix + e.Message,
            Reason = e.Reason,
            Source = e.Source,
            Type = e.Type,
            ReportingComponent = e.ReportingComponent,
            ReportingInstance = e.ReportingInstance,
        };
        return (combined, aggregateKey + "\u0001" + CombinedPrefix);
    }

    private static string DedupeKey(Event e)
    {
        var message = e.Message ?? "";
        var suffix = message.StartsWith(CombinedPrefix, StringComparison.Ordinal) ? CombinedPrefix : message;
        return string.Join('\u0001', e.Source?.Component, e.Source?.Host, e.InvolvedObject?.Kind, e.InvolvedObject?.Namespace,
            e.InvolvedObject?.Name, e.InvolvedObject?.Uid, e.InvolvedObject?.ApiVersion, e.Type, e.Reason, suffix);
    }

    private sealed class SpamBucket
    {
        public int Tokens;
        public DateTimeOffset LastRefill;
    }

    private sealed class AggregateRecord
    {
        public HashSet<string> Messages { get; } = new(StringComparer.Ordinal);

        public DateTimeOffset LastSeen;
    }

    private sealed record WrittenRecord(int Count, DateTimeOffset? FirstTimestamp, string Name, string? ResourceVersion);
}

/// <summary>A small least-recently-used map (the correlator's caches are bounded like client-go's).</summary>
internal sealed class LruCache<TKey, TValue>(int capacity)
    where TKey : notnull
{
    private readonly Dictionary<TKey, LinkedListNode<(TKey Key, TValue Value)>> _map = [];
    private readonly LinkedList<(TKey Key, TValue Value)> _order = new();

    public bool TryGet(TKey key, out TValue value)
    {
        if (_map.TryGetValue(key, out var node))
        {
            _order.Remove(node);
            _order.AddFirst(node);
            value = node.Value.Value;
            return true;
        }
        value = default!;
        return false;
    }

    public void Set(TKey key, TValue value)
    {
        if (_map.TryGetValue(key, out var node))
        {
            _order.Remove(node);
        }
        else if (_map.Count >= capacity)
        {
            var last = _order.Last!;
            _order.RemoveLast();
            _map.Remove(last.Value.Key);
        }
        _map[key] = _order.AddFirst((key, value));
    }
}

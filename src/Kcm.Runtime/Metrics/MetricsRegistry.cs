using System.Text;
using Kcm.Api.Codecs;

namespace Kcm.Runtime.Metrics;

/// <summary>
/// A small Prometheus registry rendering the text exposition format (version 0.0.4). Families are
/// registered once by name; a second registration of the same name returns the existing family so
/// components created twice (tests, restarts of leader work) share their series.
/// </summary>
public sealed class MetricsRegistry
{
    private readonly Lock _gate = new();
    private readonly SortedDictionary<string, MetricFamily> _families = new(StringComparer.Ordinal);
    private readonly List<Action> _collectors = [];

    public Counter Counter(string name, string help, params string[] labelNames)
        => Register(name, () => new Counter(name, help, labelNames));

    public Gauge Gauge(string name, string help, params string[] labelNames)
        => Register(name, () => new Gauge(name, help, labelNames));

    public Histogram Histogram(string name, string help, double[] buckets, params string[] labelNames)
        => Register(name, () => new Histogram(name, help, buckets, labelNames));

    /// <summary>Runs before every scrape, for values read on demand (process statistics, queue ages).</summary>
    public void OnCollect(Action collect)
    {
        lock (_gate) _collectors.Add(collect);
    }

    public string Render()
    {
        Action[] collectors;
        MetricFamily[] families;
        lock (_gate)
        {
            collectors = [.. _collectors];
        }
        foreach (var collect in collectors) collect();
        lock (_gate)
        {
            families = [.. _families.Values];
        }
        var sb = new StringBuilder();
        foreach (var family in families) family.Render(sb);
        return sb.ToString();
    }

    /// <summary>Every registered family, rendered or not (a labelled family shows only once it has a series, as client_golang's).</summary>
    public IReadOnlyList<MetricFamily> Families
    {
        get
        {
            lock (_gate) return [.. _families.Values];
        }
    }

    private T Register<T>(string name, Func<T> create) where T : MetricFamily
    {
        if (!MetricFamily.IsValidName(name)) throw new ArgumentException($"invalid metric name {name}", nameof(name));
        lock (_gate)
        {
            if (_families.TryGetValue(name, out var existing))
            {
                return existing as T ?? throw new InvalidOperationException($"metric {name} is already registered as {existing.Type}");
            }
            var family = create();
            _families[name] = family;
            return family;
        }
    }
}

public abstract class MetricFamily
{
    private readonly string[] _labelNames;

    protected MetricFamily(string name, string help, string type, string[] labelNames)
    {
        foreach (var l in labelNames)
        {
            if (!IsValidName(l) || l.StartsWith("__", StringComparison.Ordinal)) throw new ArgumentException($"invalid label name {l}", nameof(labelNames));
        }
        Name = name;
        Help = help;
        Type = type;
        _labelNames = labelNames;
    }

    public string Name { get; }
    public string Help { get; }
    public string Type { get; }

    protected Lock Gate { get; } = new();

    internal static bool IsValidName(string name)
        => name.Length > 0 && !char.IsAsciiDigit(name[0]) && name.All(c => char.IsAsciiLetterOrDigit(c) || c == '_' || c == ':');

    protected string LabelKey(string[] values)
    {
        if (values.Length != _labelNames.Length)
        {
            throw new ArgumentException($"metric {Name} takes {_labelNames.Length} label values, got {values.Length}", nameof(values));
        }
        return string.Join('\u0001', values);
    }

    /// <summary>Renders `{a="x",b="y"}` (plus an extra label such as `le`), or "" without labels.</summary>
    protected string Labels(string key, string? extraName = null, string? extraValue = null)
    {
        var values = _labelNames.Length == 0 ? [] : key.Split('\u0001');
        if (values.Length == 0 && extraName == null) return "";
        var sb = new StringBuilder("{");
        for (var i = 0; i < values.Length; i++)
        {
            if (i > 0) sb.Append(',');
            sb.Append(_labelNames[i]).Append("=\"").Append(EscapeLabel(values[i])).Append('"');
        }
        if (extraName != null)
        {
            if (values.Length > 0) sb.Append(',');
            sb.Append(extraName).Append("=\"").Append(extraValue).Append('"');
        }
        return sb.Append('}').ToString();
    }

    internal void Render(StringBuilder sb)
    {
        lock (Gate)
        {
            if (!HasSamples) return;
        }
        sb.Append("# HELP ").Append(Name).Append(' ').Append(Help.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal)).Append('\n');
        sb.Append("# TYPE ").Append(Name).Append(' ').Append(Type).Append('\n');
        lock (Gate) RenderSamples(sb);
    }

    protected abstract void RenderSamples(StringBuilder sb);

    /// <summary>Whether any series exists; client_golang leaves a family with none out of the exposition.</summary>
    protected abstract bool HasSamples { get; }

    /// <summary>"ALPHA", "BETA" or "STABLE" from the "[ALPHA] " prefix Kubernetes puts on help texts; "" for metrics without one.</summary>
    public string StabilityLevel => Help.StartsWith("[ALPHA] ", StringComparison.Ordinal) ? "ALPHA"
        : Help.StartsWith("[BETA] ", StringComparison.Ordinal) ? "BETA"
        : Help.StartsWith("[STABLE] ", StringComparison.Ordinal) ? "STABLE" : "";

    /// <summary>client_golang's writeFloat: Go's shortest %g ("1e-08", "1.234567e+06"), for values and le bounds alike.</summary>
    protected static string Format(double v) => GoFloat.Format(v == 0 ? 0 : v);

    private static string EscapeLabel(string v)
        => v.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal);
}

public sealed class Counter(string name, string help, string[] labelNames) : MetricFamily(name, help, "counter", labelNames)
{
    // A counter without labels is a single series, exported (at 0) from registration on, as client_golang does.
    private readonly SortedDictionary<string, double> _values = labelNames.Length == 0 ? new(StringComparer.Ordinal) { [""] = 0 } : new(StringComparer.Ordinal);

    public void Inc(params string[] labelValues) => Add(1, labelValues);

    public void Add(double amount, params string[] labelValues)
    {
        if (amount < 0) throw new ArgumentOutOfRangeException(nameof(amount), "counters only go up");
        var key = LabelKey(labelValues);
        lock (Gate) _values[key] = _values.GetValueOrDefault(key) + amount;
    }

    /// <summary>For counters read from a monotonic source at scrape time (CPU seconds).</summary>
    public void SetTotal(double total, params string[] labelValues)
    {
        var key = LabelKey(labelValues);
        lock (Gate) _values[key] = Math.Max(total, _values.GetValueOrDefault(key));
    }

    public double Value(params string[] labelValues)
    {
        var key = LabelKey(labelValues);
        lock (Gate) return _values.GetValueOrDefault(key);
    }

    protected override bool HasSamples => _values.Count > 0;

    protected override void RenderSamples(StringBuilder sb)
    {
        foreach (var (key, value) in _values) sb.Append(Name).Append(Labels(key)).Append(' ').Append(Format(value)).Append('\n');
    }
}

public sealed class Gauge(string name, string help, string[] labelNames) : MetricFamily(name, help, "gauge", labelNames)
{
    private readonly SortedDictionary<string, double> _values = new(StringComparer.Ordinal);

    public void Set(double value, params string[] labelValues)
    {
        var key = LabelKey(labelValues);
        lock (Gate) _values[key] = value;
    }

    public void Add(double amount, params string[] labelValues)
    {
        var key = LabelKey(labelValues);
        lock (Gate) _values[key] = _values.GetValueOrDefault(key) + amount;
    }

    public double Value(params string[] labelValues)
    {
        var key = LabelKey(labelValues);
        lock (Gate) return _values.GetValueOrDefault(key);
    }

    protected override bool HasSamples => _values.Count > 0;
    /// <summary>Drops a series (e.g. an info-style series replaced by one with other label values).</summary>
    public void Remove(params string[] labelValues)
    {
        var key = LabelKey(labelValues);
        lock (Gate) _values.Remove(key);
    }

    protected override void RenderSamples(StringBuilder sb)
    {
        foreach (var (key, value) in _values) sb.Append(Name).Append(Labels(key)).Append(' ').Append(Format(value)).Append('\n');
    }
}

public sealed class Histogram : MetricFamily
{
    private readonly double[] _buckets;
    private readonly SortedDictionary<string, Series> _series = new(StringComparer.Ordinal);

    public Histogram(string name, string help, double[] buckets, string[] labelNames) : base(name, help, "histogram", labelNames)
    {
        if (buckets.Length == 0 || buckets.Zip(buckets.Skip(1)).Any(p => p.First >= p.Second))
        {
            throw new ArgumentException($"histogram {name} needs increasing buckets", nameof(buckets));
        }
        _buckets = buckets;
        // Like an unlabelled counter, an unlabelled histogram is one series, exported (empty) from registration on.
        if (labelNames.Length == 0) _series[""] = new Series(buckets.Length);
    }

    /// <summary>
    /// Prometheus' ExponentialBuckets(start, factor, count): each bound is the previous one times the factor,
    /// so the rounding matches Go's (10e-9·10·10·10 is 9.999999999999999e-06, not 1e-05).
    /// </summary>
    public static double[] ExponentialBuckets(double start, double factor, int count)
    {
        var buckets = new double[count];
        for (var i = 0; i < count; i++)
        {
            buckets[i] = start;
            start *= factor;
        }
        return buckets;
    }

    /// <summary>Prometheus' LinearBuckets(start, width, count), by repeated addition as Go does.</summary>
    public static double[] LinearBuckets(double start, double width, int count)
    {
        var buckets = new double[count];
        for (var i = 0; i < count; i++)
        {
            buckets[i] = start;
            start += width;
        }
        return buckets;
    }

    public void Observe(double value, params string[] labelValues)
    {
        var key = LabelKey(labelValues);
        lock (Gate)
        {
            if (!_series.TryGetValue(key, out var s)) _series[key] = s = new Series(_buckets.Length);
            s.Count++;
            s.Sum += value;
            for (var i = 0; i < _buckets.Length; i++)
            {
                if (value <= _buckets[i]) s.Buckets[i]++;
            }
        }
    }

    public long Count(params string[] labelValues)
    {
        var key = LabelKey(labelValues);
        lock (Gate) return _series.TryGetValue(key, out var s) ? s.Count : 0;
    }

    protected override bool HasSamples => _series.Count > 0;

    protected override void RenderSamples(StringBuilder sb)
    {
        foreach (var (key, s) in _series)
        {
            for (var i = 0; i < _buckets.Length; i++)
            {
                sb.Append(Name).Append("_bucket").Append(Labels(key, "le", Format(_buckets[i]))).Append(' ').Append(Format(s.Buckets[i])).Append('\n');
            }
            sb.Append(Name).Append("_bucket").Append(Labels(key, "le", "+Inf")).Append(' ').Append(Format(s.Count)).Append('\n');
            sb.Append(Name).Append("_sum").Append(Labels(key)).Append(' ').Append(Format(s.Sum)).Append('\n');
            sb.Append(Name).Append("_count").Append(Labels(key)).Append(' ').Append(Format(s.Count)).Append('\n');
        }
    }

    private sealed class Series(int buckets)
    {
        public long[] Buckets { get; } = new long[buckets];
        public long Count { get; set; }
        public double Sum { get; set; }
    }
}

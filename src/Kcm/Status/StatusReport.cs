using System.Globalization;
using System.Text;

namespace Kcm.Status;

/// <summary>The text `status` prints: the lease, the instances, the leader's controllers.</summary>
public static class StatusReport
{
    public static string Render(StatusData data, DateTimeOffset now)
    {
        var sb = new StringBuilder();
        sb.Append("Lease ").Append(data.LeaseNamespace).Append('/').Append(data.LeaseName).Append('\n');
        if (data.Lease?.Spec is { } spec)
        {
            var holder = string.IsNullOrEmpty(spec.HolderIdentity) ? "(none: released)" : spec.HolderIdentity;
            sb.Append("  holder:       ").Append(holder).Append('\n');
            sb.Append("  transitions:  ").Append(Invariant(spec.LeaseTransitions ?? 0)).Append('\n');
            sb.Append("  acquired:     ").Append(Ago(spec.AcquireTime, now)).Append('\n');
            var duration = spec.LeaseDurationSeconds ?? 0;
            var renewed = spec.RenewTime is { } renew ? now - renew : (TimeSpan?)null;
            var expired = renewed is { } r && duration > 0 && r > TimeSpan.FromSeconds(duration) ? "  EXPIRED: no leader" : "";
            sb.Append("  renewed:      ").Append(Ago(spec.RenewTime, now)).Append(" (lease ").Append(Invariant(duration)).Append("s)").Append(expired).Append('\n');
        }
        else
        {
            sb.Append("  ").Append(data.LeaseError ?? "no lease").Append('\n');
        }

        sb.Append("\nInstances\n");
        if (data.Scrapes.Count == 0)
        {
            sb.Append("  none to ask: pass --instances https://HOST:10257,...\n");
        }
        else
        {
            var rows = new List<string[]> { new[] { "URL", "HEALTHZ", "LEADING", "UP", "RSS", "API REQUESTS", "API ERRORS" } };
            foreach (var s in data.Scrapes)
            {
                var leading = s.Leading(data.LeaseName) switch { true => "yes", false => "no", null => "?" };
                var started = s.Value("process_start_time_seconds");
                var up = started is { } t ? Duration(now - DateTimeOffset.FromUnixTimeMilliseconds((long)(t * 1000))) : "-";
                var rss = s.Value("process_resident_memory_bytes") is { } bytes ? Invariant(Math.Round(bytes / (1024 * 1024))) + " MiB" : "-";
                var requests = s.Metrics?.Where(m => m.Name == "rest_client_requests_total").ToList();
                var total = requests is null ? "-" : Invariant(requests.Sum(m => m.Value));
                var errors = requests is null ? "-" : Invariant(requests.Where(m => !m.Label("code").StartsWith('2')).Sum(m => m.Value));
                rows.Add([s.Url.ToString().TrimEnd('/'), s.Healthz, leading, up, rss, total, errors]);
            }
            Table(sb, rows);
            foreach (var s in data.Scrapes.Where(s => s.Error is not null))
            {
                sb.Append("  ").Append(s.Url.ToString().TrimEnd('/')).Append(": ").Append(s.Error).Append('\n');
            }
        }

        if (data.Leader is not { Metrics: { } metrics } leader)
        {
            sb.Append("\nNo instance that answered reports itself leading").Append(data.Scrapes.Count > 0 ? "." : " (none was asked).").Append('\n');
            return sb.ToString();
        }
        sb.Append("\nControllers on the leader (").Append(leader.Url.ToString().TrimEnd('/')).Append(")\n");
        var before = data.LeaderBefore;
        var seconds = before is null ? 0 : (leader.At - before.At).TotalSeconds;
        var queues = metrics.Where(m => m.Name is "workqueue_adds_total" or "workqueue_depth").Select(m => m.Label("name")).Where(n => n.Length > 0).Distinct().Order(StringComparer.Ordinal);
        var table = new List<string[]> { new[] { "QUEUE", "DEPTH", "ADDS/S", "ADDS", "RETRIES", "LAST SYNC ERROR" } };
        foreach (var queue in queues)
        {
            double Of(IReadOnlyList<Sample> samples, string name) => samples.FirstOrDefault(m => m.Name == name && m.Label("name") == queue)?.Value ?? 0;
            var adds = Of(metrics, "workqueue_adds_total");
            var rate = before?.Metrics is { } old && seconds > 0 ? ((adds - Of(old, "workqueue_adds_total")) / seconds).ToString("0.0", CultureInfo.InvariantCulture) : "-";
            var error = metrics.Where(m => m.Name == "kcm_controller_last_sync_error_timestamp_seconds" && m.Label("name") == queue)
                .OrderByDescending(m => m.Value).FirstOrDefault();
            var errorText = error is null ? "-" : $"{Duration(now - DateTimeOffset.FromUnixTimeMilliseconds((long)(error.Value * 1000)))} ago: {error.Label("error").ReplaceLineEndings(" ")}";
            table.Add([queue, Invariant(Of(metrics, "workqueue_depth")), rate, Invariant(adds), Invariant(Of(metrics, "workqueue_retries_total")), errorText]);
        }
        Table(sb, table);
        return sb.ToString();
    }

    private static void Table(StringBuilder sb, List<string[]> rows)
    {
        var widths = Enumerable.Range(0, rows[0].Length).Select(i => rows.Max(r => r[i].Length)).ToArray();
        foreach (var row in rows)
        {
            sb.Append(' ');
            for (var i = 0; i < row.Length; i++)
            {
                sb.Append(' ').Append(i == row.Length - 1 ? row[i] : row[i].PadRight(widths[i]));
            }
            sb.Append('\n');
        }
    }

    private static string Ago(DateTimeOffset? time, DateTimeOffset now)
        => time is { } t ? $"{t.UtcDateTime:yyyy-MM-ddTHH:mm:ssZ} ({Duration(now - t)} ago)" : "-";

    /// <summary>kubectl's age style: 45s, 3m12s, 2h5m, 3d4h.</summary>
    public static string Duration(TimeSpan span)
    {
        if (span < TimeSpan.Zero) span = TimeSpan.Zero;
        if (span.TotalSeconds < 60) return span.TotalSeconds.ToString("0.#", CultureInfo.InvariantCulture) + "s";
        if (span.TotalMinutes < 60) return $"{(int)span.TotalMinutes}m{span.Seconds}s";
        if (span.TotalHours < 24) return $"{(int)span.TotalHours}h{span.Minutes}m";
        return $"{(int)span.TotalDays}d{span.Hours}h";
    }

    private static string Invariant(double value) => value.ToString("0.###", CultureInfo.InvariantCulture);
}

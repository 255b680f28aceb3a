using System.Globalization;
using System.Text;

namespace Kcm.Benchmarks.Compare;

/// <summary>One measured figure of one run. Lower is better for every figure the harness reports.</summary>
internal sealed record Figure(string Name, string Unit, double Value, int Decimals = 1);

/// <summary>What one run of one binary measured.</summary>
internal sealed record RunResult(int Round, string Label, IReadOnlyList<Figure> Figures, IReadOnlyDictionary<string, long> Requests, double LoadAverage, string LogPath);

/// <summary>The side-by-side table: medians per binary, min-max over rounds, ours/upstream; then one line per run.</summary>
internal static class CompareReport
{
    public static string Render(IReadOnlyList<RunResult> runs, IReadOnlyList<string> labels)
    {
        var sb = new StringBuilder();
        var names = runs.SelectMany(r => r.Figures).Select(f => (f.Name, f.Unit, f.Decimals)).Distinct().ToList();
        var multi = runs.GroupBy(r => r.Label).Any(g => g.Count() > 1);
        var header = new List<string> { "figure" };
        header.AddRange(labels.Select(l => $"{l} (median{(multi ? " [min-max]" : "")})"));
        if (labels.Count == 2) header.Add($"{labels[1]}/{labels[0]}");
        var rows = new List<List<string>> { header };
        foreach (var (name, unit, decimals) in names)
        {
            var row = new List<string> { unit.Length > 0 ? $"{name} ({unit})" : name };
            var medians = new List<double?>();
            foreach (var label in labels)
            {
                var values = runs.Where(r => r.Label == label).SelectMany(r => r.Figures.Where(f => f.Name == name)).Select(f => f.Value).OrderBy(v => v).ToList();
                if (values.Count == 0)
                {
                    row.Add("-");
                    medians.Add(null);
                    continue;
                }
                var median = Median(values);
                medians.Add(median);
                row.Add(Format(median, decimals) + (values.Count > 1 ? $" [{Format(values[0], decimals)}-{Format(values[^1], decimals)}]" : ""));
            }
            if (labels.Count == 2)
            {
                row.Add(medians[0] is { } a && medians[1] is { } b && a > 0 ? (b / a).ToString("F2", CultureInfo.InvariantCulture) : "-");
            }
            rows.Add(row);
        }
        var widths = Enumerable.Range(0, header.Count).Select(c => rows.Max(r => r[c].Length)).ToList();
        foreach (var row in rows)
        {
            sb.AppendLine(string.Join("  ", row.Select((cell, c) => c == 0 ? cell.PadRight(widths[c]) : cell.PadLeft(widths[c]))).TrimEnd());
        }
        sb.AppendLine();
        sb.AppendLine("per run:");
        foreach (var run in runs)
        {
            sb.AppendLine($"  round {run.Round} {run.Label} (load average {run.LoadAverage.ToString("F1", CultureInfo.InvariantCulture)} at start; log {run.LogPath}):");
            sb.AppendLine("    " + string.Join(", ", run.Figures.Select(f => $"{f.Name} {Format(f.Value, f.Decimals)}{(f.Unit.Length > 0 ? " " + f.Unit : "")}")));
            foreach (var (what, writes) in new[] { ("writes", true), ("reads", false) })
            {
                var list = run.Requests.Where(r => r.Value > 0 && ApiServerMetrics.IsWrite(r.Key) == writes).OrderByDescending(r => r.Value).ToList();
                if (list.Count > 0) sb.AppendLine($"    its {what}: " + string.Join(", ", list.Select(r => $"{r.Key} {r.Value}")));
            }
        }
        return sb.ToString();
    }

    private static double Median(List<double> sorted) => sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[sorted.Count / 2 - 1] + sorted[sorted.Count / 2]) / 2;

    private static string Format(double v, int decimals) => v.ToString("F" + decimals, CultureInfo.InvariantCulture);
}

using System.Globalization;
using System.Text;
using Kcm.Api.Core.V1;

namespace Kcm.Controllers.Jobs;

/// <summary>A closed range of completion indexes.</summary>
public readonly record struct IndexInterval(int First, int Last);

/// <summary>
/// Upstream's orderedIntervals: sorted, non-overlapping, non-adjacent ranges of succeeded completion indexes, written
/// to status.completedIndexes as "1,3-5,7" (two adjacent indexes as "3,4").
/// </summary>
public sealed class CompletedIndexes
{
    public static readonly CompletedIndexes Empty = new([]);

    private readonly List<IndexInterval> _intervals;

    private CompletedIndexes(List<IndexInterval> intervals) => _intervals = intervals;

    public IReadOnlyList<IndexInterval> Intervals => _intervals;

    public int Total => _intervals.Sum(i => i.Last - i.First + 1);

    /// <summary>Parses status.completedIndexes, dropping indexes at or beyond <paramref name="completions"/> and skipping corrupt parts.</summary>
    public static CompletedIndexes Parse(string? text, int completions)
    {
        var result = new List<IndexInterval>();
        if (string.IsNullOrEmpty(text)) return new CompletedIndexes(result);
        foreach (var part in text.Split(','))
        {
            var limits = part.Split('-');
            if (!int.TryParse(limits[0], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var first)) continue;
            if (first >= completions) break;
            var last = first;
            if (limits.Length > 1)
            {
                if (!int.TryParse(limits[1], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out last)) continue;
                if (last >= completions) last = completions - 1;
            }
            if (result.Count > 0 && result[^1].Last == first - 1) result[^1] = result[^1] with { Last = last };
            else result.Add(new IndexInterval(first, last));
        }
        return new CompletedIndexes(result);
    }

    /// <summary>These intervals merged with sorted <paramref name="indexes"/>.</summary>
    public CompletedIndexes With(IEnumerable<int> indexes)
    {
        var sorted = indexes.Distinct().Order().ToList();
        var result = new List<IndexInterval>();
        void Append(IndexInterval next)
        {
            if (result.Count == 0 || next.First > result[^1].Last + 1) result.Add(next);
            else if (result[^1].Last < next.Last) result[^1] = result[^1] with { Last = next.Last };
        }
        int i = 0, j = 0;
        while (i < _intervals.Count && j < sorted.Count)
        {
            if (_intervals[i].First < sorted[j]) Append(_intervals[i++]);
            else Append(new IndexInterval(sorted[j], sorted[j++]));
        }
        while (i < _intervals.Count) Append(_intervals[i++]);
        while (j < sorted.Count) Append(new IndexInterval(sorted[j], sorted[j++]));
        return new CompletedIndexes(result);
    }

    public bool Has(int index) => _intervals.Any(i => i.First <= index && index <= i.Last);

    public override string ToString()
    {
        var sb = new StringBuilder();
        foreach (var v in _intervals)
        {
            if (sb.Length > 0) sb.Append(',');
            sb.Append(v.First.ToString(CultureInfo.InvariantCulture));
            if (v.Last > v.First) sb.Append(v.Last == v.First + 1 ? ',' : '-').Append(v.Last.ToString(CultureInfo.InvariantCulture));
        }
        return sb.ToString();
    }

    /// <summary>Upstream's firstPendingIndexes: the lowest <paramref name="count"/> indexes neither succeeded nor held by an active pod.</summary>
    public static List<int> FirstPending(IEnumerable<Pod> activePods, CompletedIndexes succeeded, int count, int completions)
    {
        var result = new List<int>();
        if (count <= 0) return result;
        var nonPending = succeeded.With(activePods.Select(JobConditions.CompletionIndex).Where(ix => ix >= 0));
        var candidate = 0;
        foreach (var interval in nonPending._intervals)
        {
            for (; candidate < completions && result.Count < count && candidate < interval.First; candidate++) result.Add(candidate);
            if (candidate < interval.Last + 1) candidate = interval.Last + 1;
        }
        for (; candidate < completions && result.Count < count; candidate++) result.Add(candidate);
        return result;
    }

    /// <summary>Upstream's podGenerateNameWithIndex: "&lt;job&gt;-&lt;index&gt;-", the job name cut so the prefix fits a generated name.</summary>
    public static string GenerateNameWithIndex(string jobName, int index)
    {
        const int maxGeneratedNameLength = 63 - 5;
        var suffix = "-" + index.ToString(CultureInfo.InvariantCulture) + "-";
        var prefix = jobName + suffix;
        return prefix.Length > maxGeneratedNameLength ? jobName[..(maxGeneratedNameLength - suffix.Length)] + suffix : prefix;
    }
}

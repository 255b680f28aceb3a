namespace Kcm.Controllers.Ttl;

/// <summary>One row of upstream's ttlBoundaries: while the node count stays within [SizeMin, SizeMax], nodes get TtlSeconds.</summary>
public readonly record struct TtlBoundary(int SizeMin, int SizeMax, int TtlSeconds);

/// <summary>
/// The cluster-size table and the position in it. The ranges overlap, so the step only moves up when the count
/// passes the current row's maximum and only down when it falls below its minimum: a cluster hovering around a
/// boundary does not flip its nodes' TTL back and forth. Not thread-safe; the controller locks around it.
/// </summary>
public sealed class TtlBoundaries
{
    public static IReadOnlyList<TtlBoundary> Table { get; } =
    [
        new(0, 100, 0),
        new(90, 500, 15),
        new(450, 1000, 30),
        new(900, 2000, 60),
        new(1800, int.MaxValue, 300),
    ];

    private int _step;

    public int NodeCount { get; private set; }

    public int DesiredTtlSeconds => Table[_step].TtlSeconds;

    // One step per event, as upstream: counts change by one, so one step is always enough.
    public void NodeAdded()
    {
        NodeCount++;
        if (NodeCount > Table[_step].SizeMax && _step < Table.Count - 1)
        {
            _step++;
        }
    }

    public void NodeDeleted()
    {
        NodeCount--;
        // Upstream would index row -1 on a delete it never saw added; stay on the first row instead.
        if (NodeCount < Table[_step].SizeMin && _step > 0)
        {
            _step--;
        }
    }
}

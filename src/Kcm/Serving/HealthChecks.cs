using System.Text;

namespace Kcm.Serving;

/// <summary>One named check of /healthz, /livez or /readyz; returns null when healthy, else the reason.</summary>
public sealed record HealthCheck(string Name, Func<CancellationToken, Task<string?>> CheckAsync);

/// <summary>
/// upstream's healthz semantics: `/healthz` answers "ok" or 500 listing failures as "[-]name failed:
/// reason withheld"; `?verbose` lists every check; `/healthz/<name>` runs one check; `?exclude=name` skips.
/// Checks can be added while serving, as upstream's MutableHealthzHandler: leader election's first, each
/// controller's once it has started.
/// </summary>
public sealed class HealthChecks(IReadOnlyList<HealthCheck> initial)
{
    private volatile IReadOnlyList<HealthCheck> _checks = initial;
    private readonly Lock _gate = new();

    public IReadOnlyList<HealthCheck> Checks => _checks;

    /// <summary>Appends checks; a name already present is kept as it was (a second leadership term adds nothing).</summary>
    public void Add(IEnumerable<HealthCheck> added)
    {
        lock (_gate)
        {
            var current = _checks;
            _checks = [.. current, .. added.Where(a => current.All(c => c.Name != a.Name))];
        }
    }

    /// <summary>upstream's NamedPingChecker: a controller's check that passes for as long as the process answers.</summary>
    public static HealthCheck Ping(string name) => new(name, _ => Task.FromResult<string?>(null));

    public async Task<(int Status, string Body)> EvaluateAsync(string endpoint, string? single, bool verbose, IReadOnlyCollection<string> exclude, CancellationToken ct)
    {
        var checks = _checks;
        if (single != null)
        {
            var check = checks.FirstOrDefault(c => c.Name == single);
            if (check == null) return (404, "404 page not found\n");
            var failure = await check.CheckAsync(ct);
            return failure == null ? (200, "ok") : (500, $"internal server error: {failure}\n");
        }
        var sb = new StringBuilder();
        var failed = false;
        foreach (var check in checks)
        {
            if (exclude.Contains(check.Name))
            {
                sb.Append("[+]").Append(check.Name).Append(" excluded: ok\n");
                continue;
            }
            var failure = await check.CheckAsync(ct);
            if (failure == null)
            {
                sb.Append("[+]").Append(check.Name).Append(" ok\n");
            }
            else
            {
                failed = true;
                sb.Append("[-]").Append(check.Name).Append(" failed: reason withheld\n");
            }
        }
        if (failed)
        {
            sb.Append(endpoint).Append(" check failed\n");
            return (500, sb.ToString());
        }
        if (!verbose) return (200, "ok");
        sb.Append(endpoint).Append(" check passed\n");
        return (200, sb.ToString());
    }
}

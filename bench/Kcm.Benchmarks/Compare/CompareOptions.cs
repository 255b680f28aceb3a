using System.Globalization;

namespace Kcm.Benchmarks.Compare;

/// <summary>The compare command line: `compare WORKLOAD [flags]`; every bad flag is one clear line.</summary>
internal sealed record CompareOptions
{
    public const string Usage = """
        usage: Kcm.Benchmarks compare <workload> [--rounds N] [--scale N] [--replicas R] [--nodes N] [--timeout SECONDS] [--steady SECONDS]
                                      [--shared DIR] [--upstream PATH] [--ours PATH] [--only upstream|ours] [--v N] [--logs DIR] [--leader-elect]
                                      [--flag --NAME=VALUE ...]
          workloads: {0}
          Runs upstream kube-controller-manager v1.26.3 and ours alternately (upstream, ours, upstream, ours...) on a fresh
          real kube-apiserver each run (../shared/upstream-v1.26/cluster.sh) and prints medians side by side.
          --flag (repeatable) passes one more flag to both, e.g. --flag --kube-api-content-type=application/json.
        """;

    public required string Workload { get; init; }

    public int Rounds { get; init; } = 1;

    public int Scale { get; init; } = 1000;

    public int Replicas { get; init; } = 10;

    public int? Nodes { get; init; }

    public TimeSpan Timeout { get; init; } = TimeSpan.FromMinutes(15);

    public TimeSpan Steady { get; init; } = TimeSpan.FromMinutes(5);

    public string? Shared { get; init; }

    public string? Upstream { get; init; }

    public string? Ours { get; init; }

    public string? Only { get; init; }

    public int Verbosity { get; init; } = 2;

    public string? Logs { get; init; }

    /// <summary>Extra flags for both controller managers, after the seeds' and the workload's.</summary>
    public IReadOnlyList<string> Flags { get; init; } = [];

    /// <summary>Off by default: on a starved machine a controller manager that misses its renew deadline exits mid-run.</summary>
    public bool LeaderElect { get; init; }

    /// <summary>Parses args after "compare"; throws <see cref="ArgumentException"/> with one line.</summary>
    public static CompareOptions Parse(IReadOnlyList<string> args)
    {
        if (args.Count == 0 || args[0].StartsWith('-')) throw new ArgumentException("missing workload");
        var o = new CompareOptions { Workload = args[0] };
        for (var i = 1; i < args.Count; i++)
        {
            var name = args[i];
            string? inline = null;
            if (name.Contains('='))
            {
                inline = name[(name.IndexOf('=') + 1)..];
                name = name[..name.IndexOf('=')];
            }
            string Value()
            {
                if (inline is not null) return inline;
                if (i + 1 >= args.Count) throw new ArgumentException($"{name} needs a value");
                return args[++i];
            }
            int Int(int min, int max)
            {
                var v = Value();
                if (!int.TryParse(v, NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) || n < min || n > max)
                    throw new ArgumentException($"{name} must be a whole number from {min} to {max}, got \"{v}\"");
                return n;
            }
            o = name switch
            {
                "--rounds" => o with { Rounds = Int(1, 100) },
                "--scale" => o with { Scale = Int(1, 100_000) },
                "--replicas" => o with { Replicas = Int(1, 1_000) },
                "--nodes" => o with { Nodes = Int(0, 5000) },
                "--steady" => o with { Steady = TimeSpan.FromSeconds(Int(1, 86_400)) },
                "--timeout" => o with { Timeout = TimeSpan.FromSeconds(Int(1, 86_400)) },
                "--shared" => o with { Shared = Value() },
                "--upstream" => o with { Upstream = Value() },
                "--ours" => o with { Ours = Value() },
                "--only" => o with { Only = Value() is var only && only is "upstream" or "ours" ? only : throw new ArgumentException($"--only must be upstream or ours, got \"{only}\"") },
                "--v" => o with { Verbosity = Int(0, 10) },
                "--logs" => o with { Logs = Value() },
                "--flag" => o with { Flags = [.. o.Flags, Value() is var flag && flag.StartsWith("--", StringComparison.Ordinal) ? flag : throw new ArgumentException($"--flag takes a flag such as --kube-api-content-type=application/json, got \"{flag}\"")] },
                "--leader-elect" => o with { LeaderElect = inline is null || bool.TryParse(inline, out var le) && le },
                _ => throw new ArgumentException($"unknown flag {name}"),
            };
        }
        return o;
    }
}

using System.Diagnostics;

namespace Kcm.Benchmarks.Compare;

/// <summary>Thrown for a setup problem the user can fix (missing folder, binary not built, cluster that does not start).</summary>
internal sealed class CompareSetupException(string message) : Exception(message);

/// <summary>Thrown when a workload does not converge in time; the message says what was still missing.</summary>
internal sealed class CompareTimeoutException(string message) : Exception(message);

/// <summary>
/// The real kube-apiserver v1.26.3 + etcd of ../shared/upstream-v1.26/cluster.sh in one directory. Every run starts
/// from an empty etcd (wipe, then up), so each controller manager meets the same fresh cluster.
/// </summary>
internal sealed class RealCluster
{
    private readonly string _script;

    public RealCluster(string sharedDir, string dir)
    {
        _script = Path.Combine(sharedDir, "upstream-v1.26", "cluster.sh");
        if (!File.Exists(_script)) throw new CompareSetupException($"no cluster script at {_script} (pass --shared DIR, the folder holding upstream-v1.26/)");
        Dir = dir;
    }

    public string Dir { get; }

    public IReadOnlyDictionary<string, string> Env { get; private set; } = new Dictionary<string, string>();

    public string Kubeconfig => Env["KUBECONFIG_ADMIN"];

    public Uri Server => new(Env["SERVER"]);

    public string UpstreamBinary => Path.Combine(Dir, "bin", "kube-controller-manager");

    public int? ApiServerPid => Pid("kube-apiserver");

    public int? EtcdPid => Pid("etcd");

    /// <summary>Only unpacks the binaries (so the upstream controller manager's path exists before the first run).</summary>
    public Task UnpackAsync(CancellationToken ct) => RunScriptAsync("bin", ct);

    public async Task FreshAsync(CancellationToken ct)
    {
        await RunScriptAsync("wipe", ct);
        var output = await RunScriptAsync("up", ct);
        var env = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var line in output.Split('\n'))
        {
            if (!line.StartsWith("export ", StringComparison.Ordinal)) continue;
            var eq = line.IndexOf('=');
            if (eq > 7) env[line[7..eq]] = line[(eq + 1)..].Trim();
        }
        if (!env.ContainsKey("KUBECONFIG_ADMIN") || !env.ContainsKey("SERVER")) throw new CompareSetupException($"cluster.sh up printed no KUBECONFIG_ADMIN/SERVER (see {Dir}/kube-apiserver.log)");
        Env = env;
    }

    public async Task DownAsync()
    {
        try
        {
            await RunScriptAsync("down", CancellationToken.None);
        }
        catch (CompareSetupException e)
        {
            Console.Error.WriteLine($"compare: {e.Message}");
        }
    }

    private int? Pid(string name)
        => File.Exists(Path.Combine(Dir, name + ".pid")) && int.TryParse(File.ReadAllText(Path.Combine(Dir, name + ".pid")).Trim(), out var pid) ? pid : null;

    private async Task<string> RunScriptAsync(string command, CancellationToken ct)
    {
        var info = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true };
        info.ArgumentList.Add(_script);
        info.ArgumentList.Add(command);
        info.ArgumentList.Add(Dir);
        using var process = Process.Start(info) ?? throw new CompareSetupException($"could not run {_script}");
        var stdout = process.StandardOutput.ReadToEndAsync(ct);
        var stderr = process.StandardError.ReadToEndAsync(ct);
        try
        {
            await process.WaitForExitAsync(ct);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw;
        }
        if (process.ExitCode != 0)
        {
            var why = (await stderr).Trim().Split('\n').LastOrDefault(l => l.Length > 0) ?? $"exit code {process.ExitCode}";
            throw new CompareSetupException($"cluster.sh {command} {Dir} failed: {why}");
        }
        return await stdout;
    }
}

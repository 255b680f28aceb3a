using System.Diagnostics;
using System.Net.Sockets;
using Kcm.Commands;

namespace Kcm.Benchmarks.Compare;

/// <summary>Which controller manager a run measures: its label in the table and how to start it.</summary>
internal sealed record ControllerManagerBinary(string Label, string Path)
{
    /// <summary>A .dll runs under `dotnet`; anything else is executed directly.</summary>
    public ProcessStartInfo StartInfo()
    {
        var dll = Path.EndsWith(".dll", StringComparison.OrdinalIgnoreCase);
        var info = new ProcessStartInfo(dll ? "dotnet" : Path) { RedirectStandardError = true, RedirectStandardOutput = true };
        if (dll) info.ArgumentList.Add(Path);
        return info;
    }
}

/// <summary>
/// A controller manager as a child process with the seeds' flags (seed 003's unit file, minus flags v1.26 removed),
/// its output counted and written to a log file. Killed with its tree when the benchmark exits, however it exits.
/// </summary>
internal sealed class ControllerManagerProcess : IAsyncDisposable
{
    private static readonly List<Process> Live = [];
    private static int _exitHookInstalled;

    private readonly Process _process;
    private readonly StreamWriter _log;
    private long _lines;

    private ControllerManagerProcess(Process process, StreamWriter log, string logPath, int securePort)
    {
        _process = process;
        _log = log;
        LogPath = logPath;
        SecurePort = securePort;
    }

    public string LogPath { get; }

    public int SecurePort { get; }

    public int Pid => _process.Id;

    public bool HasExited => _process.HasExited;

    public long LogLines => Interlocked.Read(ref _lines);

    /// <summary>The flags for a cluster.sh environment (KUBECONFIG_ADMIN, CA, CA_KEY, SA_KEY).</summary>
    public static IReadOnlyList<string> SeedFlags(IReadOnlyDictionary<string, string> env, int securePort, int verbosity, bool leaderElect)
    {
        var kubeconfig = env["KUBECONFIG_ADMIN"];
        return
        [
            $"--kubeconfig={kubeconfig}",
            $"--authentication-kubeconfig={kubeconfig}",
            $"--authorization-kubeconfig={kubeconfig}",
            $"--client-ca-file={env["CA"]}",
            $"--requestheader-client-ca-file={env["CA"]}",
            "--bind-address=127.0.0.1",
            $"--secure-port={securePort}",
            "--cluster-name=kubernetes",
            "--controllers=*,bootstrapsigner,tokencleaner",
            "--kube-api-qps=1000",
            "--kube-api-burst=2000",
            $"--leader-elect={(leaderElect ? "true" : "false")}",
            "--use-service-account-credentials=true",
            "--concurrent-service-syncs=2",
            $"--cluster-signing-cert-file={env["CA"]}",
            $"--cluster-signing-key-file={env["CA_KEY"]}",
            "--cluster-signing-duration=8760h",
            "--horizontal-pod-autoscaler-sync-period=10s",
            "--concurrent-deployment-syncs=10",
            "--concurrent-gc-syncs=30",
            "--node-cidr-mask-size=24",
            "--service-cluster-ip-range=10.254.0.0/16",
            "--terminated-pod-gc-threshold=10000",
            $"--root-ca-file={env["CA"]}",
            $"--service-account-private-key-file={env["SA_KEY"]}",
            $"--v={verbosity}",
        ];
    }

    public static ControllerManagerProcess Start(ControllerManagerBinary binary, RealCluster cluster, string logPath, int verbosity, bool leaderElect, IReadOnlyList<string> extraFlags)
    {
        InstallExitHook();
        var port = FreePort();
        var info = binary.StartInfo();
        foreach (var flag in SeedFlags(cluster.Env, port, verbosity, leaderElect).Concat(extraFlags)) info.ArgumentList.Add(flag);
        var log = new StreamWriter(logPath) { AutoFlush = false };
        var process = new Process { StartInfo = info };
        var cm = new ControllerManagerProcess(process, log, logPath, port);
        DataReceivedEventHandler onLine = (_, e) =>
        {
            if (e.Data is null) return;
            Interlocked.Increment(ref cm._lines);
            lock (log) log.WriteLine(e.Data);
        };
        process.OutputDataReceived += onLine;
        process.ErrorDataReceived += onLine;
        try
        {
            process.Start();
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new CompareSetupException($"cannot start {binary.Label} controller manager {binary.Path}: {e.Message}");
        }
        lock (Live) Live.Add(process);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return cm;
    }

    /// <summary>Waits for /healthz to answer ok on the secure port (anonymous: upstream always allows /healthz).</summary>
    public async Task WaitHealthyAsync(TimeSpan timeout, CancellationToken ct)
    {
        using var handler = new SocketsHttpHandler();
        handler.SslOptions.RemoteCertificateValidationCallback = (_, _, _, _) => true; // its self-signed serving certificate
        using var http = new HttpClient(handler) { Timeout = TimeSpan.FromSeconds(5) };
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < timeout)
        {
            ct.ThrowIfCancellationRequested();
            if (_process.HasExited) throw new CompareSetupException($"controller manager exited with code {_process.ExitCode} before it was healthy (log: {LogPath}: {LastLine()})");
            try
            {
                var body = await http.GetStringAsync($"https://127.0.0.1:{SecurePort}/healthz", ct);
                if (body.Trim() == "ok") return;
            }
            catch (HttpRequestException)
            {
            }
            catch (TaskCanceledException) when (!ct.IsCancellationRequested)
            {
            }
            await Task.Delay(200, ct);
        }
        throw new CompareSetupException($"controller manager not healthy within {timeout.TotalSeconds:F0} s (log: {LogPath}: {LastLine()})");
    }

    public string LastLine()
    {
        lock (_log) _log.Flush();
        try
        {
            using var stream = new FileStream(LogPath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
            using var reader = new StreamReader(stream);
            return reader.ReadToEnd().Split('\n', StringSplitOptions.RemoveEmptyEntries).LastOrDefault() ?? "(empty)";
        }
        catch (IOException)
        {
            return "(unreadable)";
        }
    }

    /// <summary>SIGTERM, then SIGKILL of the whole tree after 15 s.</summary>
    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            ProcessSignals.Send(_process.Id, ProcessSignals.SigTerm);
            try
            {
                await _process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(15));
            }
            catch (TimeoutException)
            {
                _process.Kill(entireProcessTree: true);
                await _process.WaitForExitAsync();
            }
        }
        lock (Live) Live.Remove(_process);
        lock (_log)
        {
            _log.Flush();
            _log.Dispose();
        }
        _process.Dispose();
    }

    private static void InstallExitHook()
    {
        if (Interlocked.Exchange(ref _exitHookInstalled, 1) == 1) return;
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            lock (Live)
            {
                foreach (var p in Live)
                {
                    try
                    {
                        if (!p.HasExited) p.Kill(entireProcessTree: true);
                    }
                    catch (InvalidOperationException)
                    {
                    }
                }
            }
        };
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        return ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
    }
}

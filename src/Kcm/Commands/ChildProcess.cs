using System.Diagnostics;

namespace Kcm.Commands;

/// <summary>A child kube-controller-manager started by `dev`, its output forwarded with a prefix.</summary>
internal sealed class ChildProcess : IAsyncDisposable
{
    private readonly Process _process;

    private ChildProcess(Process process, string name)
    {
        _process = process;
        Name = name;
    }

    public string Name { get; }

    public int Pid => _process.Id;

    public bool HasExited => _process.HasExited;

    /// <summary>Starts this executable again with <paramref name="args"/>; each output line goes to <paramref name="onLine"/>.</summary>
    public static ChildProcess StartSelf(string name, IEnumerable<string> args, Action<string> onLine)
    {
        var info = new ProcessStartInfo { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        var self = Environment.ProcessPath ?? throw new InvalidOperationException("cannot find this executable's path");
        if (Path.GetFileNameWithoutExtension(self) == "dotnet")
        {
            // Running as `dotnet kube-controller-manager.dll`: start the same assembly the same way.
            info.FileName = self;
            // Only under the dotnet host: a single-file binary is its own ProcessPath and never gets here.
            info.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, typeof(ChildProcess).Assembly.GetName().Name + ".dll"));
        }
        else
        {
            info.FileName = self;
        }
        foreach (var a in args) info.ArgumentList.Add(a);
        var process = new Process { StartInfo = info, EnableRaisingEvents = true };
        process.OutputDataReceived += (_, e) => { if (e.Data != null) onLine(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data != null) onLine(e.Data); };
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return new ChildProcess(process, name);
    }

    /// <summary>SIGTERM (a graceful stop that releases the lease), then SIGKILL if it has not exited in time.</summary>
    public async Task StopAsync(TimeSpan grace)
    {
        if (_process.HasExited) return;
        ProcessSignals.Send(_process.Id, ProcessSignals.SigTerm);
        using var timeout = new CancellationTokenSource(grace);
        try
        {
            await _process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync(TimeSpan.FromSeconds(10));
        _process.Dispose();
    }
}

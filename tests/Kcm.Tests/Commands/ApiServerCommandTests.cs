using System.Diagnostics;
using Kcm.Api.Core.V1;
using Kcm.Client;
using Kcm.Client.Config;

namespace Kcm.Tests.Commands;

/// <summary>The `apiserver` command as a user runs it: a real process, real TLS, SIGTERM to stop.</summary>
public sealed class ApiServerCommandTests : IDisposable
{
    private readonly string _stateDir = Path.Combine(Path.GetTempPath(), "kcm-cli-" + Guid.NewGuid().ToString("N")[..8]);

    public void Dispose()
    {
        if (Directory.Exists(_stateDir)) Directory.Delete(_stateDir, recursive: true);
    }

    [Fact(Timeout = 120_000)]
    public async Task ApiServer_StartedTwice_ServesWritesStateAndReusesCertificates()
    {
        string firstCa;
        await using (var first = await KcmProcess.StartAsync("apiserver", "--state-dir", _stateDir, "--secure-port", "0"))
        {
            await first.WaitForOutputAsync("ready");
            foreach (var file in new[] { "ca.pem", "ca-key.pem", "admin.pem", "admin-key.pem", "admin.kubeconfig" })
            {
                Assert.True(File.Exists(Path.Combine(_stateDir, file)), $"{file} was not written");
            }
            firstCa = await File.ReadAllTextAsync(Path.Combine(_stateDir, "ca.pem"));
            using var client = KubeApiClient.FromKubeconfig(Path.Combine(_stateDir, "admin.kubeconfig"));
            var ns = await client.GetAsync<Namespace>(null, "kube-system");
            Assert.Equal("kube-system", ns.Metadata?.Name);
            Assert.Equal(0, await first.TerminateAsync());
        }

        await using var second = await KcmProcess.StartAsync("apiserver", "--state-dir", _stateDir, "--secure-port", "0");
        await second.WaitForOutputAsync("ready");
        Assert.Equal(firstCa, await File.ReadAllTextAsync(Path.Combine(_stateDir, "ca.pem")));
        using (var client = KubeApiClient.FromKubeconfig(Path.Combine(_stateDir, "admin.kubeconfig")))
        {
            var list = await client.ListAsync<Namespace>(null);
            Assert.Contains(list.Items!, n => n.Metadata?.Name == "kube-node-lease");
        }
        Assert.Equal(0, await second.TerminateAsync());
    }

    [Fact(Timeout = 60_000)]
    public async Task ApiServer_MalformedCaFile_FailsWithOneLineNamingTheFile()
    {
        Directory.CreateDirectory(_stateDir);
        await File.WriteAllTextAsync(Path.Combine(_stateDir, "ca.pem"), "-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----\n");
        await File.WriteAllTextAsync(Path.Combine(_stateDir, "ca-key.pem"), "garbage");
        await using var process = await KcmProcess.StartAsync("apiserver", "--state-dir", _stateDir, "--secure-port", "0");
        var exit = await process.WaitForExitAsync();
        Assert.NotEqual(0, exit);
        var errors = process.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        var line = Assert.Single(errors, l => l.StartsWith("Error:", StringComparison.Ordinal));
        Assert.Contains("ca", line);
        Assert.DoesNotContain("   at ", process.Stderr);
    }

    [Theory(Timeout = 60_000)]
    [InlineData(new[] { "apiserver" }, "Error: --state-dir is required")]
    [InlineData(new[] { "apiserver", "--state-dir" }, "Error: flag needs an argument: --state-dir")]
    [InlineData(new[] { "apiserver", "--bogus=1" }, "Error: unknown flag: --bogus")]
    [InlineData(new[] { "frobnicate" }, "Error: unknown command \"frobnicate\" for \"kube-controller-manager\"")]
    public async Task Command_BadArguments_OneLineErrorAndExitCode1(string[] args, string firstLine)
    {
        await using var process = await KcmProcess.StartAsync(args);
        Assert.Equal(1, await process.WaitForExitAsync());
        Assert.Equal(firstLine, process.Stderr.Split('\n')[0].TrimEnd());
    }
}

/// <summary>Runs the built kube-controller-manager executable and captures its output.</summary>
internal sealed class KcmProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly System.Text.StringBuilder _stdout = new();
    private readonly System.Text.StringBuilder _stderr = new();
    private readonly Lock _gate = new();

    private KcmProcess(Process process) => _process = process;

    public string Stderr
    {
        get { lock (_gate) return _stderr.ToString(); }
    }

    public string Stdout
    {
        get { lock (_gate) return _stdout.ToString(); }
    }

    public int Pid => _process.Id;

    public static Task<KcmProcess> StartAsync(params string[] args)
    {
        var dll = Path.Combine(AppContext.BaseDirectory, "kube-controller-manager.dll");
        var info = new ProcessStartInfo("dotnet") { RedirectStandardError = true, RedirectStandardOutput = true };
        info.ArgumentList.Add(dll);
        foreach (var a in args) info.ArgumentList.Add(a);
        var process = new Process { StartInfo = info };
        var result = new KcmProcess(process);
        process.OutputDataReceived += (_, e) => { if (e.Data != null) lock (result._gate) result._stdout.AppendLine(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data != null) lock (result._gate) result._stderr.AppendLine(e.Data); };
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return Task.FromResult(result);
    }

    public async Task WaitForOutputAsync(string text)
    {
        while (true)
        {
            lock (_gate)
            {
                if (_stderr.ToString().Contains(text, StringComparison.Ordinal) || _stdout.ToString().Contains(text, StringComparison.Ordinal)) return;
            }
            if (_process.HasExited) throw new InvalidOperationException($"process exited with {_process.ExitCode} before printing '{text}': {Stderr}");
            await Task.Delay(50);
        }
    }

    /// <summary>Sends SIGTERM, as systemd does, and returns the exit code.</summary>
    public async Task<int> TerminateAsync()
    {
        using (var kill = Process.Start("kill", ["-TERM", _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
        {
            await kill.WaitForExitAsync();
        }
        return await WaitForExitAsync();
    }

    public async Task<int> WaitForExitAsync()
    {
        await _process.WaitForExitAsync();
        _process.WaitForExit(); // drains the redirected output
        return _process.ExitCode;
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }
        _process.Dispose();
    }
}

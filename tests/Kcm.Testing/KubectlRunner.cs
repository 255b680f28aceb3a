using System.Diagnostics;

namespace Kcm.Testing;

public sealed record KubectlResult(int ExitCode, string Stdout, string Stderr)
{
    public string Output => Stdout + Stderr;
}

/// <summary>Runs the real kubectl binary (from PATH, or $KUBECTL) against a kubeconfig, with a timeout.</summary>
public sealed class KubectlRunner(string kubeconfig, string cacheDirectory)
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    public static string Binary => Environment.GetEnvironmentVariable("KUBECTL") is { Length: > 0 } path ? path : "kubectl";

    public string Kubeconfig => kubeconfig;

    public Task<KubectlResult> RunAsync(params string[] args) => RunWithInputAsync(null, args);

    /// <summary>Runs and asserts success; returns stdout.</summary>
    public async Task<string> OkAsync(params string[] args)
    {
        var result = await RunAsync(args);
        return result.ExitCode == 0 ? result.Stdout
            : throw new KubectlFailedException($"kubectl {string.Join(' ', args)} exited {result.ExitCode}: {result.Output}");
    }

    public async Task<KubectlResult> RunWithInputAsync(string? stdin, params string[] args)
    {
        var info = new ProcessStartInfo(Binary)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        info.ArgumentList.Add("--kubeconfig=" + kubeconfig);
        info.ArgumentList.Add("--cache-dir=" + cacheDirectory);
        foreach (var a in args) info.ArgumentList.Add(a);
        info.Environment.Remove("KUBECONFIG");
        using var process = StartOrExplain(info);
        if (stdin is not null) await process.StandardInput.WriteAsync(stdin);
        process.StandardInput.Close();
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(Timeout);
        try
        {
            await process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"kubectl {string.Join(' ', args)} did not finish within {Timeout}: {await stdout}{await stderr}");
        }
        return new KubectlResult(process.ExitCode, await stdout, await stderr);
    }

    private static Process StartOrExplain(ProcessStartInfo info)
    {
        try
        {
            return Process.Start(info) ?? throw new InvalidOperationException("kubectl did not start");
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new InvalidOperationException($"these tests drive the real kubectl; none found as '{info.FileName}' (set KUBECTL): {e.Message}", e);
        }
    }
}

/// <summary>A kubectl command a test expected to succeed exited non-zero.</summary>
public sealed class KubectlFailedException(string message) : Exception(message);

using System.Diagnostics;

namespace Kcm.Testing;

/// <summary>Runs `promtool check metrics` (Debian package prometheus, installed by .ci/run) on an exposition.</summary>
public static class Promtool
{
    /// <summary>Returns "" when promtool accepts the text, otherwise its complaints.</summary>
    public static async Task<string> CheckAsync(string exposition)
    {
        var info = new ProcessStartInfo("promtool", "check metrics")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using var process = Process.Start(info) ?? throw new InvalidOperationException("promtool did not start");
        await process.StandardInput.WriteAsync(exposition);
        process.StandardInput.Close();
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        return process.ExitCode == 0 ? "" : $"promtool exit {process.ExitCode}: {await stdout}{await stderr}";
    }
}

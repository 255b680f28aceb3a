using System.Diagnostics;

namespace Kcm.Runtime.Metrics;

/// <summary>The standard process_* series Prometheus clients export, read at scrape time.</summary>
public static class ProcessMetrics
{
    public static void Register(MetricsRegistry registry)
    {
        var cpu = registry.Counter("process_cpu_seconds_total", "CPU seconds (user + system) this process has used.");
        var resident = registry.Gauge("process_resident_memory_bytes", "Bytes of memory resident in RAM.");
        var virtualBytes = registry.Gauge("process_virtual_memory_bytes", "Bytes of virtual memory mapped.");
        var start = registry.Gauge("process_start_time_seconds", "When the process started, in seconds since the Unix epoch.");
        var openFds = registry.Gauge("process_open_fds", "File descriptors currently open.");
        var maxFds = registry.Gauge("process_max_fds", "Limit on open file descriptors.");
        var threads = registry.Gauge("process_threads", "Operating-system threads in the process.");
        using (var self = Process.GetCurrentProcess())
        {
            start.Set(new DateTimeOffset(self.StartTime.ToUniversalTime()).ToUnixTimeMilliseconds() / 1000.0);
        }
        maxFds.Set(ReadMaxFds());
        registry.OnCollect(() =>
        {
            using var self = Process.GetCurrentProcess();
            cpu.SetTotal(self.TotalProcessorTime.TotalSeconds);
            resident.Set(self.WorkingSet64);
            virtualBytes.Set(self.VirtualMemorySize64);
            threads.Set(self.Threads.Count);
            openFds.Set(CountOpenFds());
        });
    }

    private static double CountOpenFds()
    {
        try
        {
            return Directory.GetFileSystemEntries("/proc/self/fd").Length;
        }
        catch (IOException)
        {
            return 0;
        }
        catch (UnauthorizedAccessException)
        {
            return 0;
        }
    }

    private static double ReadMaxFds()
    {
        try
        {
            foreach (var line in File.ReadLines("/proc/self/limits"))
            {
                if (!line.StartsWith("Max open files", StringComparison.Ordinal)) continue;
                var parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                return double.TryParse(parts[3], System.Globalization.CultureInfo.InvariantCulture, out var v) ? v : 0;
            }
        }
        catch (IOException)
        {
        }
        return 0;
    }
}

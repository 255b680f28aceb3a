using System.Globalization;

namespace Kcm.Benchmarks.Compare;

/// <summary>Reads a process's figures from /proc (Linux only): CPU seconds, peak RSS, established connections to a port.</summary>
internal static class ProcStats
{
    private const double ClockTicks = 100; // USER_HZ, 100 on every Linux kernel the benchmark meets

    /// <summary>utime + stime of the process itself (children not counted), or null when it is gone.</summary>
    public static double? CpuSeconds(int pid)
    {
        string stat;
        try
        {
            stat = File.ReadAllText($"/proc/{pid}/stat");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
        // The command name may hold spaces and parentheses: fields are counted after the last ')'.
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        // fields[0] is field 3 (state); utime is field 14, stime field 15.
        return (long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture)) / ClockTicks;
    }

    /// <summary>
    /// CPU seconds the whole machine has spent busy (user, nice, system, irq, softirq, steal; all cores summed) since
    /// boot, from the first line of /proc/stat; null when it cannot be read.
    /// </summary>
    public static double? MachineBusySeconds()
    {
        try
        {
            var cpu = File.ReadLines("/proc/stat").First().Split(' ', StringSplitOptions.RemoveEmptyEntries);
            // cpu user nice system idle iowait irq softirq steal ...
            long Field(int i) => long.Parse(cpu[i], CultureInfo.InvariantCulture);
            return (Field(1) + Field(2) + Field(3) + Field(6) + Field(7) + Field(8)) / ClockTicks;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or IndexOutOfRangeException)
        {
            return null;
        }
    }

    /// <summary>VmHWM in MiB: the kernel's record of the process's peak resident set.</summary>
    public static double? PeakRssMiB(int pid) => StatusKb(pid, "VmHWM:") / 1024;

    public static double? RssMiB(int pid) => StatusKb(pid, "VmRSS:") / 1024;

    private static double? StatusKb(int pid, string field)
    {
        try
        {
            foreach (var line in File.ReadLines($"/proc/{pid}/status"))
            {
                if (line.StartsWith(field, StringComparison.Ordinal))
                {
                    return double.Parse(line[field.Length..].Trim().Split(' ')[0], CultureInfo.InvariantCulture);
                }
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
        }
        return null;
    }

    /// <summary>Established TCP connections the process holds to <paramref name="remotePort"/> (its socket inodes matched in /proc/net/tcp*).</summary>
    public static int EstablishedTo(int pid, int remotePort)
    {
        var inodes = new HashSet<string>(StringComparer.Ordinal);
        try
        {
            foreach (var fd in Directory.EnumerateFiles($"/proc/{pid}/fd"))
            {
                var target = new FileInfo(fd).LinkTarget;
                if (target is not null && target.StartsWith("socket:[", StringComparison.Ordinal)) inodes.Add(target[8..^1]);
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return 0;
        }
        if (inodes.Count == 0) return 0;
        var count = 0;
        foreach (var table in new[] { $"/proc/{pid}/net/tcp", $"/proc/{pid}/net/tcp6" })
        {
            try
            {
                foreach (var line in File.ReadLines(table).Skip(1))
                {
                    // sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode
                    var f = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                    if (f.Length < 10 || f[3] != "01") continue;
                    var port = int.Parse(f[2][(f[2].LastIndexOf(':') + 1)..], NumberStyles.HexNumber, CultureInfo.InvariantCulture);
                    if (port == remotePort && inodes.Contains(f[9])) count++;
                }
            }
            catch (IOException)
            {
            }
        }
        return count;
    }
}

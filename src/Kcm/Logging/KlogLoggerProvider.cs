using System.Globalization;
using Microsoft.Extensions.Logging;

namespace Kcm.Logging;

/// <summary>
/// Writes log lines in klog's header format ("I1121 23:02:57.123456   4242 category] message") to
/// stderr, so log tooling that parses upstream's output keeps working. `--v` maps to the minimum level.
/// </summary>
public sealed class KlogLoggerProvider(TextWriter output, LogLevel minimumLevel, TimeProvider time, bool json = false) : ILoggerProvider
{
    private readonly Lock _gate = new();
    private readonly int _pid = Environment.ProcessId;

    public ILogger CreateLogger(string categoryName) => new KlogLogger(this, ShortName(categoryName));

    public void Dispose() => output.Flush();

    private static string ShortName(string category)
    {
        var dot = category.LastIndexOf('.');
        return dot < 0 ? category : category[(dot + 1)..];
    }

    private void Write(LogLevel level, string category, string message, Exception? exception)
    {
        var now = time.GetUtcNow().UtcDateTime;
        var severity = level switch
        {
            LogLevel.Critical => 'F',
            LogLevel.Error => 'E',
            LogLevel.Warning => 'W',
            _ => 'I',
        };
        if (exception != null) message += ": " + exception.Message;
        var line = json
            ? JsonLine(now, level, category, message)
            : string.Create(CultureInfo.InvariantCulture, $"{severity}{now:MMdd HH:mm:ss.ffffff} {_pid,7} {category}] {message}");
        lock (_gate)
        {
            output.WriteLine(line);
            output.Flush();
        }
    }

    // --logging-format=json: one object per line as component-base's JSON format (ts in milliseconds since the epoch,
    // "v" on info lines); the message keeps its text form, so structured values are inside "msg", not keys of their own.
    private static string JsonLine(DateTime now, LogLevel level, string category, string message)
    {
        var ts = (now - DateTime.UnixEpoch).TotalMilliseconds.ToString("0.###", CultureInfo.InvariantCulture);
        var text = JsonString(message);
        var caller = JsonString(category);
        return level >= LogLevel.Warning
            ? $"{{\"ts\":{ts},\"caller\":{caller},\"msg\":{text}}}"
            : $"{{\"ts\":{ts},\"caller\":{caller},\"msg\":{text},\"v\":{(level == LogLevel.Information ? 0 : level == LogLevel.Debug ? 2 : 4)}}}";
    }

    private static string JsonString(string s)
        => "\"" + System.Text.Json.JsonEncodedText.Encode(s, System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping) + "\"";

    private sealed class KlogLogger(KlogLoggerProvider provider, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel != LogLevel.None && logLevel >= provider.MinimumLevel;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (!IsEnabled(logLevel)) return;
            provider.Write(logLevel, category, formatter(state, exception), exception);
        }
    }

    private LogLevel MinimumLevel => minimumLevel;

    /// <summary>A logger factory writing klog-format lines at the level `--v` asks for.</summary>
    public static ILoggerFactory CreateFactory(int verbosity, TextWriter output, bool json = false)
    {
        var level = LevelForVerbosity(verbosity);
        // Kestrel's per-connection chatter is noise at any klog level; its warnings still show.
        return LoggerFactory.Create(b => b.ClearProviders().SetMinimumLevel(level)
            .AddFilter("Microsoft.AspNetCore", LogLevel.Warning)
            // "Hosting failed" repeats an error the caller reports itself, as its one line.
            .AddFilter("Microsoft.Extensions.Hosting.Internal.Host", LogLevel.Critical)
            .AddProvider(new KlogLoggerProvider(output, level, TimeProvider.System, json)));
    }

    /// <summary>klog verbosity → level: 0-1 information, 2-3 debug, 4+ trace.</summary>
    public static LogLevel LevelForVerbosity(int v) => v switch
    {
        <= 1 => LogLevel.Information,
        <= 3 => LogLevel.Debug,
        _ => LogLevel.Trace,
    };
}

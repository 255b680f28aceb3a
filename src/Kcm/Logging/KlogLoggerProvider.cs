using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Encodings.Web;
using Microsoft.Extensions.Logging;

namespace Kcm.Logging;

/// <summary>
/// Writes log lines as klog does, so tooling that parses upstream's output keeps working:
/// `I1206 07:00:00.123456   12345 File.cs:123] "msg" key="value"` (the call site's file and line; structured
/// values as <see cref="KlogValues"/> writes them), or with --logging-format=json one object per line as
/// component-base's JSON format (ts in milliseconds, caller, msg, v or err, then the values). `--v` maps to
/// the minimum level: V(0-1) information, V(2-3) debug, V(4+) trace. The other commands (dev, apiserver, simulate)
/// use the plain variant (<paramref name="upstreamFormat"/> false): the logger's category in the header and the
/// formatted message, which is what their users and scripts read.
/// </summary>
public sealed class KlogLoggerProvider(TextWriter output, LogLevel minimumLevel, TimeProvider time, bool json = false, bool upstreamFormat = true) : ILoggerProvider
{
    private static readonly JsonWriterOptions JsonOptions = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    private readonly Lock _gate = new();
    private readonly int _pid = Environment.ProcessId;

    public ILogger CreateLogger(string categoryName) => new KlogLogger(this, ShortName(categoryName));

    private static string ShortName(string category)
    {
        var dot = category.LastIndexOf('.');
        return dot < 0 ? category : category[(dot + 1)..];
    }

    public void Dispose() => output.Flush();

    private void Write(LogLevel level, string category, KlogValues.Entry entry)
    {
        var caller = upstreamFormat ? CallSite.Find() : new CallSite.Location("", category, 0);
        var line = json ? JsonLine(level, caller, entry) : TextLine(level, caller, entry);
        lock (_gate)
        {
            output.Write(line);
            output.Flush();
        }
    }

    private string TextLine(LogLevel level, CallSite.Location caller, KlogValues.Entry entry)
    {
        var now = time.GetLocalNow();
        var severity = level switch
        {
            LogLevel.Critical => 'F',
            LogLevel.Error => 'E',
            LogLevel.Warning => 'W',
            _ => 'I',
        };
        var sb = new StringBuilder(128);
        var location = upstreamFormat ? $"{caller.File}:{caller.Line}" : caller.File;
        sb.Append(CultureInfo.InvariantCulture, $"{severity}{now:MMdd HH:mm:ss.ffffff} {_pid,7} {location}] ");
        if (entry.Structured)
        {
            sb.Append(KlogValues.Quote(entry.Message));
            KlogValues.AppendPairs(sb, entry.Values);
        }
        else
        {
            sb.Append(entry.Message);
        }
        return sb.Append('\n').ToString();
    }

    private string JsonLine(LogLevel level, CallSite.Location caller, KlogValues.Entry entry)
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer, JsonOptions))
        {
            w.WriteStartObject();
            var ms = (time.GetUtcNow() - DateTimeOffset.UnixEpoch).Ticks / (double)TimeSpan.TicksPerMillisecond;
            w.WriteNumber("ts", ms);
            w.WriteString("caller", $"{caller.Directory}/{caller.File}:{caller.Line}");
            // Unstructured lines keep the newline klog's printf-style calls end with.
            w.WriteString("msg", entry.Structured ? entry.Message : entry.Message + "\n");
            if (level < LogLevel.Error) w.WriteNumber("v", level switch { LogLevel.Trace => 4, LogLevel.Debug => 2, _ => 0 });
            foreach (var (key, value) in entry.Values)
            {
                w.WritePropertyName(key);
                WriteJsonValue(w, value);
            }
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.ToArray()) + "\n";
    }

    private static void WriteJsonValue(Utf8JsonWriter w, object? value)
    {
        switch (value)
        {
            case null: w.WriteNullValue(); break;
            case bool b: w.WriteBooleanValue(b); break;
            case sbyte or byte or short or ushort or int or uint or long: w.WriteNumberValue(Convert.ToInt64(value, CultureInfo.InvariantCulture)); break;
            case ulong u: w.WriteNumberValue(u); break;
            case double d when double.IsFinite(d): w.WriteNumberValue(d); break;
            case float f when float.IsFinite(f): w.WriteNumberValue(f); break;
            case string s: w.WriteStringValue(s); break;
            case System.Collections.IEnumerable items:
                w.WriteStartArray();
                foreach (var item in items) WriteJsonValue(w, item);
                w.WriteEndArray();
                break;
            default: w.WriteStringValue(KlogValues.Render(value).Text); break;
        }
    }

    private sealed class KlogLogger(KlogLoggerProvider provider, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel != LogLevel.None && logLevel >= provider.MinimumLevel;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (!IsEnabled(logLevel)) return;
            var entry = provider.UpstreamFormat
                ? KlogValues.FromState(state, exception, formatter)
                : KlogValues.FromText(formatter(state, exception), exception);
            provider.Write(logLevel, category, entry);
        }
    }

    private LogLevel MinimumLevel => minimumLevel;

    private bool UpstreamFormat => upstreamFormat;

    /// <summary>A logger factory writing klog-format lines at the level `--v` asks for.</summary>
    public static ILoggerFactory CreateFactory(int verbosity, TextWriter output, bool json = false, bool upstreamFormat = false)
    {
        var level = LevelForVerbosity(verbosity);
        // Kestrel's per-connection chatter is noise at any klog level; its warnings still show. The host's
        // lifetime lines ("Application started", "Hosting environment", "Content root path") have no upstream twin.
        return LoggerFactory.Create(b => b.ClearProviders().SetMinimumLevel(level)
            .AddFilter("Microsoft.AspNetCore", LogLevel.Warning)
            .AddFilter("Microsoft.Hosting.Lifetime", LogLevel.Warning)
            // "Hosting failed" repeats an error the caller reports itself, as its one line.
            .AddFilter("Microsoft.Extensions.Hosting.Internal.Host", LogLevel.Critical)
            .AddProvider(new KlogLoggerProvider(output, level, TimeProvider.System, json, upstreamFormat)));
    }

    /// <summary>klog verbosity → level: 0-1 information, 2-3 debug, 4+ trace.</summary>
    public static LogLevel LevelForVerbosity(int v) => v switch
    {
        <= 1 => LogLevel.Information,
        <= 3 => LogLevel.Debug,
        _ => LogLevel.Trace,
    };
}

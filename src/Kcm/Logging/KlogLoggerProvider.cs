using System.Buffers;
using System.Collections.Concurrent;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Encodings.Web;
using Kcm.Runtime.Logging;
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
/// <param name="verbosity">--v, for lines upstream writes at V(1) (<see cref="Klog.V1"/>); by default what <paramref name="minimumLevel"/> implies.</param>
public sealed class KlogLoggerProvider(TextWriter output, LogLevel minimumLevel, TimeProvider time, bool json = false, bool upstreamFormat = true, int? verbosity = null) : ILoggerProvider
{
    private readonly int _verbosity = verbosity ?? VerbosityOf(minimumLevel);

    private static readonly JsonWriterOptions JsonOptions = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    private readonly ConcurrentQueue<string> _pending = new();
    private int _writing;

    public ILogger CreateLogger(string categoryName) => new KlogLogger(this, upstreamFormat ? null : new CallSite.Location("", ShortName(categoryName), 0));

    private static string ShortName(string category)
    {
        var dot = category.LastIndexOf('.');
        return dot < 0 ? category : category[(dot + 1)..];
    }

    public void Dispose()
    {
        // A line another thread is still writing is waited for; then whatever is queued goes out.
        var spin = new SpinWait();
        while (!_pending.IsEmpty)
        {
            Drain();
            spin.SpinOnce();
        }
        output.Flush();
    }

    private readonly string _pidField = Environment.ProcessId.ToString(CultureInfo.InvariantCulture).PadLeft(7);

    // One buffer per thread: a line is built without intermediate strings; only the finished line is allocated.
    [ThreadStatic] private static StringBuilder? t_text;
    [ThreadStatic] private static JsonBuffer? t_json;

    private void Write(LogLevel level, int v, CallSite.Location? category, KlogValues.Entry entry)
    {
        var caller = category ?? CallSite.Find(entry.Template);
        if (json)
        {
            var buffer = t_json ??= new JsonBuffer();
            Emit(new string(buffer.Format(time.GetUtcNow(), level, v, caller, entry)));
            return;
        }
        var sb = t_text ??= new StringBuilder(256);
        sb.Clear();
        AppendText(sb, level, caller, entry);
        Emit(sb.ToString());
        if (sb.Capacity > 16 * 1024) t_text = null;
    }

    // Lines go out in the order they were queued. Whoever finds no writer at work becomes it and writes everything
    // queued, so no logging thread spins on a lock held across a write(2): with many workers logging, that spinning
    // was most of a line's cost. The re-check after letting go picks up a line queued while the writer finished.
    private void Emit(string line)
    {
        _pending.Enqueue(line);
        Drain();
    }

    private void Drain()
    {
        while (!_pending.IsEmpty && Interlocked.CompareExchange(ref _writing, 1, 0) == 0)
        {
            try
            {
                while (_pending.TryDequeue(out var next)) output.Write(next);
                output.Flush();
            }
            finally
            {
                Volatile.Write(ref _writing, 0);
            }
        }
    }

    private void AppendText(StringBuilder sb, LogLevel level, CallSite.Location caller, KlogValues.Entry entry)
    {
        var now = time.GetLocalNow();
        var severity = level switch
        {
            LogLevel.Critical => 'F',
            LogLevel.Error => 'E',
            LogLevel.Warning => 'W',
            _ => 'I',
        };
        // klog's header: Lmmdd hh:mm:ss.uuuuuu threadid file:line]
        sb.Append(severity);
        Append2(sb, now.Month);
        Append2(sb, now.Day);
        sb.Append(' ');
        Append2(sb, now.Hour);
        sb.Append(':');
        Append2(sb, now.Minute);
        sb.Append(':');
        Append2(sb, now.Second);
        sb.Append('.');
        var micros = (int)(now.Ticks % TimeSpan.TicksPerSecond / 10);
        for (var div = 100_000; div > 0; div /= 10) sb.Append((char)('0' + micros / div % 10));
        sb.Append(' ').Append(_pidField).Append(' ').Append(upstreamFormat ? caller.Header : caller.File).Append("] ");
        if (entry.Structured)
        {
            KlogValues.AppendQuoted(sb, entry.Message);
            KlogValues.AppendPairs(sb, entry.Values);
        }
        else
        {
            sb.Append(entry.Message);
        }
        sb.Append('\n');
    }

    private static void Append2(StringBuilder sb, int value) => sb.Append((char)('0' + value / 10)).Append((char)('0' + value % 10));

    private sealed class JsonBuffer
    {
        private readonly ArrayBufferWriter<byte> _bytes = new(512);
        private readonly Utf8JsonWriter _writer;
        private char[] _chars = new char[512];

        public JsonBuffer() => _writer = new Utf8JsonWriter(_bytes, JsonOptions);

        public ReadOnlySpan<char> Format(DateTimeOffset now, LogLevel level, int v, CallSite.Location caller, KlogValues.Entry entry)
        {
            _bytes.ResetWrittenCount();
            _writer.Reset(_bytes);
            var w = _writer;
            w.WriteStartObject();
            var ms = (now - DateTimeOffset.UnixEpoch).Ticks / (double)TimeSpan.TicksPerMillisecond;
            w.WriteNumber("ts", ms);
            w.WriteString("caller", caller.Caller);
            // Unstructured lines keep the newline klog's printf-style calls end with.
            w.WriteString("msg", entry.Structured ? entry.Message : entry.Message + "\n");
            if (level < LogLevel.Error) w.WriteNumber("v", v);
            foreach (var (key, value) in entry.Values)
            {
                w.WritePropertyName(key);
                WriteJsonValue(w, value);
            }
            w.WriteEndObject();
            w.Flush();
            var written = _bytes.WrittenSpan;
            var needed = Encoding.UTF8.GetMaxCharCount(written.Length) + 1;
            if (_chars.Length < needed) _chars = new char[Math.Max(needed, _chars.Length * 2)];
            var count = Encoding.UTF8.GetChars(written, _chars);
            _chars[count] = '\n';
            return _chars.AsSpan(0, count + 1);
        }
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

    // category: the header's fixed location for the plain format; null finds the call site per line.
    private sealed class KlogLogger(KlogLoggerProvider provider, CallSite.Location? category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel != LogLevel.None && logLevel >= provider.MinimumLevel;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (!IsEnabled(logLevel)) return;
            var v = VerbosityOf(logLevel);
            if (eventId == Klog.V1 && logLevel == LogLevel.Information)
            {
                if (provider._verbosity < 1) return;
                v = 1;
            }
            var entry = provider.UpstreamFormat
                ? KlogValues.FromState(state, exception, formatter, structured: eventId == Klog.InfoS)
                : KlogValues.FromText(formatter(state, exception), exception);
            provider.Write(logLevel, v, category, entry);
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
            .AddProvider(new KlogLoggerProvider(output, level, TimeProvider.System, json, upstreamFormat, verbosity)));
    }

    /// <summary>The klog verbosity a line of <paramref name="level"/> is written at (the least that shows it).</summary>
    private static int VerbosityOf(LogLevel level) => level switch { LogLevel.Trace => 4, LogLevel.Debug => 2, _ => 0 };

    /// <summary>klog verbosity → level: 0-1 information, 2-3 debug, 4+ trace.</summary>
    public static LogLevel LevelForVerbosity(int v) => v switch
    {
        <= 1 => LogLevel.Information,
        <= 3 => LogLevel.Debug,
        _ => LogLevel.Trace,
    };
}

using Microsoft.Extensions.Logging;

namespace Kcm.Controllers.Tests.Support;

/// <summary>Appends every log line to a file; fixtures use it when KCM_TEST_LOG names one, to diagnose a slow or stuck controller.</summary>
public sealed class DebugFileLoggerProvider(string path) : ILoggerProvider
{
    public const string Variable = "KCM_TEST_LOG";

    private readonly object _lock = new();

    /// <summary>A trace-level factory writing to $KCM_TEST_LOG, or null when the variable is unset.</summary>
    public static ILoggerFactory? FromEnvironment()
        => Environment.GetEnvironmentVariable(Variable) is { Length: > 0 } path
            ? LoggerFactory.Create(b => b.AddProvider(new DebugFileLoggerProvider(path)).SetMinimumLevel(LogLevel.Trace))
            : null;

    /// <summary>Adds the file logger to a factory being built when KCM_TEST_LOG names a file.</summary>
    public static void AddFromEnvironment(ILoggingBuilder builder)
    {
        if (Environment.GetEnvironmentVariable(Variable) is { Length: > 0 } path)
        {
            builder.AddProvider(new DebugFileLoggerProvider(path));
        }
    }

    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

    public void Dispose()
    {
    }

    private void Write(string line)
    {
        lock (_lock)
        {
            File.AppendAllText(path, line + Environment.NewLine);
        }
    }

    private sealed class Logger(DebugFileLoggerProvider provider, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
            => provider.Write($"{DateTime.UtcNow:HH:mm:ss.fff} {logLevel} {category}: {formatter(state, exception)} {exception?.Message}");
    }
}

using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace Kcm.Controllers.Tests.Support;

/// <summary>
/// Keeps the lines the controllers log at <paramref name="minimum"/> or above (warnings and errors by default) so a
/// test can show them, or wait for one that names its own object.
/// </summary>
public sealed class RecordingLoggerProvider(LogLevel minimum = LogLevel.Warning) : ILoggerProvider
{
    public ConcurrentQueue<string> Entries { get; } = new();

    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

    /// <summary>How many recorded lines contain <paramref name="text"/>.</summary>
    public int Count(string text) => Entries.Count(e => e.Contains(text, StringComparison.Ordinal));

    public void Dispose()
    {
    }

    private sealed class Logger(RecordingLoggerProvider provider, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= provider._minimum;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (IsEnabled(logLevel))
            {
                provider.Entries.Enqueue($"{DateTime.UtcNow:HH:mm:ss.fff} {logLevel} {category}: {formatter(state, exception)} {exception?.GetType().Name} {exception?.Message}");
            }
        }
    }

    private readonly LogLevel _minimum = minimum;
}

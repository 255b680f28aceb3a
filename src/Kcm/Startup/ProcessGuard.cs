using System.Globalization;
using Kcm.Logging;
using Microsoft.Extensions.Logging;

namespace Kcm.Startup;

/// <summary>
/// The process-wide safety net: an exception no code handled ends the process with one `"command failed"` line and
/// exit code 1 instead of .NET's "Unhandled exception" dump and SIGABRT. A task exception nobody observed fails the
/// process the same way while it is still starting; once it runs, it is logged as one error line (the runtime's
/// default is to drop it silently), because such exceptions surface only when the GC finalizes the task.
/// </summary>
public sealed class ProcessGuard : IDisposable
{
    private readonly TextWriter _stderr;
    private readonly ILoggerFactory _loggers;
    private readonly ILogger _logger;
    private readonly int _verbosity;
    private volatile bool _started;

    public ProcessGuard(TextWriter stderr, int verbosity)
    {
        _stderr = stderr;
        _verbosity = verbosity;
        _loggers = KlogLoggerProvider.CreateFactory(verbosity, stderr, upstreamFormat: true);
        _logger = _loggers.CreateLogger("controllermanager");
        AppDomain.CurrentDomain.UnhandledException += OnUnhandledException;
        TaskScheduler.UnobservedTaskException += OnUnobservedTaskException;
    }

    /// <summary>Start-up is over: later unobserved task exceptions are logged, not fatal.</summary>
    public void MarkStarted() => _started = true;

    /// <summary>Reports <paramref name="error"/> as the command's failure; returns the exit code.</summary>
    public int Fail(Exception error) => CommandFailure.Report(_logger, _stderr, error, _verbosity);

    private void OnUnhandledException(object sender, UnhandledExceptionEventArgs e)
    {
        Fail(e.ExceptionObject as Exception ?? new InvalidOperationException(Convert.ToString(e.ExceptionObject, CultureInfo.InvariantCulture)));
        Environment.Exit(CommandFailure.ExitCode);
    }

    private void OnUnobservedTaskException(object? sender, UnobservedTaskExceptionEventArgs e)
    {
        e.SetObserved();
        var error = e.Exception.InnerExceptions.Count == 1 ? e.Exception.InnerExceptions[0] : e.Exception;
        if (_started)
        {
            _logger.LogError("Unobserved task exception: {Error}", CommandFailure.GoQuote(CommandFailure.OneLine(error)));
            return;
        }
        Fail(error);
        Environment.Exit(CommandFailure.ExitCode);
    }

    /// <summary>The (last) -v/--v level on a command line, read before flags are parsed (for the guard's own stack traces).</summary>
    public static int VerbosityOf(IReadOnlyList<string> args)
    {
        var result = 0;
        for (var i = 0; i < args.Count; i++)
        {
            var arg = args[i];
            string? value = null;
            foreach (var prefix in new[] { "--v=", "-v=" })
            {
                if (arg.StartsWith(prefix, StringComparison.Ordinal)) value = arg[prefix.Length..];
            }
            if (value == null && arg is "--v" or "-v" && i + 1 < args.Count) value = args[i + 1];
            if (value == null && arg.StartsWith("-v", StringComparison.Ordinal) && arg.Length > 2 && char.IsAsciiDigit(arg[2])) value = arg[2..];
            if (value != null && int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var level)) result = level;
        }
        return result;
    }

    public void Dispose()
    {
        AppDomain.CurrentDomain.UnhandledException -= OnUnhandledException;
        TaskScheduler.UnobservedTaskException -= OnUnobservedTaskException;
        _loggers.Dispose();
    }
}

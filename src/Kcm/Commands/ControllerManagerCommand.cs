using Kcm.Logging;
using Kcm.Manager;
using Kcm.Options;
using Kcm.Startup;
using Microsoft.Extensions.Logging;

namespace Kcm.Commands;

/// <summary>
/// The executable without a subcommand: the drop-in kube-controller-manager, upstream's flags only. A bad flag
/// value ends it as cli.Run does ("Error: ..."); anything refused after the flags are parsed (validation, files,
/// kubeconfig, listener, controller start) is one `"command failed" err="..."` line and exit code 1.
/// </summary>
public sealed class ControllerManagerCommand(ProcessGuard? guard = null) : ICommand
{
    public async Task<int> RunAsync(IReadOnlyList<string> args, TextWriter stdout, TextWriter stderr)
    {
        var options = KubeControllerManagerOptions.Parse(args);
        if (options.HelpRequested)
        {
            await stdout.WriteAsync(KubeControllerManagerOptions.Usage());
            // Beyond upstream, after its flags so upstream's part of the text stays as it is.
            await stdout.WriteAsync("\n" + Program.TopLevelUsage() + "\n");
            return 0;
        }
        if (options.VersionRequested.Length > 0)
        {
            await stdout.WriteLineAsync($"Kubernetes {ControllerManagerHost.Version}");
            return 0;
        }

        using var loggers = KlogLoggerProvider.CreateFactory(options.Logs.Verbosity, stderr, json: options.Logs.Format == "json", upstreamFormat: true);
        var logger = loggers.CreateLogger("controllermanager");
        // As cliflag.PrintFlags at V(1): every flag with its value, before anything else is logged.
        if (options.Logs.Verbosity >= 1)
        {
            foreach (var (name, value) in options.FlagValues()) logger.LogInformation("FLAG: --{Name}=\"{Value}\"", name, value);
        }
        using var signal = new ShutdownSignal();
        try
        {
            var errors = options.Validate().Concat(ControllerRegistry.ValidateInputs(options)).ToList();
            if (errors.Count > 0)
            {
                // As utilerrors.NewAggregate: one error as it is, several as "[a, b]".
                throw new StartupException(errors.Count == 1 ? errors[0] : $"[{string.Join(", ", errors)}]");
            }

            var host = new ControllerManagerHost(options, loggers, TimeProvider.System) { OnStarted = () => guard?.MarkStarted() };
            return await host.RunAsync(signal.Token) == ManagerExit.Stopped ? 0 : 1;
        }
        catch (OperationCanceledException) when (signal.Token.IsCancellationRequested)
        {
            return 0;
        }
        catch (Exception e) when (e is not FlagException)
        {
            return CommandFailure.Report(logger, stderr, e, options.Logs.Verbosity);
        }
    }
}

using Kcm.Logging;
using Kcm.Manager;
using Kcm.Options;
using Microsoft.Extensions.Logging;

namespace Kcm.Commands;

/// <summary>The executable without a subcommand: the drop-in kube-controller-manager, upstream's flags only.</summary>
public sealed class ControllerManagerCommand : ICommand
{
    public async Task<int> RunAsync(IReadOnlyList<string> args, TextWriter stdout, TextWriter stderr)
    {
        var options = KubeControllerManagerOptions.Parse(args);
        if (options.HelpRequested)
        {
            await stdout.WriteAsync(KubeControllerManagerOptions.Usage());
            return 0;
        }
        if (options.VersionRequested.Length > 0)
        {
            await stdout.WriteLineAsync($"Kubernetes {ControllerManagerHost.Version}");
            return 0;
        }
        var errors = options.Validate().Concat(Manager.ControllerRegistry.ValidateInputs(options)).ToList();
        if (errors.Count > 0)
        {
            foreach (var error in errors) await stderr.WriteLineAsync($"Error: {error}");
            return 1;
        }

        using var signal = new ShutdownSignal();
        using var loggers = KlogLoggerProvider.CreateFactory(options.Logs.Verbosity, stderr);
        var host = new ControllerManagerHost(options, loggers, TimeProvider.System);
        try
        {
            return await host.RunAsync(signal.Token) == ManagerExit.Stopped ? 0 : 1;
        }
        catch (Exception e) when (e is Kcm.Client.Config.KubeconfigException or Kcm.Serving.ServingCertificateException or IOException)
        {
            loggers.CreateLogger("controllermanager").LogError("{Message}", e.Message);
            return 1;
        }
    }
}

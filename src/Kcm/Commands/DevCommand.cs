using Kcm.ApiServer.Hosting;
using Kcm.Logging;
using Kcm.Options;

namespace Kcm.Commands;

/// <summary>
/// `kube-controller-manager dev`: the one-command development setup. Starts the embedded API
/// server with its certificates and admin kubeconfig under --state-dir and tells the user how to
/// point kubectl at it. (The controller manager joins this command in a later issue.)
/// </summary>
public sealed class DevCommand : ICommand
{
    public async Task<int> RunAsync(IReadOnlyList<string> args, TextWriter stdout, TextWriter stderr)
    {
        var flags = new FlagSet("kube-controller-manager dev");
        var stateDir = flags.String("state-dir", ".state", "Directory holding the CA, certificates and admin kubeconfig.");
        var securePort = flags.Int("secure-port", 6443, "Port the embedded API server serves HTTPS on (0 picks a free port).");
        var verbosity = flags.Int("v", 0, "Log verbosity (klog levels).");
        flags.Parse(args);
        if (flags.HelpRequested)
        {
            await stdout.WriteAsync(flags.Usage());
            return 0;
        }

        using var signal = new ShutdownSignal();
        using var loggers = KlogLoggerProvider.CreateFactory(verbosity(), stderr);
        var options = new EmbeddedApiServerOptions
        {
            StateDirectory = Path.GetFullPath(stateDir()),
            SecurePort = securePort(),
        };
        return await ApiServerCommand.ServeAsync(options, loggers, stdout, stderr, signal.Token, printKubectlHint: true);
    }
}

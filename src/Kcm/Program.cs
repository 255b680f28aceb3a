using Kcm.Commands;
using Kcm.Options;
using Kcm.Startup;

namespace Kcm;

public static class Program
{
    public static async Task<int> Main(string[] args)
    {
        using var guard = new ProcessGuard(Console.Error, ProcessGuard.VerbosityOf(args));
        // Without a subcommand this is the drop-in controller manager taking upstream's flags only.
        var (name, rest) = args.Length > 0 && !args[0].StartsWith('-') ? (args[0], args[1..]) : ("", args);
        if (name == "")
        {
            InlineSocketCompletions.Prefer();
        }
        ICommand? command = name switch
        {
            "" => new ControllerManagerCommand(guard),
            "apiserver" => new ApiServerCommand(),
            "dev" => new DevCommand(),
            "simulate" => new SimulateCommand(),
            "init" => new Kcm.Init.InitCommand(),
            "status" => new Kcm.Status.StatusCommand(),
            _ => null,
        };
        if (command == null)
        {
            Console.Error.WriteLine($"Error: unknown command \"{name}\" for \"kube-controller-manager\"\n\n{TopLevelUsage()}");
            return 1;
        }
        try
        {
            return await command.RunAsync(rest, Console.Out, Console.Error);
        }
        catch (FlagException e)
        {
            // As cli.Run before logging is set up: a plain line, no klog header.
            Console.Error.WriteLine($"Error: {e.Message}");
            return 1;
        }
        catch (Exception e)
        {
            return guard.Fail(e);
        }
    }

    internal static string TopLevelUsage() => """
        kube-controller-manager: a C# drop-in replacement for the Kubernetes controller manager.

        Usage:
          kube-controller-manager [flags]                      the controller manager (upstream's flags; --help lists them)
          kube-controller-manager dev [--state-dir DIR]        run the embedded API server for development and print how to use kubectl with it
          kube-controller-manager apiserver --state-dir DIR    run only the embedded Kubernetes-compatible API server
          kube-controller-manager simulate --kubeconfig FILE   simulated nodes for any API server: bind pods, make them Running/Ready
          kube-controller-manager init --masters IPS --apiserver URL   certificates, kubeconfig and systemd unit for each master
          kube-controller-manager status --kubeconfig FILE     the leader, the lease and each instance's queues, from /metrics and /healthz

        Run 'kube-controller-manager <command> --help' for a command's flags.
        """;
}

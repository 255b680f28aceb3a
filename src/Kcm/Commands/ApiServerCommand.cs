using Kcm.ApiServer.Hosting;
using Kcm.Logging;
using Kcm.Options;
using Microsoft.Extensions.Logging;

namespace Kcm.Commands;

/// <summary>`kube-controller-manager apiserver`: the embedded API server in the foreground.</summary>
public sealed class ApiServerCommand : ICommand
{
    public async Task<int> RunAsync(IReadOnlyList<string> args, TextWriter stdout, TextWriter stderr)
    {
        var flags = new FlagSet("kube-controller-manager apiserver");
        var stateDir = flags.String("state-dir", "", "Directory holding the CA, certificates and admin kubeconfig (created, and reused when present).");
        var securePort = flags.Int("secure-port", 6443, "Port to serve HTTPS on (0 picks a free port).");
        var bindAddress = flags.String("bind-address", "127.0.0.1", "Address to listen on.");
        var verbosity = flags.Int("v", 0, "Log verbosity (klog levels).");
        flags.Parse(args);
        if (flags.HelpRequested)
        {
            await stdout.WriteAsync(flags.Usage());
            return 0;
        }
        if (stateDir().Length == 0) throw new FlagException("--state-dir is required");

        using var signal = new ShutdownSignal();
        using var loggers = KlogLoggerProvider.CreateFactory(verbosity(), stderr);
        var options = new EmbeddedApiServerOptions
        {
            StateDirectory = Path.GetFullPath(stateDir()),
            SecurePort = securePort(),
            BindAddress = bindAddress(),
        };
        return await ServeAsync(options, loggers, stdout, stderr, signal.Token, alongside: null);
    }

    /// <summary>
    /// Starts the server, runs <paramref name="alongside"/> (if any) until the shutdown signal, stops it;
    /// start-up failures are one line on stderr.
    /// </summary>
    internal static async Task<int> ServeAsync(EmbeddedApiServerOptions options, ILoggerFactory loggers, TextWriter stdout, TextWriter stderr,
        CancellationToken stop, Func<EmbeddedApiServer, CancellationToken, Task>? alongside)
    {
        EmbeddedApiServer server;
        try
        {
            server = await EmbeddedApiServer.StartAsync(options, loggers, stop);
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            return 0;
        }
        catch (Exception e) when (e is Kcm.ApiServer.Certificates.CertificateFileException or IOException or UnauthorizedAccessException or InvalidDataException or System.Security.Cryptography.CryptographicException or FormatException)
        {
            await stderr.WriteLineAsync($"Error: {e.Message}");
            return 1;
        }
        await using (server)
        {
            if (alongside != null)
            {
                await stdout.WriteLineAsync($"""

                    The embedded API server is serving on {server.Url}
                    Use kubectl with it:
                      export KUBECONFIG={server.AdminKubeconfigPath}
                      kubectl get namespaces
                    Press Ctrl-C to stop.
                    """);
                await alongside(server, stop);
            }
            else
            {
                try
                {
                    await Task.Delay(Timeout.Infinite, stop);
                }
                catch (OperationCanceledException)
                {
                }
            }
            await server.StopAsync(CancellationToken.None);
        }
        return 0;
    }
}

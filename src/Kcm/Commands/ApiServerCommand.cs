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
        var options = new EmbeddedApiServerOptions();
        // Same names and meanings as kube-apiserver's flags.
        flags.StringSliceVar("authorization-mode", ["RBAC"], "Ordered list of authorizers: AlwaysAllow, AlwaysDeny, Node, RBAC.", v => options.AuthorizationModes = [.. v]);
        flags.BoolVar("anonymous-auth", false, "Treat requests without credentials as user system:anonymous instead of rejecting them with 401.", v => options.AnonymousAuth = v);
        flags.StringSliceVar("service-account-key-file", [], "PEM files with public keys (or certificates, or private keys) that verify service-account tokens (default DIR/ca.pem).", v => options.ServiceAccountKeyFiles = [.. v]);
        flags.StringVar("service-account-signing-key-file", "", "PEM private key that signs TokenRequest tokens (default DIR/ca-key.pem).", v => options.ServiceAccountSigningKeyFile = v);
        flags.StringSliceVar("service-account-issuer", ["https://kubernetes.default.svc.cluster.local"], "Issuer of service-account tokens; the first signs, all are accepted.", v => options.ServiceAccountIssuers = [.. v]);
        flags.StringSliceVar("api-audiences", [], "Audiences the API accepts in tokens (default: the service-account issuers).", v => options.ApiAudiences = [.. v]);
        flags.StringVar("token-auth-file", "", "CSV of static bearer tokens: token,user,uid,\"group1,group2\".", v => options.TokenAuthFile = v);
        flags.Parse(args);
        if (flags.HelpRequested)
        {
            await stdout.WriteAsync(flags.Usage());
            return 0;
        }
        if (stateDir().Length == 0) throw new FlagException("--state-dir is required");
        // As kube-apiserver's SecureServingOptions.Validate, except that 0 picks a free port here.
        if (securePort() is < 0 or > 65535)
            throw new FlagException($"--secure-port {securePort().ToString(System.Globalization.CultureInfo.InvariantCulture)} must be between 0 and 65535, inclusive. 0 picks a free port");
        if (!System.Net.IPAddress.TryParse(bindAddress(), out _))
            throw new FlagException($"--bind-address: invalid IP address \"{bindAddress()}\"");

        using var signal = new ShutdownSignal();
        using var loggers = KlogLoggerProvider.CreateFactory(verbosity(), stderr);
        options.StateDirectory = Path.GetFullPath(stateDir());
        options.SecurePort = securePort();
        options.BindAddress = bindAddress();
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

using Kcm.Controllers;
using Kcm.Controllers.Certificates;
using Kcm.Options;
using Microsoft.Extensions.Logging;

namespace Kcm.Manager;

/// <summary>Upstream's startCSRSigningController / startCSRApprovingController / startCSRCleanerController (app/certificates.go).</summary>
internal static class CertificatesInitializers
{
    private const int Workers = 5;

    // --cluster-signing-{flag}-*-file names, with the signer each one serves.
    private static readonly (string Flag, string SignerName)[] Signers =
    [
        ("kubelet-serving", Csr.KubeletServingSignerName),
        ("kubelet-client", Csr.KubeApiServerClientKubeletSignerName),
        ("kube-apiserver-client", Csr.KubeApiServerClientSignerName),
        ("legacy-unknown", Csr.LegacyUnknownSignerName),
    ];

    /// <summary>
    /// One signing loop per kubernetes.io signer that has a CA: the shared --cluster-signing-{cert,key}-file pair,
    /// or (when any per-signer flag is set) only that signer's own pair. Nothing to sign with: not started.
    /// </summary>
    public static RunController? Signing(ControllerContext context, KubeControllerManagerOptions options)
    {
        var config = options.CsrSigningController;
        var logger = context.Loggers.CreateLogger("csrsigning");
        var anySpecific = config.KubeletServing.IsSet || config.KubeletClient.IsSet || config.KubeApiServerClient.IsSet || config.LegacyUnknown.IsSet;
        var missingShared = config.ClusterSigningCertFile.Length == 0 || config.ClusterSigningKeyFile.Length == 0;
        if (missingShared && !anySpecific)
        {
            logger.LogInformation("Skipping CSR signer controller because no csr cert/key was specified");
            return null;
        }
        if (!missingShared && anySpecific)
        {
            throw new InvalidOperationException("cannot specify default and per controller certs at the same time");
        }
        var controllers = new List<CsrSigningController>();
        foreach (var (flag, signerName) in Signers)
        {
            var files = config.FilesFor(flag);
            if (files.CertFile.Length == 0 && files.KeyFile.Length == 0)
            {
                logger.LogInformation("Skipping CSR signer controller \"{Signer}\" because specific files were specified for other signers and not this one.", signerName);
                continue;
            }
            try
            {
                controllers.Add(new CsrSigningController(context, new CsrSignerOptions(signerName, files.CertFile, files.KeyFile, config.ClusterSigningDuration)));
            }
            catch (SigningCaLoadException e)
            {
                foreach (var c in controllers) c.Dispose();
                throw new SigningCaLoadException($"failed to start {signerName} certificate controller: {e.Message}", e);
            }
        }
        return async ct =>
        {
            try
            {
                await Task.WhenAll(controllers.Select(c => c.RunAsync(Workers, ct)));
            }
            finally
            {
                foreach (var c in controllers) c.Dispose();
            }
        };
    }

    public static RunController Approving(ControllerContext context, KubeControllerManagerOptions options)
    {
        var controller = new CsrApprovingController(context);
        return ct => controller.RunAsync(Workers, ct);
    }

    public static RunController Cleaning(ControllerContext context, KubeControllerManagerOptions options)
    {
        var controller = new CsrCleanerController(context);
        return ct => controller.RunAsync(1, ct);
    }
}

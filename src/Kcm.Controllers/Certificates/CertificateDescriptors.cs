using Microsoft.Extensions.Logging;

namespace Kcm.Controllers.Certificates;

/// <summary>The CA files one kubernetes.io signer signs with (empty: that signer is not run).</summary>
public sealed record CsrSignerCaFiles(string SignerName, string CertFile, string KeyFile);

/// <param name="Signers">Each signer's files: its own pair when any per-signer flag is set, else the shared pair.</param>
/// <param name="SharedPairSet">--cluster-signing-{cert,key}-file both given.</param>
/// <param name="AnySpecific">Any --cluster-signing-{signer}-*-file given.</param>
/// <param name="Duration">--cluster-signing-duration.</param>
public sealed record CsrSigningSettings(IReadOnlyList<CsrSignerCaFiles> Signers, bool SharedPairSet, bool AnySpecific, TimeSpan Duration);

/// <summary>Upstream's startCSRSigningController / startCSRApprovingController / startCSRCleanerController (app/certificates.go).</summary>
public static class CertificateDescriptors
{
    public const string ClientName = "certificate-controller";

    private const int Workers = 5;

    public static ControllerDescriptor<CsrSigningSettings> Signing { get; } = new("csrsigning", ClientName, StartSigning);

    public static ControllerDescriptor<NoSettings> Approving { get; } = new(CsrApprovingController.ControllerName, ClientName, (context, _) =>
    {
        var controller = new CsrApprovingController(context);
        return ct => controller.RunAsync(Workers, ct);
    });

    public static ControllerDescriptor<NoSettings> Cleaning { get; } = new(CsrCleanerController.ControllerName, ClientName, (context, _) =>
    {
        var controller = new CsrCleanerController(context);
        return ct => controller.RunAsync(1, ct);
    });

    /// <summary>
    /// One signing loop per kubernetes.io signer that has a CA: the shared --cluster-signing-{cert,key}-file pair,
    /// or (when any per-signer flag is set) only that signer's own pair. Nothing to sign with: not started.
    /// </summary>
    private static RunController? StartSigning(ControllerContext context, CsrSigningSettings settings)
    {
        var logger = context.Loggers.CreateLogger("csrsigning");
        if (!settings.SharedPairSet && !settings.AnySpecific)
        {
            logger.LogDebug("skipping CSR signer controller because no csr cert/key was specified");
            return null;
        }
        if (settings.SharedPairSet && settings.AnySpecific)
        {
            throw new InvalidOperationException("cannot specify default and per controller certs at the same time");
        }
        var controllers = new List<CsrSigningController>();
        foreach (var files in settings.Signers)
        {
            if (files.CertFile.Length == 0 && files.KeyFile.Length == 0)
            {
                logger.LogDebug("skipping CSR signer controller \"{Signer}\" because specific files were specified for other signers and not this one.", files.SignerName);
                continue;
            }
            try
            {
                controllers.Add(new CsrSigningController(context, new CsrSignerOptions(files.SignerName, files.CertFile, files.KeyFile, settings.Duration)));
            }
            catch (SigningCaLoadException e)
            {
                foreach (var c in controllers) c.Dispose();
                throw new SigningCaLoadException($"failed to start {files.SignerName} certificate controller: {e.Message}", e);
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
}

using Kcm.Controllers;
using Kcm.Controllers.Certificates;
using Kcm.Options;

namespace Kcm.Manager;

/// <summary>The csrsigning controller's settings from its flag group (upstream's startCSRSigningController reads them so).</summary>
internal static class CertificatesInitializers
{
    // --cluster-signing-{flag}-*-file names, with the signer each one serves.
    private static readonly (string Flag, string SignerName)[] Signers =
    [
        ("kubelet-serving", Csr.KubeletServingSignerName),
        ("kubelet-client", Csr.KubeApiServerClientKubeletSignerName),
        ("kube-apiserver-client", Csr.KubeApiServerClientSignerName),
        ("legacy-unknown", Csr.LegacyUnknownSignerName),
    ];

    public static CsrSigningSettings SigningSettings(KubeControllerManagerOptions options)
    {
        var config = options.CsrSigningController;
        var anySpecific = config.KubeletServing.IsSet || config.KubeletClient.IsSet || config.KubeApiServerClient.IsSet || config.LegacyUnknown.IsSet;
        var sharedPairSet = config.ClusterSigningCertFile.Length > 0 && config.ClusterSigningKeyFile.Length > 0;
        var signers = new List<CsrSignerCaFiles>();
        foreach (var (flag, signerName) in Signers)
        {
            var files = config.FilesFor(flag);
            signers.Add(new CsrSignerCaFiles(signerName, files.CertFile, files.KeyFile));
        }
        return new CsrSigningSettings(signers, sharedPairSet, anySpecific, config.ClusterSigningDuration);
    }

    /// <summary>The csrsigning controller as the manager starts it.</summary>
    public static RunController? Signing(ControllerContext context, KubeControllerManagerOptions options)
        => CertificateDescriptors.Signing.Start(context, SigningSettings(options));
}

using Kcm.Api.Certificates.V1;

namespace Kcm.Controllers.Certificates;

/// <summary>The well-known signer names and condition types of certificates.k8s.io/v1, and upstream's condition helpers.</summary>
public static class Csr
{
    public const string KubeApiServerClientSignerName = "kubernetes.io/kube-apiserver-client";
    public const string KubeApiServerClientKubeletSignerName = "kubernetes.io/kube-apiserver-client-kubelet";
    public const string KubeletServingSignerName = "kubernetes.io/kubelet-serving";
    public const string LegacyUnknownSignerName = "kubernetes.io/legacy-unknown";

    public const string Approved = "Approved";
    public const string Denied = "Denied";
    public const string Failed = "Failed";

    /// <summary>Approved and not denied (a request carrying both is not signed).</summary>
    public static bool IsApproved(CertificateSigningRequest csr)
    {
        var (approved, denied) = ApprovalState(csr);
        return approved && !denied;
    }

    /// <summary>Whether an Approved and/or Denied condition is present, whatever its status (as upstream's GetCertApprovalCondition).</summary>
    public static (bool Approved, bool Denied) ApprovalState(CertificateSigningRequest csr)
    {
        bool approved = false, denied = false;
        foreach (var c in csr.Status?.Conditions ?? [])
        {
            if (c.Type == Approved) approved = true;
            if (c.Type == Denied) denied = true;
        }
        return (approved, denied);
    }

    /// <summary>A condition of this type whose status is True (or empty, which older clients wrote).</summary>
    public static bool HasTrueCondition(CertificateSigningRequest csr, string type)
        => (csr.Status?.Conditions ?? []).Any(c => c.Type == type && (string.IsNullOrEmpty(c.Status) || c.Status == "True"));

    public static bool IsIssued(CertificateSigningRequest csr) => csr.Status?.Certificate is { Length: > 0 };

    public static CertificateSigningRequestStatus EnsureStatus(CertificateSigningRequest csr) => csr.Status ??= new CertificateSigningRequestStatus();
}

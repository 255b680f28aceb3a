using System.Globalization;
using Kcm.Api.Codecs;
using Kcm.Options;

namespace Kcm.Manager;

/// <summary>The /configz document: upstream nests the component configuration under "componentconfig".</summary>
public static class Configz
{
    public static Dictionary<string, object?> Build(KubeControllerManagerOptions o) => new()
    {
        ["componentconfig"] = new Dictionary<string, object?>
        {
            ["Generic"] = new Dictionary<string, object?>
            {
                ["Controllers"] = o.Generic.Controllers.ToList(),
                ["MinResyncPeriod"] = GoDuration.Format(o.Generic.MinResyncPeriod),
                ["ClientConnection"] = new Dictionary<string, object?>
                {
                    ["Kubeconfig"] = o.Generic.ClientConnection.Kubeconfig,
                    ["QPS"] = o.Generic.ClientConnection.Qps,
                    ["Burst"] = o.Generic.ClientConnection.Burst,
                },
                ["LeaderElection"] = new Dictionary<string, object?>
                {
                    ["LeaderElect"] = o.Generic.LeaderElection.LeaderElect,
                    ["LeaseDuration"] = GoDuration.Format(o.Generic.LeaderElection.LeaseDuration),
                    ["RenewDeadline"] = GoDuration.Format(o.Generic.LeaderElection.RenewDeadline),
                    ["RetryPeriod"] = GoDuration.Format(o.Generic.LeaderElection.RetryPeriod),
                    ["ResourceLock"] = o.Generic.LeaderElection.ResourceLock,
                    ["ResourceName"] = o.Generic.LeaderElection.ResourceName,
                    ["ResourceNamespace"] = o.Generic.LeaderElection.ResourceNamespace,
                },
            },
            ["KubeCloudShared"] = new Dictionary<string, object?>
            {
                ["ClusterName"] = o.KubeCloudShared.ClusterName,
                ["ClusterCIDR"] = o.KubeCloudShared.ClusterCidr,
                ["AllocateNodeCIDRs"] = o.KubeCloudShared.AllocateNodeCidrs,
                ["UseServiceAccountCredentials"] = o.KubeCloudShared.UseServiceAccountCredentials,
            },
            ["CSRSigningController"] = new Dictionary<string, object?>
            {
                ["ClusterSigningCertFile"] = o.CsrSigningController.ClusterSigningCertFile,
                ["ClusterSigningKeyFile"] = o.CsrSigningController.ClusterSigningKeyFile,
                ["ClusterSigningDuration"] = GoDuration.Format(o.CsrSigningController.ClusterSigningDuration),
            },
            ["SecurePort"] = o.SecureServing.SecurePort.ToString(CultureInfo.InvariantCulture),
        },
    };
}

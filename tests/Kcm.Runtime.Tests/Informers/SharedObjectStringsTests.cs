using System.Text;
using Kcm.Api;
using Kcm.Api.Core.V1;
using Kcm.Runtime.Informers;

namespace Kcm.Runtime.Tests.Informers;

public sealed class SharedObjectStringsTests
{
    private static Pod Decode(string name) => KubeJson.Deserialize<Pod>(Encoding.UTF8.GetBytes($$$"""
        {"apiVersion":"v1","kind":"Pod","metadata":{"name":"{{{name}}}","namespace":"shared-ns","uid":"uid-{{{name}}}",
          "labels":{"app":"web","pod-template-hash":"5d8f"},"annotations":{"note":"short","big":"{{{new string('x', 100)}}}"},
          "ownerReferences":[{"apiVersion":"apps/v1","kind":"ReplicaSet","name":"web-5d8f","uid":"rs-uid","controller":true}]},
         "spec":{"containers":[{"name":"c","image":"registry.k8s.io/pause:3.9","imagePullPolicy":"IfNotPresent",
           "volumeMounts":[{"name":"kube-api-access-{{{name}}}","mountPath":"/var/run/secrets/kubernetes.io/serviceaccount"}]}],
           "tolerations":[{"key":"node.kubernetes.io/not-ready","operator":"Exists","effect":"NoExecute","tolerationSeconds":300}],
           "volumes":[{"name":"kube-api-access-{{{name}}}","projected":{"sources":[{"configMap":{"name":"kube-root-ca.crt","items":[{"key":"ca.crt","path":"ca.crt"}]}}]}}]},
         "status":{"phase":"Pending","qosClass":"BestEffort"}}
        """))!;

    [Fact]
    public void Dedupe_TwoDecodedPods_RepeatedStringsShareOneInstanceUniqueOnesKept()
    {
        var first = Decode("a");
        var second = Decode("b");

        SharedObjectStrings.Dedupe(first);
        SharedObjectStrings.Dedupe(second);

        Assert.Same(first.Metadata!.Namespace, second.Metadata!.Namespace);
        Assert.Same(first.Kind, second.Kind);
        Assert.Same(first.Metadata.Labels!.Keys.First(k => k == "pod-template-hash"), second.Metadata.Labels!.Keys.First(k => k == "pod-template-hash"));
        Assert.Same(first.Metadata.Labels["app"], second.Metadata.Labels["app"]);
        Assert.Same(first.Metadata.Annotations!["note"], second.Metadata.Annotations!["note"]);
        Assert.NotSame(first.Metadata.Annotations["big"], second.Metadata.Annotations["big"]);
        Assert.Same(first.Metadata.OwnerReferences![0].Uid, second.Metadata.OwnerReferences![0].Uid);
        Assert.Same(first.Spec!.Containers![0].Image, second.Spec!.Containers![0].Image);
        Assert.Same(first.Spec.Containers[0].VolumeMounts![0].MountPath, second.Spec.Containers[0].VolumeMounts![0].MountPath);
        Assert.Same(first.Spec.Tolerations![0].Key, second.Spec.Tolerations![0].Key);
        Assert.Same(first.Spec.Volumes![0].Projected!.Sources![0].ConfigMap!.Name, second.Spec.Volumes![0].Projected!.Sources![0].ConfigMap!.Name);
        Assert.Same(first.Status!.Phase, second.Status!.Phase);
        // Values unique per pod are neither pooled nor changed.
        Assert.Equal(("a", "uid-a", "kube-api-access-a"), (first.Metadata.Name, first.Metadata.Uid, first.Spec.Volumes[0].Name));
        Assert.Equal(["app", "pod-template-hash"], second.Metadata.Labels.Keys);
        Assert.Equal(new string('x', 100), second.Metadata.Annotations["big"]);
    }

    [Fact]
    public void Dedupe_EmptyAndNull_ComeBackAsTheyWere()
    {
        Assert.Null(CachedStrings.Dedupe(null));
        Assert.Same(string.Empty, CachedStrings.Dedupe(new StringBuilder().ToString()));
        Assert.Same(CachedStrings.Dedupe(new string('q', 3)), CachedStrings.Dedupe(new string('q', 3)));
    }
}

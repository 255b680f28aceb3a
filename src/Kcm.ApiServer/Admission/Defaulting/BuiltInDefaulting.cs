using System.Text.Json.Nodes;
using Kcm.ApiServer.Storage;

namespace Kcm.ApiServer.Admission.Defaulting;

/// <summary>
/// The defaults a v1.26 kube-apiserver gives built-in kinds (SetDefaults_* of each group's v1 defaults and the pod
/// admission plugins), as one mutating step so objects written here look like those a real server returns.
/// </summary>
public sealed class BuiltInDefaulting(ObjectStore? store = null, Registry.ServiceNetwork? serviceNetwork = null) : IMutatingAdmission
{
    // Without a store (unit use) Services get defaults but no cluster IP or node ports.
    private readonly Registry.ServiceAllocation? _serviceAllocation =
        store is null ? null : new Registry.ServiceAllocation(store, serviceNetwork ?? Registry.ServiceNetwork.Default);

    public void Admit(AdmissionRequest request)
    {
        if (request.Object is not JsonObject obj || request.Operation == AdmissionOperation.Delete) return;
        var creating = request.Operation == AdmissionOperation.Create;
        var spec = obj["spec"] as JsonObject;
        var apiVersion = obj["apiVersion"] is JsonValue v && v.TryGetValue<string>(out var av) ? av : request.Strategy.Entry.GroupVersion;
        switch (request.Strategy.Group, request.Strategy.Resource)
        {
            case ("", "pods"):
                PodAdmissionDefaults.Pod(obj, creating);
                break;
            case ("", "podtemplates"):
                PodDefaults.Template(obj);
                break;
            case ("", "replicationcontrollers"):
                CoreDefaults.ReplicationController(obj);
                break;
            case ("", "services") when spec is not null:
                CoreDefaults.Service(spec);
                // v1 ServiceStatus.loadBalancer is not omitempty: every Service shows "loadBalancer": {}.
                JsonDefaults.GetOrCreate(JsonDefaults.GetOrCreate(obj, "status"), "loadBalancer");
                if (_serviceAllocation is not null) _serviceAllocation.Allocate(request.Name, request.Namespace, spec, creating ? null : request.OldObject?["spec"] as JsonObject);
                else if (!creating) CoreDefaults.KeepAllocatedServiceFields(spec, request.OldObject?["spec"] as JsonObject);
                break;
            case ("", "persistentvolumeclaims"):
                CoreDefaults.PersistentVolumeClaim(obj);
                break;
            case ("", "persistentvolumes"):
                CoreDefaults.PersistentVolume(obj);
                break;
            case ("storage.k8s.io", "storageclasses"):
                // storage/v1 SetDefaults_StorageClass.
                JsonDefaults.SetIfMissing(obj, "reclaimPolicy", "Delete");
                JsonDefaults.SetIfMissing(obj, "volumeBindingMode", "Immediate");
                break;
            case ("", "secrets"):
                Registry.SecretStringData.MergeIntoData(obj);
                CoreDefaults.Secret(obj);
                break;
            case ("", "endpoints"):
                CoreDefaults.Endpoints(obj);
                break;
            case ("apps", "deployments") when spec is not null:
                AppsDefaults.Deployment(spec);
                break;
            case ("apps", "replicasets") when spec is not null:
                AppsDefaults.ReplicaSet(spec);
                break;
            case ("apps", "daemonsets") when spec is not null:
                AppsDefaults.DaemonSet(spec);
                break;
            case ("apps", "statefulsets") when spec is not null:
                AppsDefaults.StatefulSet(spec);
                break;
            case ("batch", "jobs"):
                BatchDefaults.Job(obj, creating);
                break;
            case ("batch", "cronjobs") when spec is not null:
                BatchDefaults.CronJob(spec);
                break;
            case ("autoscaling", "horizontalpodautoscalers") when spec is not null:
                AutoscalingDefaults.HorizontalPodAutoscaler(spec, apiVersion == "autoscaling/v1" ? "v1" : "v2");
                break;
        }
    }
}

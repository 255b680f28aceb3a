using Kcm.Api;
using Kcm.Api.Apps.V1;
using Kcm.Api.Core.V1;
using Kcm.Api.Meta.V1;

namespace Kcm.Runtime.Informers;

/// <summary>
/// Replaces the strings of a freshly decoded object that repeat across the objects of a cache (kind, namespace,
/// labels, owner kinds, a pod's image, policies, well-known paths and tolerations) by shared instances from
/// <see cref="CachedStrings"/>. Run before the object is shared with anyone; values unique per object (names,
/// uids, resourceVersions, IPs, generated volume names) are left alone so they do not fill the pool.
/// </summary>
public static class SharedObjectStrings
{
    public static void Dedupe(IKubernetesObject obj)
    {
        obj.ApiVersion = CachedStrings.Dedupe(obj.ApiVersion);
        obj.Kind = CachedStrings.Dedupe(obj.Kind);
        Metadata(obj.Metadata);
        switch (obj)
        {
            case Pod pod:
                PodSpec(pod.Spec);
                PodStatus(pod.Status);
                break;
            case ReplicaSet replicaSet:
                Template(replicaSet.Spec?.Template);
                break;
            case Deployment deployment:
                Template(deployment.Spec?.Template);
                break;
        }
    }

    private static void Metadata(ObjectMeta? metadata)
    {
        if (metadata is null)
        {
            return;
        }
        metadata.Namespace = CachedStrings.Dedupe(metadata.Namespace);
        metadata.GenerateName = CachedStrings.Dedupe(metadata.GenerateName);
        metadata.Labels = Map(metadata.Labels);
        if (metadata.Finalizers is { } finalizers)
        {
            List(finalizers);
        }
        if (metadata.Annotations is { Count: > 0 } annotations)
        {
            // Long annotation values are mostly unique (last-applied-configuration): only short ones are pooled.
            var shared = new Dictionary<string, string>(annotations.Count, annotations.Comparer);
            foreach (var (key, value) in annotations) shared[CachedStrings.Dedupe(key)] = value.Length <= 64 ? CachedStrings.Dedupe(value) : value;
            metadata.Annotations = shared;
        }
        foreach (var owner in metadata.OwnerReferences ?? [])
        {
            owner.ApiVersion = CachedStrings.Dedupe(owner.ApiVersion);
            owner.Kind = CachedStrings.Dedupe(owner.Kind);
            // A controller owns many objects: its name and uid repeat in each of them.
            owner.Name = CachedStrings.Dedupe(owner.Name);
            owner.Uid = CachedStrings.Dedupe(owner.Uid);
        }
    }

    private static void Template(PodTemplateSpec? template)
    {
        if (template is null)
        {
            return;
        }
        Metadata(template.Metadata);
        PodSpec(template.Spec);
    }

    private static void PodSpec(PodSpec? spec)
    {
        if (spec is null)
        {
            return;
        }
        spec.DnsPolicy = CachedStrings.Dedupe(spec.DnsPolicy);
        spec.RestartPolicy = CachedStrings.Dedupe(spec.RestartPolicy);
        spec.SchedulerName = CachedStrings.Dedupe(spec.SchedulerName);
        spec.ServiceAccount = CachedStrings.Dedupe(spec.ServiceAccount);
        spec.ServiceAccountName = CachedStrings.Dedupe(spec.ServiceAccountName);
        spec.PreemptionPolicy = CachedStrings.Dedupe(spec.PreemptionPolicy);
        spec.PriorityClassName = CachedStrings.Dedupe(spec.PriorityClassName);
        spec.RuntimeClassName = CachedStrings.Dedupe(spec.RuntimeClassName);
        spec.NodeName = CachedStrings.Dedupe(spec.NodeName);
        spec.NodeSelector = Map(spec.NodeSelector);
        foreach (var container in spec.Containers ?? []) Container(container);
        foreach (var container in spec.InitContainers ?? []) Container(container);
        foreach (var toleration in spec.Tolerations ?? [])
        {
            toleration.Key = CachedStrings.Dedupe(toleration.Key);
            toleration.Operator = CachedStrings.Dedupe(toleration.Operator);
            toleration.Value = CachedStrings.Dedupe(toleration.Value);
            toleration.Effect = CachedStrings.Dedupe(toleration.Effect);
        }
        foreach (var volume in spec.Volumes ?? [])
        {
            Volume(volume);
        }
    }

    private static void Container(Container container)
    {
        container.Name = CachedStrings.Dedupe(container.Name);
        container.Image = CachedStrings.Dedupe(container.Image);
        container.ImagePullPolicy = CachedStrings.Dedupe(container.ImagePullPolicy);
        container.TerminationMessagePath = CachedStrings.Dedupe(container.TerminationMessagePath);
        container.TerminationMessagePolicy = CachedStrings.Dedupe(container.TerminationMessagePolicy);
        container.WorkingDir = CachedStrings.Dedupe(container.WorkingDir);
        if (container.Command is { } command)
        {
            List(command);
        }
        if (container.Args is { } args)
        {
            List(args);
        }
        foreach (var env in container.Env ?? [])
        {
            env.Name = CachedStrings.Dedupe(env.Name);
            env.Value = CachedStrings.Dedupe(env.Value);
        }
        foreach (var port in container.Ports ?? [])
        {
            port.Name = CachedStrings.Dedupe(port.Name);
            port.Protocol = CachedStrings.Dedupe(port.Protocol);
        }
        foreach (var mount in container.VolumeMounts ?? [])
        {
            // The service account volume's name is generated per pod ("kube-api-access-xxxxx"): not pooled.
            mount.MountPath = CachedStrings.Dedupe(mount.MountPath);
        }
    }

    private static void Volume(Volume volume)
    {
        if (volume.ConfigMap is { } configMap)
        {
            configMap.Name = CachedStrings.Dedupe(configMap.Name);
        }
        if (volume.Secret is { } secret)
        {
            secret.SecretName = CachedStrings.Dedupe(secret.SecretName);
        }
        if (volume.Projected?.Sources is not { } sources)
        {
            return;
        }
        foreach (var source in sources)
        {
            if (source.ServiceAccountToken is { } token)
            {
                token.Path = CachedStrings.Dedupe(token.Path);
                token.Audience = CachedStrings.Dedupe(token.Audience);
            }
            if (source.ConfigMap is { } projectedConfigMap)
            {
                projectedConfigMap.Name = CachedStrings.Dedupe(projectedConfigMap.Name);
                foreach (var item in projectedConfigMap.Items ?? [])
                {
                    item.Key = CachedStrings.Dedupe(item.Key);
                    item.Path = CachedStrings.Dedupe(item.Path);
                }
            }
            foreach (var file in source.DownwardAPI?.Items ?? [])
            {
                file.Path = CachedStrings.Dedupe(file.Path);
                if (file.FieldRef is { } field)
                {
                    field.ApiVersion = CachedStrings.Dedupe(field.ApiVersion);
                    field.FieldPath = CachedStrings.Dedupe(field.FieldPath);
                }
            }
        }
    }

    private static void PodStatus(PodStatus? status)
    {
        if (status is null)
        {
            return;
        }
        status.Phase = CachedStrings.Dedupe(status.Phase);
        status.QosClass = CachedStrings.Dedupe(status.QosClass);
        status.Reason = CachedStrings.Dedupe(status.Reason);
        status.HostIP = CachedStrings.Dedupe(status.HostIP);
        foreach (var condition in status.Conditions ?? [])
        {
            condition.Type = CachedStrings.Dedupe(condition.Type);
            condition.Status = CachedStrings.Dedupe(condition.Status);
            condition.Reason = CachedStrings.Dedupe(condition.Reason);
        }
        foreach (var container in status.ContainerStatuses ?? [])
        {
            container.Name = CachedStrings.Dedupe(container.Name);
            container.Image = CachedStrings.Dedupe(container.Image);
            container.ImageID = CachedStrings.Dedupe(container.ImageID);
        }
    }

    private static Dictionary<string, string>? Map(Dictionary<string, string>? map)
    {
        if (map is not { Count: > 0 })
        {
            return map;
        }
        var shared = new Dictionary<string, string>(map.Count, map.Comparer);
        foreach (var (key, value) in map) shared[CachedStrings.Dedupe(key)] = CachedStrings.Dedupe(value);
        return shared;
    }

    private static void List(List<string> items)
    {
        for (var i = 0; i < items.Count; i++) items[i] = CachedStrings.Dedupe(items[i]);
    }
}

using Kcm.Api;
using Kcm.Runtime.Informers;
using Kcm.Runtime.Queues;

namespace Kcm.Runtime.Controllers;

/// <summary>The usual controller wiring: every add, update or delete (tombstones included) queues the object's "namespace/name" key.</summary>
public sealed class EnqueueKeyHandler<T>(WorkQueue<string> queue) : IResourceEventHandler<T>
    where T : IKubernetesObject
{
    public void OnAdd(T obj, bool isInInitialList) => queue.Add(ObjectKey.Of(obj).ToString());

    public void OnUpdate(T oldObj, T newObj) => queue.Add(ObjectKey.Of(newObj).ToString());

    public void OnDelete(T obj, bool finalStateUnknown) => queue.Add(ObjectKey.Of(obj).ToString());
}

using Kcm.Api;
using Kcm.Runtime.Informers;
using Kcm.Runtime.Queues;

namespace Kcm.Runtime.Controllers;

/// <summary>The usual controller wiring: every add, update or delete (tombstones included) queues the object's key.</summary>
public sealed class EnqueueKeyHandler<T>(WorkQueue<ObjectKey> queue) : IResourceEventHandler<T>
    where T : IKubernetesObject
{
    public void OnAdd(T obj, bool isInInitialList) => queue.Add(ObjectKey.Of(obj));

    public void OnUpdate(T oldObj, T newObj) => queue.Add(ObjectKey.Of(newObj));

    public void OnDelete(T obj, bool finalStateUnknown) => queue.Add(ObjectKey.Of(obj));
}

using Kcm.Api;
using Kcm.Runtime.Informers;

namespace Kcm.Controllers.Tests.Common;

/// <summary>Hand-fed caches for unit harnesses, indexed as the shared informers index them.</summary>
internal static class TestStores
{
    public static ThreadSafeStore<T> Store<T>()
        where T : class, IKubernetesObject
        => new(ObjectKey.Of, [
            new(KnownIndexers.Namespace, KnownIndexers.ByNamespace(TypedMetadataAccessor<T>.Instance)),
            new(KnownIndexers.ControllerUid, KnownIndexers.ByControllerUid(TypedMetadataAccessor<T>.Instance)),
        ]);
}

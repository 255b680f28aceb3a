namespace Kcm.Runtime.Informers;

/// <summary>
/// Receives an informer's notifications, one at a time and in order, on the handler's own task; a slow handler
/// delays only itself. Objects are the cache's own: never mutate them.
/// </summary>
public interface IResourceEventHandler<in T>
{
    /// <summary><paramref name="isInInitialList"/> is true for objects of the first list (or already cached when the handler was added).</summary>
    void OnAdd(T obj, bool isInInitialList);

    /// <summary>Also called with old == new on a periodic resync, and for every object still present after a relist.</summary>
    void OnUpdate(T oldObj, T newObj);

    /// <summary>
    /// <paramref name="finalStateUnknown"/> is true when the deletion was noticed by a relist rather than seen on the
    /// watch (client-go's DeletedFinalStateUnknown tombstone): <paramref name="obj"/> is then the last state the cache held.
    /// </summary>
    void OnDelete(T obj, bool finalStateUnknown);
}

/// <summary>Which notifications a handler acts on; the others are not queued for it (no wake-up of its task for nothing).</summary>
internal interface IHandledNotifications
{
    bool HandlesAdd { get; }

    bool HandlesUpdate { get; }

    bool HandlesDelete { get; }
}

/// <summary>
/// A handler that says, on the informer's own thread, whether an update concerns it at all. Updates it declines
/// (resyncs included) are never queued, so its task is not woken for them: a lease renewal then costs the handler
/// nothing. The check runs inside the informer's delivery, so it must be cheap, must not block and should not throw
/// (a throw counts as "wanted").
/// </summary>
public interface IUpdateFilter<in T>
{
    bool WantsUpdate(T oldObj, T newObj);
}

/// <summary>A handler from delegates; any of them may be left out (client-go's ResourceEventHandlerFuncs).</summary>
public sealed class ResourceEventHandler<T> : IResourceEventHandler<T>, IHandledNotifications, IUpdateFilter<T>
{
    public Action<T, bool>? Added { get; init; }

    public Action<T, T>? Updated { get; init; }

    /// <summary>
    /// Optional: the cheap part of <see cref="Updated"/> that tells an update it ignores, run on the informer's thread
    /// (see <see cref="IUpdateFilter{T}"/>). Null: every update is delivered.
    /// </summary>
    public Func<T, T, bool>? UpdateWanted { get; init; }

    public Action<T, bool>? Deleted { get; init; }

    bool IHandledNotifications.HandlesAdd => Added is not null;

    bool IHandledNotifications.HandlesUpdate => Updated is not null;

    bool IHandledNotifications.HandlesDelete => Deleted is not null;

    bool IUpdateFilter<T>.WantsUpdate(T oldObj, T newObj) => UpdateWanted?.Invoke(oldObj, newObj) ?? true;

    public void OnAdd(T obj, bool isInInitialList) => Added?.Invoke(obj, isInInitialList);

    public void OnUpdate(T oldObj, T newObj) => Updated?.Invoke(oldObj, newObj);

    public void OnDelete(T obj, bool finalStateUnknown) => Deleted?.Invoke(obj, finalStateUnknown);
}

/// <summary>A handler added to an informer; <see cref="HasSynced"/> once it has been given the whole initial list.</summary>
public interface IEventHandlerRegistration
{
    bool HasSynced { get; }
}

namespace Kcm.Runtime.Informers;

/// <summary>client-go's cache.WaitForCacheSync over several informers.</summary>
public static class CacheSync
{
    /// <summary>True once every informer has its first complete list; false if the token was cancelled first.</summary>
    public static async Task<bool> WaitAsync(IEnumerable<ISharedInformer> informers, CancellationToken cancellationToken)
    {
        var results = await Task.WhenAll(informers.Select(i => i.WaitForCacheSyncAsync(cancellationToken))).ConfigureAwait(false);
        return results.All(synced => synced);
    }
}

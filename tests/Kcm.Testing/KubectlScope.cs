namespace Kcm.Testing;

/// <summary>
/// kubectl with a discovery cache directory of its own, removed on Dispose. kubectl keys its cache by host and port, and
/// test servers reuse ports and change what they serve (CRDs), so a shared ~/.kube/cache could answer from another server.
/// </summary>
public sealed class KubectlScope : IDisposable
{
    private readonly string _cacheDirectory = Path.Combine(Path.GetTempPath(), "kcm-kubectl-cache-" + Guid.NewGuid().ToString("N")[..12]);

    public KubectlScope(string kubeconfig) => Runner = As(kubeconfig);

    /// <summary>kubectl with the kubeconfig this scope was made for.</summary>
    public KubectlRunner Runner { get; }

    /// <summary>kubectl as another user of the same cluster (another kubeconfig), sharing this scope's cache.</summary>
    public KubectlRunner As(string kubeconfig) => new(kubeconfig, _cacheDirectory);

    public void Dispose()
    {
        try
        {
            if (Directory.Exists(_cacheDirectory)) Directory.Delete(_cacheDirectory, recursive: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Best effort, as for the fixture's own directory: a leftover cache must not fail a test.
        }
    }
}

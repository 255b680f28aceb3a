namespace Kcm.Testing;

/// <summary>Polls a condition until it holds; tests of asynchronous controllers assert the state they converge to.</summary>
public static class Eventually
{
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(30);

    /// <summary>Returns the first non-null probe result; throws TimeoutException naming <paramref name="what"/> (and the last value seen) otherwise.</summary>
    public static async Task<T> GetAsync<T>(string what, Func<Task<T?>> probe, TimeSpan? timeout = null)
        where T : class
    {
        var deadline = DateTime.UtcNow + (timeout ?? DefaultTimeout);
        Exception? lastError = null;
        while (true)
        {
            try
            {
                if (await probe() is { } value) return value;
            }
            catch (Exception ex) when (ex is not TimeoutException)
            {
                lastError = ex;
            }
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"timed out waiting for {what}" + (lastError == null ? "" : $" (last error: {lastError.Message})"), lastError);
            }
            await Task.Delay(50);
        }
    }

    /// <summary>Waits until <paramref name="condition"/> is true.</summary>
    public static Task TrueAsync(string what, Func<Task<bool>> condition, TimeSpan? timeout = null)
        => GetAsync<object>(what, async () => await condition() ? new object() : null, timeout);
}

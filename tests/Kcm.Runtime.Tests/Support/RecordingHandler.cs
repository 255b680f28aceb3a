using System.Threading.Channels;
using Kcm.Api;
using Kcm.Runtime.Informers;

namespace Kcm.Runtime.Tests.Support;

/// <summary>Records notifications as short strings ("add ns/a initial", "update ns/a 3->4", "delete ns/a unknown").</summary>
public sealed class RecordingHandler<T> : IResourceEventHandler<T>
    where T : IKubernetesObject
{
    private readonly Channel<string> _events = Channel.CreateUnbounded<string>();

    public void OnAdd(T obj, bool isInInitialList) => Record($"add {ObjectKey.Of(obj)}{(isInInitialList ? " initial" : "")}");

    public void OnUpdate(T oldObj, T newObj)
        => Record($"update {ObjectKey.Of(newObj)} {oldObj.Metadata?.ResourceVersion}->{newObj.Metadata?.ResourceVersion}");

    public void OnDelete(T obj, bool finalStateUnknown) => Record($"delete {ObjectKey.Of(obj)}{(finalStateUnknown ? " unknown" : "")}");

    /// <summary>The next <paramref name="count"/> notifications, failing after 10 seconds.</summary>
    public async Task<List<string>> NextAsync(int count)
    {
        var result = new List<string>();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        while (result.Count < count)
        {
            try
            {
                result.Add(await _events.Reader.ReadAsync(timeout.Token));
            }
            catch (OperationCanceledException)
            {
                throw new TimeoutException($"got only [{string.Join(", ", result)}] of {count} notifications");
            }
        }
        return result;
    }

    /// <summary>Notifications already delivered and not yet read.</summary>
    public List<string> Drain()
    {
        var result = new List<string>();
        while (_events.Reader.TryRead(out var e))
        {
            result.Add(e);
        }
        return result;
    }

    private void Record(string text) => _events.Writer.TryWrite(text);
}

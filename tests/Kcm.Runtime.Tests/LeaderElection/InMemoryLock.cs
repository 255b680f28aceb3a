using System.Runtime.CompilerServices;
using System.Threading.Channels;
using Kcm.Api.Meta.V1;
using Kcm.Client.Errors;
using Kcm.Runtime.LeaderElection;

namespace Kcm.Runtime.Tests.LeaderElection;

/// <summary>One lock object shared by several candidates, with resourceVersion conflicts like the API server's.</summary>
public sealed class InMemoryLockStore(TimeProvider time)
{
    private readonly object _gate = new();
    private readonly List<Channel<LeaderElectionRecord?>> _watchers = [];
    private LeaderElectionRecord? _record;
    private long _version;

    /// <summary>Every successful write, with the fake time it happened.</summary>
    public List<(DateTimeOffset At, string Writer, LeaderElectionRecord Record)> Writes { get; } = [];

    public LeaderElectionRecord? Record
    {
        get
        {
            lock (_gate)
            {
                return _record;
            }
        }
    }

    /// <summary>
    /// Whether <paramref name="writer"/> has written the record. A takeover is recorded here before the new leader's
    /// OnStartedLeading runs; meanwhile its renew timer is already armed, so "started" alone cannot tell a clock-driving
    /// test when to stop moving the clock.
    /// </summary>
    public bool HasWritten(string writer)
    {
        lock (_gate)
        {
            return Writes.Exists(w => w.Writer == writer);
        }
    }

    /// <summary>A write by someone outside the test's candidates (e.g. an upstream Go process).</summary>
    public void Put(LeaderElectionRecord record) => Write("external", record, expectedVersion: null, create: false);

    internal (LeaderElectionRecord? Record, long Version) Read()
    {
        lock (_gate)
        {
            return (_record, _version);
        }
    }

    internal long Write(string writer, LeaderElectionRecord record, long? expectedVersion, bool create)
    {
        lock (_gate)
        {
            if (create && _record is not null)
            {
                throw new AlreadyExistsException(409, new Status { Reason = "AlreadyExists", Message = "lock exists" });
            }
            if (expectedVersion is not null && expectedVersion != _version)
            {
                throw new ConflictException(409, new Status { Reason = "Conflict", Message = "the object has been modified" });
            }
            _record = record;
            _version++;
            Writes.Add((time.GetUtcNow(), writer, record));
            foreach (var watcher in _watchers)
            {
                watcher.Writer.TryWrite(record);
            }
            return _version;
        }
    }

    internal Channel<LeaderElectionRecord?> Subscribe()
    {
        var channel = Channel.CreateUnbounded<LeaderElectionRecord?>();
        lock (_gate)
        {
            _watchers.Add(channel);
            if (_record is not null)
            {
                channel.Writer.TryWrite(_record);
            }
        }
        return channel;
    }

    internal void Unsubscribe(Channel<LeaderElectionRecord?> channel)
    {
        lock (_gate)
        {
            _watchers.Remove(channel);
        }
    }
}

/// <summary>One candidate's view of an <see cref="InMemoryLockStore"/>; <see cref="Fail"/> makes every call throw.</summary>
public sealed class InMemoryLock(InMemoryLockStore store, string identity, TimeProvider? time = null) : IResourceLock
{
    private long? _cachedVersion;
    private volatile bool _fail;

    /// <summary>How long a read that starts at the given time takes on the (fake) clock: a slow API server.</summary>
    public Func<DateTimeOffset, TimeSpan>? ReadLatency { get; set; }

    public string Identity { get; } = identity;

    public bool Fail
    {
        get => _fail;
        set => _fail = value;
    }

    public string Describe() => "test/lock";

    public async Task<ObservedLeaderElectionRecord?> GetAsync(CancellationToken cancellationToken)
    {
        ThrowIfFailing();
        if (ReadLatency is { } latencyAt)
        {
            var clock = time ?? throw new InvalidOperationException("ReadLatency needs the lock's clock");
            if (latencyAt(clock.GetUtcNow()) is { Ticks: > 0 } latency)
            {
                await Task.Delay(latency, clock, cancellationToken);
            }
        }
        var (record, version) = store.Read();
        if (record is null)
        {
            return null;
        }
        _cachedVersion = version;
        return new ObservedLeaderElectionRecord(record, LeaderElectionRecordJson.Serialize(record) + "@" + record.RenewTime?.UtcTicks);
    }

    public Task CreateAsync(LeaderElectionRecord record, CancellationToken cancellationToken)
    {
        ThrowIfFailing();
        _cachedVersion = store.Write(Identity, record, null, create: true);
        return Task.CompletedTask;
    }

    public Task UpdateAsync(LeaderElectionRecord record, CancellationToken cancellationToken)
    {
        ThrowIfFailing();
        var expected = _cachedVersion ?? throw new LockNotInitializedException("not read yet");
        _cachedVersion = store.Write(Identity, record, expected, create: false);
        return Task.CompletedTask;
    }

    public async IAsyncEnumerable<LeaderElectionRecord?> WatchAsync([EnumeratorCancellation] CancellationToken cancellationToken)
    {
        ThrowIfFailing();
        var channel = store.Subscribe();
        try
        {
            await foreach (var record in channel.Reader.ReadAllAsync(cancellationToken))
            {
                yield return record;
            }
        }
        finally
        {
            store.Unsubscribe(channel);
        }
    }

    private void ThrowIfFailing()
    {
        if (_fail)
        {
            throw new HttpRequestException("connection refused (test)");
        }
    }
}

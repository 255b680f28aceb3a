using System.Threading.Channels;
using Kcm.Api.Codecs;
using Kcm.Api.Core.V1;
using Kcm.Api.Meta.V1;
using Kcm.Client;
using Kcm.Client.Errors;
using Microsoft.Extensions.Logging;

namespace Kcm.Runtime.Events;

/// <summary>
/// How a recorder's events are logged, as each upstream controller starts its own broadcaster: most with
/// StartStructuredLogging(0) (`"Event occurred" object=...`), the EndpointSlice, EndpointSlice-mirroring and ephemeral
/// volume controllers with StartLogging(klog.Infof) (`Event(v1.ObjectReference{...}): type: ... reason: ...`), the
/// disruption controller not at all.
/// </summary>
public enum EventLogging
{
    Structured,
    Legacy,
    None,
}

/// <summary>
/// client-go's EventBroadcaster writing to the core/v1 Events API: recorders hand events to a bounded
/// channel (full → the event is dropped and logged, never blocking a controller), one loop correlates
/// them and writes them. A transport failure is retried up to 12 times, 10 s apart, as upstream; a rejection by
/// the server is final; a patch of an event that has disappeared becomes a create.
/// </summary>
public sealed class EventBroadcaster : IAsyncDisposable
{
    private const int QueueLength = 1000;
    private const int MaxTries = 12;
    private static readonly TimeSpan RetryInterval = TimeSpan.FromSeconds(10);

    private readonly KubeApiClient _client;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly Channel<Event> _pending = Channel.CreateBounded<Event>(new BoundedChannelOptions(QueueLength) { FullMode = BoundedChannelFullMode.DropWrite, SingleReader = true });
    private readonly EventCorrelator _correlator;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;

    public EventBroadcaster(KubeApiClient client, ILoggerFactory loggers, TimeProvider? time = null)
    {
        _client = client;
        _time = time ?? TimeProvider.System;
        _logger = loggers.CreateLogger("events");
        _correlator = new EventCorrelator(_time);
        _loop = Task.Run(() => WriteLoopAsync(_stop.Token));
    }

    /// <summary>A recorder whose events carry source.component = <paramref name="component"/> (e.g. "deployment-controller").</summary>
    public IEventRecorder NewRecorder(string component, EventLogging logging = EventLogging.Structured) => new Recorder(this, component, logging);

    private void Enqueue(ObjectReference reference, string type, string reason, string message, string component, EventLogging logging)
    {
        if (type is not (EventTypes.Normal or EventTypes.Warning))
        {
            _logger.LogError("Unsupported event type: {Type}", type);
            return;
        }
        var now = _time.GetUtcNow();
        var e = new Event
        {
            Metadata = new ObjectMeta
            {
                Name = $"{reference.Name}.{(now.UtcTicks - DateTimeOffset.UnixEpoch.UtcTicks) * 100:x}",
                Namespace = string.IsNullOrEmpty(reference.Namespace) ? "default" : reference.Namespace,
            },
            InvolvedObject = reference,
            Reason = reason,
            Message = message,
            FirstTimestamp = now,
            LastTimestamp = now,
            Count = 1,
            Type = type,
            // As client-go's record package (v1.26): only the source names the component; reportingComponent stays empty.
            Source = new EventSource { Component = component },
        };
        // As upstream's StartStructuredLogging(0): every event at V(0), keyed as klog writes it. The reference's fields
        // are Go strings there: an unset one prints "" (the taint manager's pod references carry no apiVersion).
        if (logging == EventLogging.Structured)
        {
            _logger.LogInformation("Event occurred {Object} {FieldPath} {Kind} {ApiVersion} {Type} {Reason} {Message}",
                string.IsNullOrEmpty(reference.Namespace) ? reference.Name : $"{reference.Namespace}/{reference.Name}",
                reference.FieldPath ?? "", reference.Kind ?? "", reference.ApiVersion ?? "", type, reason, message);
        }
        else if (logging == EventLogging.Legacy)
        {
            // klog.Infof("Event(%#v): type: '%v' reason: '%v' %v", ...): the reference in Go syntax.
            _logger.LogInformation("{Message}", $"Event({GoSyntax(reference)}): type: '{type}' reason: '{reason}' {message}");
        }
        if (!_pending.Writer.TryWrite(e))
        {
            _logger.LogError("Event queue is full, dropping event {Reason} for {Kind} {Name}", reason, reference.Kind, reference.Name);
        }
    }

    private async Task WriteLoopAsync(CancellationToken ct)
    {
        try
        {
            await foreach (var e in _pending.Reader.ReadAllAsync(ct).ConfigureAwait(false))
            {
                await RecordAsync(e, ct).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
        }
    }

    private async Task RecordAsync(Event original, CancellationToken ct)
    {
        var decision = _correlator.Correlate(original);
        if (decision.Skip)
        {
            return;
        }
        for (var attempt = 1; attempt <= MaxTries; attempt++)
        {
            try
            {
                var written = await WriteAsync(decision, ct).ConfigureAwait(false);
                _correlator.Written(written);
                return;
            }
            catch (KubeApiException ex)
            {
                // As upstream: a server rejection is final (AlreadyExists, a terminating namespace, forbidden...);
                // only transport errors are retried.
                if (ex is not AlreadyExistsException && !ex.Message.Contains("is being terminated", StringComparison.Ordinal))
                {
                    _logger.LogError("Server rejected event {Reason} for {Name}: {Error} (will not retry!)", original.Reason, original.InvolvedObject?.Name, ex.Message);
                }
                return;
            }
            catch (Exception ex) when (ex is HttpRequestException or TimeoutException && !ct.IsCancellationRequested)
            {
                if (attempt == MaxTries)
                {
                    _logger.LogError("Unable to write event {Reason} for {Name} (retry limit exceeded): {Error}", original.Reason, original.InvolvedObject?.Name, ex.Message);
                    return;
                }
                _logger.LogError("Unable to write event {Reason} for {Name}: {Error} (may retry after sleeping)", original.Reason, original.InvolvedObject?.Name, ex.Message);
                await Task.Delay(RetryInterval, _time, ct).ConfigureAwait(false);
            }
        }
    }

    private async Task<Event> WriteAsync(CorrelatedEvent decision, CancellationToken ct)
    {
        var e = decision.Event;
        if (decision.Patch != null)
        {
            try
            {
                return await _client.PatchAsync<Event>(e.Metadata!.Namespace, e.Metadata.Name!, PatchType.StrategicMerge, decision.Patch, cancellationToken: ct).ConfigureAwait(false);
            }
            catch (NotFoundException)
            {
                // The event expired (or was deleted): start a new one, as upstream does.
                e.Count = 1;
                e.FirstTimestamp = e.LastTimestamp;
                e.Metadata!.Name = $"{e.InvolvedObject!.Name}.{(_time.GetUtcNow().UtcTicks - DateTimeOffset.UnixEpoch.UtcTicks) * 100:x}";
                e.Metadata.ResourceVersion = null;
            }
        }
        e.Metadata!.ResourceVersion = null;
        return await _client.CreateAsync(e, e.Metadata.Namespace, cancellationToken: ct).ConfigureAwait(false);
    }

    /// <summary>Stops after writing what is queued (bounded by a short grace, since the process is stopping).</summary>
    public async ValueTask DisposeAsync()
    {
        _pending.Writer.TryComplete();
        _stop.CancelAfter(TimeSpan.FromSeconds(2));
        await _loop.ConfigureAwait(false);
        _stop.Dispose();
    }

    /// <summary>Go's %#v of a v1.ObjectReference.</summary>
    internal static string GoSyntax(ObjectReference r)
        => $"v1.ObjectReference{{Kind:{GoQuote(r.Kind)}, Namespace:{GoQuote(r.Namespace)}, Name:{GoQuote(r.Name)}, UID:{GoQuote(r.Uid)}, "
            + $"APIVersion:{GoQuote(r.ApiVersion)}, ResourceVersion:{GoQuote(r.ResourceVersion)}, FieldPath:{GoQuote(r.FieldPath)}}}";

    private static string GoQuote(string? value) => GoStrings.Quote(value ?? "");

    private sealed class Recorder(EventBroadcaster broadcaster, string component, EventLogging logging) : IEventRecorder
    {
        public void Event(ObjectReference reference, string type, string reason, string message)
            => broadcaster.Enqueue(reference, type, reason, message, component, logging);
    }
}

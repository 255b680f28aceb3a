using System.Globalization;

namespace Kcm.Client.Transport;

/// <summary>
/// client-go's HTTP/2 switches, from the same environment variables: DISABLE_HTTP2 (any non-empty value) keeps every
/// request on HTTP/1.1; HTTP2_READ_IDLE_TIMEOUT_SECONDS (default 30, 0 turns the health check off) is how long a
/// connection may stay silent before a PING is sent; HTTP2_PING_TIMEOUT_SECONDS (default 15) is how long that PING may
/// go unanswered before the connection, and every request on it, is failed. Unparsable values keep the default, as
/// client-go does after its warning.
/// </summary>
public sealed record Http2Settings
{
    public const string DisableVariable = "DISABLE_HTTP2";
    public const string ReadIdleTimeoutVariable = "HTTP2_READ_IDLE_TIMEOUT_SECONDS";
    public const string PingTimeoutVariable = "HTTP2_PING_TIMEOUT_SECONDS";

    public static readonly TimeSpan DefaultReadIdleTimeout = TimeSpan.FromSeconds(30);
    public static readonly TimeSpan DefaultPingTimeout = TimeSpan.FromSeconds(15);

    /// <summary>The process environment's settings, read once.</summary>
    public static Http2Settings FromEnvironment { get; } = Parse(Environment.GetEnvironmentVariable);

    public bool Enabled { get; init; } = true;

    /// <summary>Zero or less: no health check.</summary>
    public TimeSpan ReadIdleTimeout { get; init; } = DefaultReadIdleTimeout;

    public TimeSpan PingTimeout { get; init; } = DefaultPingTimeout;

    public static Http2Settings Parse(Func<string, string?> environment)
    {
        var readIdle = Seconds(environment(ReadIdleTimeoutVariable)) ?? DefaultReadIdleTimeout;
        var ping = Seconds(environment(PingTimeoutVariable)) ?? DefaultPingTimeout;
        return new Http2Settings
        {
            Enabled = string.IsNullOrEmpty(environment(DisableVariable)),
            ReadIdleTimeout = readIdle,
            // Go's transport treats a zero ping timeout as its 15 s default.
            PingTimeout = ping > TimeSpan.Zero ? ping : DefaultPingTimeout,
        };
    }

    private static TimeSpan? Seconds(string? text)
        => int.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var seconds) ? TimeSpan.FromSeconds(seconds) : null;
}

namespace Kcm.Client.Transport;

/// <summary>
/// The bearer token to send. With a token file the file is re-read when the cached value is older than
/// <see cref="RefreshInterval"/> (client-go's cached file token source uses one minute), so rotated
/// service account tokens are picked up; a failed re-read keeps the last good token.
/// </summary>
public sealed class BearerTokenSource
{
    public static readonly TimeSpan RefreshInterval = TimeSpan.FromMinutes(1);

    private readonly string? _tokenFile;
    private readonly TimeProvider _timeProvider;
    private readonly Lock _gate = new();
    private string? _token;
    private DateTimeOffset _readAt;

    public BearerTokenSource(string? initialToken, string? tokenFile, TimeProvider timeProvider)
    {
        _token = string.IsNullOrEmpty(initialToken) ? null : initialToken;
        _tokenFile = string.IsNullOrEmpty(tokenFile) ? null : tokenFile;
        _timeProvider = timeProvider;
        _readAt = DateTimeOffset.MinValue;
    }

    public string? GetToken()
    {
        if (_tokenFile is null)
        {
            return _token;
        }
        lock (_gate)
        {
            var now = _timeProvider.GetUtcNow();
            if (_token is null || now - _readAt >= RefreshInterval)
            {
                try
                {
                    var fromFile = File.ReadAllText(_tokenFile).Trim();
                    if (fromFile.Length > 0)
                    {
                        _token = fromFile;
                    }
                }
                catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
                {
                    // Keep serving the previous token; the file may be mid-rotation.
                }
                _readAt = now;
            }
            return _token;
        }
    }
}

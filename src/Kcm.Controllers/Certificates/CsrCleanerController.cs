using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Kcm.Api.Certificates.V1;
using Kcm.Client;
using Kcm.Client.Errors;
using Kcm.Runtime.Informers;
using Microsoft.Extensions.Logging;

namespace Kcm.Controllers.Certificates;

/// <summary>
/// Upstream's csrcleaner: every hour, deletes CSRs nobody needs any more so automatic creation and approval do not
/// pile them up: issued ones an hour after approval or once their certificate expired, denied and failed ones an
/// hour after that condition, and ones still pending 24 hours after creation.
/// </summary>
public sealed class CsrCleanerController
{
    public const string ControllerName = "csrcleaner";

    public static readonly TimeSpan PollingInterval = TimeSpan.FromHours(1);
    public static readonly TimeSpan ApprovedExpiration = TimeSpan.FromHours(1);
    public static readonly TimeSpan DeniedExpiration = TimeSpan.FromHours(1);
    public static readonly TimeSpan FailedExpiration = TimeSpan.FromHours(1);
    public static readonly TimeSpan PendingExpiration = TimeSpan.FromHours(24);

    private readonly KubeApiClient _client;
    private readonly SharedInformer<CertificateSigningRequest> _informer;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;

    public CsrCleanerController(ControllerContext context)
    {
        _client = context.Clients.For(CertificateDescriptors.ClientName);
        _informer = context.Informers.InformerFor<CertificateSigningRequest>();
        _time = context.Time;
        _logger = context.Loggers.CreateLogger(ControllerName);
    }

    public async Task RunAsync(int workers, CancellationToken cancellationToken)
    {
        _logger.LogInformation("Starting CSR cleaner controller");
        try
        {
            if (!await _informer.WaitForCacheSyncAsync(cancellationToken).ConfigureAwait(false))
            {
                return;
            }
            // As wait.Until: a pass now, then one an interval after each pass ends.
            await Task.WhenAll(Enumerable.Range(0, workers).Select(async _ =>
            {
                while (!cancellationToken.IsCancellationRequested)
                {
                    await CleanOnceAsync(cancellationToken).ConfigureAwait(false);
                    await Task.Delay(PollingInterval, _time, cancellationToken).ConfigureAwait(false);
                }
            })).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
        finally
        {
            _logger.LogInformation("Shutting down CSR cleaner controller");
        }
    }

    /// <summary>One pass over the cached CSRs; a CSR that cannot be handled is logged and skipped.</summary>
    public async Task CleanOnceAsync(CancellationToken cancellationToken)
    {
        foreach (var csr in _informer.Cache.List())
        {
            try
            {
                await HandleAsync(csr, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                _logger.LogError("Error while attempting to clean CSR \"{Name}\": {Message}", csr.Metadata?.Name, e.Message);
            }
        }
    }

    private async Task HandleAsync(CertificateSigningRequest csr, CancellationToken cancellationToken)
    {
        var name = csr.Metadata?.Name ?? "";
        var now = _time.GetUtcNow();
        var issuedExpired = IsIssuedExpired(csr, now);
        if (IsIssuedPastDeadline(csr, now) || IsDeniedPastDeadline(csr, now) || IsFailedPastDeadline(csr, now) || IsPendingPastDeadline(csr, now) || issuedExpired)
        {
            try
            {
                await _client.DeleteAsync<CertificateSigningRequest>(null, name, cancellationToken: cancellationToken).ConfigureAwait(false);
            }
            catch (NotFoundException)
            {
                // Already gone: that is what we wanted.
            }
            catch (KubeApiException e)
            {
                throw new CleanerException($"unable to delete CSR \"{name}\": {e.Message}", e);
            }
        }
    }

    internal bool IsIssuedExpired(CertificateSigningRequest csr, DateTimeOffset now)
    {
        if (!Csr.IsIssued(csr) || !(csr.Status?.Conditions ?? []).Any(c => c.Type == Csr.Approved)) return false;
        if (now <= CertificateNotAfter(csr)) return false;
        _logger.LogInformation("Cleaning CSR \"{Name}\" as the associated certificate is expired.", csr.Metadata?.Name);
        return true;
    }

    internal bool IsPendingPastDeadline(CertificateSigningRequest csr, DateTimeOffset now)
    {
        // No condition at all is what kubectl shows as Pending.
        if ((csr.Status?.Conditions ?? []).Count > 0 || !IsOlderThan(csr.Metadata?.CreationTimestamp, PendingExpiration, now)) return false;
        _logger.LogInformation("Cleaning CSR \"{Name}\" as it is more than {Age} old and unhandled.", csr.Metadata?.Name, "24h0m0s");
        return true;
    }

    internal bool IsDeniedPastDeadline(CertificateSigningRequest csr, DateTimeOffset now)
    {
        if (!(csr.Status?.Conditions ?? []).Any(c => c.Type == Csr.Denied && IsOlderThan(c.LastUpdateTime, DeniedExpiration, now))) return false;
        _logger.LogInformation("Cleaning CSR \"{Name}\" as it is more than {Age} old and denied.", csr.Metadata?.Name, "1h0m0s");
        return true;
    }

    internal bool IsFailedPastDeadline(CertificateSigningRequest csr, DateTimeOffset now)
    {
        if (!(csr.Status?.Conditions ?? []).Any(c => c.Type == Csr.Failed && IsOlderThan(c.LastUpdateTime, FailedExpiration, now))) return false;
        _logger.LogInformation("Cleaning CSR \"{Name}\" as it is more than {Age} old and failed.", csr.Metadata?.Name, "1h0m0s");
        return true;
    }

    internal bool IsIssuedPastDeadline(CertificateSigningRequest csr, DateTimeOffset now)
    {
        if (!Csr.IsIssued(csr) || !(csr.Status?.Conditions ?? []).Any(c => c.Type == Csr.Approved && IsOlderThan(c.LastUpdateTime, ApprovedExpiration, now))) return false;
        _logger.LogInformation("Cleaning CSR \"{Name}\" as it is more than {Age} old and approved.", csr.Metadata?.Name, "1h0m0s");
        return true;
    }

    // A time that is unset never counts as old.
    private static bool IsOlderThan(DateTimeOffset? t, TimeSpan age, DateTimeOffset now) => t is { } time && now - time > age;

    private static DateTimeOffset CertificateNotAfter(CertificateSigningRequest csr)
    {
        var pem = Encoding.UTF8.GetString(csr.Status!.Certificate!);
        if (!PemEncoding.TryFind(pem, out var fields))
        {
            throw new CleanerException("expected the certificate associated with the CSR to be PEM encoded");
        }
        try
        {
            using var cert = X509CertificateLoader.LoadCertificate(Convert.FromBase64String(pem[fields.Base64Data].ToString()));
            return cert.NotAfter.ToUniversalTime();
        }
        catch (Exception e) when (e is CryptographicException or FormatException)
        {
            throw new CleanerException($"unable to parse certificate data: {e.Message}", e);
        }
    }
}

/// <summary>A CSR the cleaner could not judge or delete; logged, and looked at again on the next pass.</summary>
public sealed class CleanerException(string message, Exception? inner = null) : Exception(message, inner);

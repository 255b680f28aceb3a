using System.Security.Cryptography;
using Kcm.Api.Certificates.V1;
using Kcm.Client;
using Microsoft.Extensions.Logging;

namespace Kcm.Controllers.Certificates;

/// <summary>One kubernetes.io signer: which signer name, its CA files, and the longest validity it gives.</summary>
public sealed record CsrSignerOptions(string SignerName, string CertFile, string KeyFile, TimeSpan CertificateDuration)
{
    /// <summary>Upstream's controller (and log) name for each signer.</summary>
    public string ControllerName => SignerName switch
    {
        Csr.KubeletServingSignerName => "csrsigning-kubelet-serving",
        Csr.KubeApiServerClientKubeletSignerName => "csrsigning-kubelet-client",
        Csr.KubeApiServerClientSignerName => "csrsigning-kube-apiserver-client",
        Csr.LegacyUnknownSignerName => "csrsigning-legacy-unknown",
        _ => throw new ArgumentException($"unrecognized signerName: \"{SignerName}\"", nameof(SignerName)),
    };
}

/// <summary>
/// Upstream's csrsigning controller for one signer name: issues a certificate from its CA for every approved,
/// not failed, not yet issued CSR of that signer which passes the signer's rules; a CSR that breaks them (or
/// cannot be read) gets a Failed condition instead. Validity is the shorter of the configured duration and
/// spec.expirationSeconds (at least 10 minutes), backdated 5 minutes, never past the CA's own expiry.
/// </summary>
public sealed class CsrSigningController : IDisposable
{
    public const string FailureReason = "SignerValidationFailure";

    // Upstream: the backdate must stay below the shortest allowed lifetime (10 min); 5 minutes is ~1% of 8 hours.
    private static readonly TimeSpan Backdate = TimeSpan.FromMinutes(5);
    private static readonly TimeSpan ShortLived = TimeSpan.FromHours(8);
    private static readonly TimeSpan MinimumDuration = TimeSpan.FromMinutes(10);

    private readonly CsrSignerOptions _options;
    private readonly KubeApiClient _client;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly SigningCaProvider _ca;
    private readonly CertificateController _controller;

    /// <exception cref="SigningCaLoadException">The CA files cannot be used.</exception>
    public CsrSigningController(ControllerContext context, CsrSignerOptions options)
    {
        _options = options;
        _client = context.Clients.For(CertificateDescriptors.ClientName);
        _time = context.Time;
        _logger = context.Loggers.CreateLogger(options.ControllerName);
        _ca = new SigningCaProvider(options.CertFile, options.KeyFile, _logger);
        _controller = new CertificateController(options.ControllerName, context, HandleAsync);
    }

    public async Task RunAsync(int workers, CancellationToken cancellationToken)
    {
        // Upstream runs the CA file watcher as a controller of its own.
        _logger.LogInformation("Starting controller {name}", _ca.Name);
        try
        {
            await _controller.RunAsync(workers, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _logger.LogInformation("Shutting down controller {name}", _ca.Name);
        }
    }


    internal async Task HandleAsync(CertificateSigningRequest csr, CancellationToken cancellationToken)
    {
        if (!Csr.IsApproved(csr) || Csr.HasTrueCondition(csr, Csr.Failed))
        {
            return;
        }
        if (csr.Spec?.SignerName != _options.SignerName)
        {
            return;
        }
        var name = csr.Metadata?.Name ?? "";
        byte[] certificate;
        try
        {
            var request = CertificateRequestInfo.Parse(csr.Spec.Request, checkSignature: true);
            ValidateForSigner(request, csr.Spec.Usages);
            var policy = new SigningPolicy(Duration(csr.Spec.ExpirationSeconds, _options.CertificateDuration), csr.Spec.Usages ?? [], Backdate, ShortLived);
            var der = _ca.Current().Sign(request, policy, _time.GetUtcNow());
            certificate = System.Text.Encoding.ASCII.GetBytes(PemEncoding.WriteString("CERTIFICATE", der) + "\n");
        }
        catch (Exception e) when (e is CertificateRequestFormatException or SignerValidationException or UnknownUsageException)
        {
            // The request itself is unusable: retrying cannot help, so say so on the CSR.
            var message = e is CertificateRequestFormatException ? $"unable to parse csr \"{name}\": {e.Message}" : e.Message;
            _logger.LogTrace("Refusing to sign CSR {Name}: {Message}", name, message);
            Csr.EnsureStatus(csr).Conditions ??= [];
            csr.Status!.Conditions!.Add(new CertificateSigningRequestCondition
            {
                Type = Csr.Failed,
                Status = "True",
                Reason = FailureReason,
                Message = message,
                LastUpdateTime = _time.GetUtcNow(),
            });
            await _client.UpdateStatusAsync(csr, cancellationToken: cancellationToken).ConfigureAwait(false);
            return;
        }
        Csr.EnsureStatus(csr).Certificate = certificate;
        await _client.UpdateStatusAsync(csr, cancellationToken: cancellationToken).ConfigureAwait(false);
        _logger.LogTrace("Signed CSR {Name} for {Signer}", name, _options.SignerName);
    }

    private void ValidateForSigner(CertificateRequestInfo request, IReadOnlyList<string>? usages)
    {
        switch (_options.SignerName)
        {
            case Csr.KubeletServingSignerName:
                KubeletCsrRules.ValidateKubeletServing(request, usages);
                break;
            case Csr.KubeApiServerClientKubeletSignerName:
                KubeletCsrRules.ValidateKubeletClient(request, usages);
                break;
            case Csr.KubeApiServerClientSignerName:
                KubeletCsrRules.ValidateKubeApiServerClient(usages);
                break;
            case Csr.LegacyUnknownSignerName:
                break; // no restrictions, for compatibility with v1beta1
        }
    }

    /// <summary>spec.expirationSeconds may shorten the configured duration, down to 10 minutes (twice the backdate).</summary>
    internal static TimeSpan Duration(int? expirationSeconds, TimeSpan configured)
    {
        if (expirationSeconds is not { } seconds) return configured;
        var requested = TimeSpan.FromSeconds(seconds);
        if (requested > configured) return configured;
        return requested < MinimumDuration ? MinimumDuration : requested;
    }

    public void Dispose() => _ca.Dispose();
}

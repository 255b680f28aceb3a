using Kcm.Api.Authorization.V1;
using Kcm.Api.Certificates.V1;
using Kcm.Client;
using Kcm.Runtime.Controllers;
using Microsoft.Extensions.Logging;

namespace Kcm.Controllers.Certificates;

/// <summary>
/// Upstream's csrapproving controller (sarapprove.go): approves kubelet client certificate requests for the
/// kube-apiserver-client-kubelet signer when a SubjectAccessReview says the requester may create
/// certificatesigningrequests/selfnodeclient (a node renewing its own identity) or .../nodeclient (any node
/// client certificate, e.g. a bootstrap token). Nothing else is ever auto-approved, kubelet serving included.
/// </summary>
public sealed class CsrApprovingController
{
    public const string ControllerName = "csrapproving";
    public const string ApprovedReason = "AutoApproved";

    private static readonly Recognizer[] Recognizers =
    [
        new(IsSelfNodeClientCert, "selfnodeclient", "Auto approving self kubelet client certificate after SubjectAccessReview."),
        new(IsNodeClientCert, "nodeclient", "Auto approving kubelet client certificate after SubjectAccessReview."),
    ];

    private readonly KubeApiClient _client;
    private readonly CertificateController _controller;

    public CsrApprovingController(ControllerContext context)
    {
        _client = context.Clients.For(CertificateDescriptors.ClientName);
        _controller = new CertificateController(ControllerName, context, HandleAsync);
    }

    public Task RunAsync(int workers, CancellationToken cancellationToken) => _controller.RunAsync(workers, cancellationToken);


    internal async Task HandleAsync(CertificateSigningRequest csr, CancellationToken cancellationToken)
    {
        if (Csr.IsIssued(csr))
        {
            return;
        }
        var (approved, denied) = Csr.ApprovalState(csr);
        if (approved || denied)
        {
            return;
        }
        var name = csr.Metadata?.Name ?? "";
        CertificateRequestInfo request;
        try
        {
            request = CertificateRequestInfo.Parse(csr.Spec?.Request, checkSignature: false);
        }
        catch (CertificateRequestFormatException e)
        {
            // A request that cannot be read is never approved; retried as upstream does.
            throw new CertificateRequestFormatException($"unable to parse csr \"{name}\": {e.Message}", e);
        }

        var tried = new List<string>();
        foreach (var recognizer in Recognizers)
        {
            if (!recognizer.Recognize(csr, request))
            {
                continue;
            }
            tried.Add(recognizer.Subresource);
            if (!await AuthorizeAsync(csr, recognizer.Subresource, cancellationToken).ConfigureAwait(false))
            {
                continue;
            }
            Csr.EnsureStatus(csr).Conditions ??= [];
            csr.Status!.Conditions!.Add(new CertificateSigningRequestCondition
            {
                Type = Csr.Approved,
                Status = "True",
                Reason = ApprovedReason,
                Message = recognizer.SuccessMessage,
            });
            await _client.UpdateApprovalAsync(csr, cancellationToken: cancellationToken).ConfigureAwait(false);
            return;
        }
        if (tried.Count > 0)
        {
            throw new IgnorableReconcileException($"recognized csr \"{name}\" as [{string.Join(" ", tried)}] but subject access review was not approved");
        }
    }

    /// <summary>Asks the API server whether the CSR's requester may "create" the given certificatesigningrequests subresource.</summary>
    private async Task<bool> AuthorizeAsync(CertificateSigningRequest csr, string subresource, CancellationToken cancellationToken)
    {
        var review = new SubjectAccessReview
        {
            Spec = new SubjectAccessReviewSpec
            {
                User = csr.Spec?.Username,
                Uid = csr.Spec?.Uid,
                Groups = csr.Spec?.Groups,
                Extra = csr.Spec?.Extra,
                ResourceAttributes = new ResourceAttributes
                {
                    Group = "certificates.k8s.io",
                    Resource = "certificatesigningrequests",
                    Verb = "create",
                    Subresource = subresource,
                },
            },
        };
        var answer = await _client.CreateAsync(review, cancellationToken: cancellationToken).ConfigureAwait(false);
        return answer.Status?.Allowed == true;
    }

    private static bool IsNodeClientCert(CertificateSigningRequest csr, CertificateRequestInfo request)
        => csr.Spec?.SignerName == Csr.KubeApiServerClientKubeletSignerName && KubeletCsrRules.IsKubeletClient(request, csr.Spec.Usages);

    private static bool IsSelfNodeClientCert(CertificateSigningRequest csr, CertificateRequestInfo request)
        => csr.Spec?.Username == request.CommonName && IsNodeClientCert(csr, request);

    private sealed record Recognizer(Func<CertificateSigningRequest, CertificateRequestInfo, bool> Recognize, string Subresource, string SuccessMessage);
}

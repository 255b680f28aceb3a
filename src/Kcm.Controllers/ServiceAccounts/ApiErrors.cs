using Kcm.Client.Errors;

namespace Kcm.Controllers.ServiceAccounts;

/// <summary>apierrors.HasStatusCause for the causes these controllers look at.</summary>
public static class ApiErrors
{
    /// <summary>v1.NamespaceTerminatingCause: a create was refused because the namespace is being deleted.</summary>
    public const string NamespaceTerminatingCause = "NamespaceTerminating";

    public static bool HasStatusCause(KubeApiException e, string cause)
        => e.Status.Details?.Causes?.Any(c => c.Reason == cause) == true;
}

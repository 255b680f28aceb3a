using Kcm.Client.Errors;

namespace Kcm.Controllers.Common;

/// <summary>apierrors.HasStatusCause for the causes these controllers look at.</summary>
public static class ApiErrors
{
    /// <summary>v1.NamespaceTerminatingCause: a create was refused because the namespace is being deleted.</summary>
    public const string NamespaceTerminatingCause = "NamespaceTerminating";

    public static bool HasStatusCause(KubeApiException e, string cause)
        => e.Status.Details?.Causes?.Any(c => c.Reason == cause) == true;

    /// <summary>A create refused because its namespace is being deleted: nothing a retry could fix.</summary>
    public static bool IsNamespaceTerminating(Exception e)
        => e is KubeApiException api && HasStatusCause(api, NamespaceTerminatingCause);
}

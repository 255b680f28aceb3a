using Kcm.ApiServer.Errors;
using Kcm.ApiServer.Storage;

namespace Kcm.ApiServer.Admission;

/// <summary>
/// Upstream's NamespaceLifecycle admission plugin: the immortal namespaces (default, kube-system, kube-public) cannot
/// be deleted; nothing can be created in a namespace that does not exist (404) or is terminating (403 with a
/// NamespaceTerminating cause). Runs first, as upstream's default plugin order has it.
/// </summary>
public sealed class NamespaceLifecycle(ObjectStore store) : IMutatingAdmission
{
    public static readonly IReadOnlySet<string> ImmortalNamespaces = new HashSet<string>(StringComparer.Ordinal) { "default", "kube-system", "kube-public" };

    public void Admit(AdmissionRequest request)
    {
        var strategy = request.Strategy;
        var isNamespace = strategy.Group.Length == 0 && strategy.Resource == "namespaces";
        if (isNamespace)
        {
            if (request.Operation == AdmissionOperation.Delete && ImmortalNamespaces.Contains(request.Name))
            {
                throw new ApiException(403, "Forbidden", $"namespaces \"{request.Name}\" is forbidden: this namespace may not be deleted",
                    request.Name, null, "namespaces");
            }
            return;
        }
        if (request.Operation != AdmissionOperation.Create || request.Namespace.Length == 0) return;
        if (strategy.Group == "authorization.k8s.io" && strategy.Resource == "localsubjectaccessreviews") return;

        var ns = store.Namespaces.Get(request.Namespace) ?? throw ApiException.NotFound("", "namespaces", request.Namespace);
        if (ObjectEncoder.Parse(ns)["status"]?["phase"]?.GetValue<string>() != "Terminating") return;
        throw Forbidden(strategy.Group, strategy.Resource, request.Name,
            $"unable to create new content in namespace {request.Namespace} because it is being terminated",
            [new StatusCauseInfo("NamespaceTerminating", $"namespace {request.Namespace} is being terminated", "metadata.namespace")]);
    }

    /// <summary>admission.NewForbidden: '&lt;resource&gt; "&lt;name&gt;" is forbidden: &lt;reason&gt;' (without the name when there is none).</summary>
    public static ApiException Forbidden(string group, string resource, string name, string reason, IReadOnlyList<StatusCauseInfo>? causes = null)
    {
        var qualified = ApiException.Qualified(group, resource);
        var subject = name.Length > 0 ? $"{qualified} \"{name}\"" : qualified;
        return new ApiException(403, "Forbidden", $"{subject} is forbidden: {reason}", name, group.Length == 0 ? null : group, resource, causes);
    }
}

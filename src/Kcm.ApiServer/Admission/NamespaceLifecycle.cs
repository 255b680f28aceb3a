using Kcm.ApiServer.Errors;
using Kcm.ApiServer.Storage;

namespace Kcm.ApiServer.Admission;

/// <summary>
/// Upstream's NamespaceLifecycle admission plugin: the immortal namespaces (default, kube-system, kube-public) cannot
/// be deleted; nothing can be created in a namespace that does not exist (404) or is terminating (403 with a
/// NamespaceTerminating cause). Runs first, as upstream's default plugin order has it; the create check runs even earlier
/// (<see cref="CheckCreate"/>).
/// </summary>
public sealed class NamespaceLifecycle : IMutatingAdmission
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
        }
    }

    /// <summary>
    /// The create half of the plugin. The generic store calls it before naming, defaulting and validation, where the
    /// real server answers it (an invalid object in a missing namespace gets the 404, not a 422).
    /// </summary>
    public static void CheckCreate(ObjectStore store, string group, string resource, string ns, string name)
    {
        if (ns.Length == 0) return;
        if (group == "authorization.k8s.io" && resource == "localsubjectaccessreviews") return;

        var stored = store.Namespaces.Get(ns) ?? throw ApiException.NotFound("", "namespaces", ns);
        if (ObjectEncoder.Parse(stored)["status"]?["phase"]?.GetValue<string>() != "Terminating") return;
        throw Forbidden(group, resource, name,
            $"unable to create new content in namespace {ns} because it is being terminated",
            [new StatusCauseInfo("NamespaceTerminating", $"namespace {ns} is being terminated", "metadata.namespace")]);
    }

    /// <summary>admission.NewForbidden: '&lt;resource&gt; "&lt;name&gt;" is forbidden: &lt;reason&gt;' (without the name when there is none).</summary>
    public static ApiException Forbidden(string group, string resource, string name, string reason, IReadOnlyList<StatusCauseInfo>? causes = null)
    {
        var qualified = ApiException.Qualified(group, resource);
        var subject = name.Length > 0 ? $"{qualified} \"{name}\"" : qualified;
        return new ApiException(403, "Forbidden", $"{subject} is forbidden: {reason}", name, group.Length == 0 ? null : group, resource, causes);
    }
}

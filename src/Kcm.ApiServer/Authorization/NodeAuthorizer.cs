using System.Text.Json.Nodes;
using Kcm.ApiServer.Authentication;
using Kcm.ApiServer.Storage;

namespace Kcm.ApiServer.Authorization;

/// <summary>
/// The basics of upstream's Node authorizer: a kubelet (user system:node:NAME in group system:nodes) gets the
/// system:node rules, and secrets, configmaps and persistentvolumeclaims only when a pod bound to its node
/// references them. Upstream's full object graph (persistentvolumes, resourceclaims, attachments) is not modelled:
/// those stay with the other authorizers.
/// </summary>
public sealed class NodeAuthorizer(ObjectStore store) : IAuthorizer, IRuleResolver
{
    public const string NodesGroup = "system:nodes";
    public const string NodeUserPrefix = "system:node:";

    private static readonly AuthorizationResult NoOpinion = new(AuthorizationDecision.NoOpinion, "");
    private static readonly AuthorizationResult Allowed = new(AuthorizationDecision.Allow, "");

    private readonly IReadOnlyList<PolicyRule> _nodeRules = BootstrapPolicy.ClusterRoles
        .Select(json => JsonNode.Parse(json)!)
        .Where(o => StoredObjects.Str(o["metadata"]?["name"]) == "system:node")
        .SelectMany(o => o["rules"] is JsonArray a ? a.Select(PolicyRule.FromJson) : [])
        .ToList();

    public ValueTask<AuthorizationResult> AuthorizeAsync(AuthorizationAttributes a, CancellationToken cancellationToken)
        => ValueTask.FromResult(Authorize(a));

    private AuthorizationResult Authorize(AuthorizationAttributes a)
    {
        if (!a.User.Groups.Contains(NodesGroup) || !a.User.Name.StartsWith(NodeUserPrefix, StringComparison.Ordinal)) return NoOpinion;
        var node = a.User.Name[NodeUserPrefix.Length..];
        if (node.Length == 0) return new AuthorizationResult(AuthorizationDecision.NoOpinion, "unknown node");
        if (a.IsResourceRequest && a.ApiGroup.Length == 0 && a.Subresource.Length == 0 && a.Resource is "secrets" or "configmaps" or "persistentvolumeclaims")
        {
            if (a.Verb is not ("get" or "list" or "watch") || a.Name.Length == 0)
            {
                return new AuthorizationResult(AuthorizationDecision.NoOpinion, "can only get individual resources of this type");
            }
            return ReferencedByPodOnNode(node, a.Resource, a.Namespace, a.Name)
                ? Allowed
                : new AuthorizationResult(AuthorizationDecision.NoOpinion, $"no relationship found between node '{node}' and this object");
        }
        return _nodeRules.Any(r => r.Allows(a)) ? Allowed : NoOpinion;
    }

    /// <summary>As upstream: nodes' permissions cannot be enumerated; everyone else gets nothing from this authorizer.</summary>
    public RuleSet RulesFor(UserInfo user, string @namespace)
        => user.Groups.Contains(NodesGroup) && user.Name.StartsWith(NodeUserPrefix, StringComparison.Ordinal)
            ? new RuleSet([], [], true, "node authorizer does not support user rule resolution")
            : new RuleSet([], [], false, null);

    private bool ReferencedByPodOnNode(string node, string resource, string @namespace, string name)
    {
        var pods = store.Find("", "pods");
        if (pods is null) return false;
        foreach (var (key, o) in pods.Items)
        {
            if (o.Namespace != @namespace) continue;
            var pod = ObjectEncoder.Parse(o);
            if (StoredObjects.Str(pod["spec"]?["nodeName"]) != node) continue;
            if (References(pod, resource).Contains(name)) return true;
        }
        return false;
    }

    private static HashSet<string> References(JsonNode pod, string resource)
    {
        var names = new HashSet<string>(StringComparer.Ordinal);
        var spec = pod["spec"];
        foreach (var volume in spec?["volumes"] as JsonArray ?? [])
        {
            switch (resource)
            {
                case "secrets":
                    names.Add(StoredObjects.Str(volume?["secret"]?["secretName"]));
                    break;
                case "configmaps":
                    names.Add(StoredObjects.Str(volume?["configMap"]?["name"]));
                    break;
                case "persistentvolumeclaims":
                    names.Add(StoredObjects.Str(volume?["persistentVolumeClaim"]?["claimName"]));
                    break;
            }
            foreach (var source in volume?["projected"]?["sources"] as JsonArray ?? [])
            {
                if (resource == "secrets") names.Add(StoredObjects.Str(source?["secret"]?["name"]));
                if (resource == "configmaps") names.Add(StoredObjects.Str(source?["configMap"]?["name"]));
            }
        }
        if (resource == "secrets")
        {
            foreach (var s in spec?["imagePullSecrets"] as JsonArray ?? []) names.Add(StoredObjects.Str(s?["name"]));
        }
        foreach (var list in (string[])["containers", "initContainers", "ephemeralContainers"])
        {
            foreach (var c in spec?[list] as JsonArray ?? [])
            {
                foreach (var from in c?["envFrom"] as JsonArray ?? [])
                {
                    if (resource == "secrets") names.Add(StoredObjects.Str(from?["secretRef"]?["name"]));
                    if (resource == "configmaps") names.Add(StoredObjects.Str(from?["configMapRef"]?["name"]));
                }
                foreach (var env in c?["env"] as JsonArray ?? [])
                {
                    if (resource == "secrets") names.Add(StoredObjects.Str(env?["valueFrom"]?["secretKeyRef"]?["name"]));
                    if (resource == "configmaps") names.Add(StoredObjects.Str(env?["valueFrom"]?["configMapKeyRef"]?["name"]));
                }
            }
        }
        names.Remove("");
        return names;
    }
}

/// <summary>An --authorization-mode value this server cannot honour.</summary>
public sealed class AuthorizationModeException(string message) : Exception(message);

public static class AuthorizationModes
{
    public const string AlwaysAllow = "AlwaysAllow";
    public const string AlwaysDeny = "AlwaysDeny";
    public const string Rbac = "RBAC";
    public const string Node = "Node";

    /// <summary>
    /// The authorizer for the modes in order, behind the system:masters check as upstream. Modes may be given
    /// as separate items or comma-separated ("Node,RBAC").
    /// </summary>
    public static AuthorizerUnion Build(IEnumerable<string> modes, ObjectStore store)
    {
        var list = modes.SelectMany(m => m.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)).ToList();
        if (list.Count == 0) throw new AuthorizationModeException("at least one authorization-mode must be passed");
        if (list.Distinct().Count() != list.Count) throw new AuthorizationModeException($"authorization-mode {string.Join(",", list)} has mode specified more than once");
        var authorizers = new List<IAuthorizer> { new PrivilegedGroupAuthorizer() };
        foreach (var mode in list)
        {
            authorizers.Add(mode switch
            {
                AlwaysAllow => new AlwaysAllowAuthorizer(),
                AlwaysDeny => new AlwaysDenyAuthorizer(),
                Rbac => new RbacAuthorizer(store),
                Node => new NodeAuthorizer(store),
                _ => throw new AuthorizationModeException($"authorization-mode \"{mode}\" is not supported (supported: AlwaysAllow, AlwaysDeny, Node, RBAC)"),
            });
        }
        return new AuthorizerUnion(authorizers);
    }
}

public sealed class AlwaysDenyAuthorizer : IAuthorizer, IRuleResolver
{
    private static readonly AuthorizationResult Denied = new(AuthorizationDecision.NoOpinion, "Everything is forbidden.");

    public ValueTask<AuthorizationResult> AuthorizeAsync(AuthorizationAttributes attributes, CancellationToken cancellationToken)
        => ValueTask.FromResult(Denied);

    public RuleSet RulesFor(UserInfo user, string @namespace) => new([], [], false, null);
}

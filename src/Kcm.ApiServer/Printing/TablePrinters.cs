using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Kcm.Api;

namespace Kcm.ApiServer.Printing;

/// <summary>
/// Server-side printing (meta.k8s.io Table) with the columns and cell formats of upstream's
/// pkg/printers/internalversion for the common resources, and the default Name/Created At table otherwise.
/// </summary>
public static class TablePrinters
{
    private delegate List<object?> RowPrinter(JsonObject obj, DateTimeOffset now, bool wide);

    private sealed record Printer(IReadOnlyList<TableColumn> Columns, RowPrinter Row);

    private static readonly TableColumn NameColumn = new("Name", "string", Format: "name");
    private static readonly TableColumn AgeColumn = new("Age", "string");
    private static readonly TableColumn[] TemplateColumns = [new("Containers", "string", 1), new("Images", "string", 1), new("Selector", "string", 1)];

    private static readonly Dictionary<(string Group, string Resource), Printer> Printers = new()
    {
        [("", "pods")] = new([NameColumn, new("Ready", "string"), new("Status", "string"), new("Restarts", "string"), AgeColumn,
            new("IP", "string", 1), new("Node", "string", 1), new("Nominated Node", "string", 1), new("Readiness Gates", "string", 1)], PodRow),
        [("apps", "deployments")] = new([NameColumn, new("Ready", "string"), new("Up-to-date", "string"), new("Available", "string"), AgeColumn, .. TemplateColumns], DeploymentRow),
        [("apps", "replicasets")] = new([NameColumn, new("Desired", "integer"), new("Current", "integer"), new("Ready", "integer"), AgeColumn, .. TemplateColumns], ReplicaSetRow),
        [("certificates.k8s.io", "certificatesigningrequests")] = new([NameColumn, AgeColumn, new("SignerName", "string"), new("Requestor", "string"),
            new("RequestedDuration", "string"), new("Condition", "string")], CsrRow),
        [("", "namespaces")] = new([NameColumn, new("Status", "string"), AgeColumn],
            (o, now, _) => [NameOf(o), Str(o, "status", "phase"), Age(o, now)]),
        [("", "nodes")] = new([NameColumn, new("Status", "string"), new("Roles", "string"), AgeColumn, new("Version", "string"),
            new("Internal-IP", "string", 1), new("External-IP", "string", 1), new("OS-Image", "string", 1), new("Kernel-Version", "string", 1),
            new("Container-Runtime", "string", 1)], NodeRow),
        [("", "services")] = new([NameColumn, new("Type", "string"), new("Cluster-IP", "string"), new("External-IP", "string"), new("Port(s)", "string"),
            AgeColumn, new("Selector", "string", 1)], ServiceRow),
        [("", "configmaps")] = new([NameColumn, new("Data", "string"), AgeColumn],
            (o, now, _) => [NameOf(o), Count(o["data"]) + Count(o["binaryData"]), Age(o, now)]),
        [("", "secrets")] = new([NameColumn, new("Type", "string"), new("Data", "string"), AgeColumn],
            (o, now, _) => [NameOf(o), Str(o, "type"), Count(o["data"]), Age(o, now)]),
        [("", "componentstatuses")] = new([NameColumn, new("Status", "string"), new("Message", "string"), new("Error", "string")], ComponentStatusRow),
        [("", "serviceaccounts")] = new([NameColumn, new("Secrets", "string"), AgeColumn],
            (o, now, _) => [NameOf(o), Count(o["secrets"]), Age(o, now)]),
        [("coordination.k8s.io", "leases")] = new([NameColumn, new("Holder", "string"), AgeColumn],
            (o, now, _) => [NameOf(o), Str(o, "spec", "holderIdentity"), Age(o, now)]),
        [("", "events")] = new([new("Last Seen", "string"), new("Type", "string"), new("Reason", "string"), new("Object", "string"), new("Message", "string"),
            new("Subobject", "string", 1), new("Source", "string", 1), new("First Seen", "string", 1), new("Count", "string", 1), new("Name", "string", 1)], EventRow),
    };

    private static readonly TableColumn[] DefaultColumns = [NameColumn, new("Created At", "date")];

    public static IReadOnlyList<TableColumn> ColumnsFor(string group, string resource)
        => Printers.TryGetValue((group, resource), out var p) ? p.Columns : DefaultColumns;

    /// <summary>The cells of one row; wide columns are always filled (kubectl hides priority-1 columns unless -o wide).</summary>
    public static List<object?> Row(string group, string resource, JsonObject obj, DateTimeOffset now)
    {
        if (Printers.TryGetValue((group, resource), out var p)) return p.Row(obj, now, true);
        var created = Str(obj, "metadata", "creationTimestamp");
        return [NameOf(obj), created.Length == 0 ? null : created];
    }

    private static List<object?> ComponentStatusRow(JsonObject cs, DateTimeOffset now, bool wide)
    {
        var healthy = Items(cs["conditions"]).FirstOrDefault(c => Str(c, "type") == "Healthy");
        var status = healthy is null ? "Unknown" : Str(healthy, "status") == "True" ? "Healthy" : "Unhealthy";
        return [NameOf(cs), status, healthy is null ? "" : Str(healthy, "message"), healthy is null ? "" : Str(healthy, "error")];
    }

    private static List<object?> PodRow(JsonObject pod, DateTimeOffset now, bool wide)
    {
        var spec = pod["spec"] as JsonObject;
        var status = pod["status"] as JsonObject;
        var restarts = 0L;
        var ready = 0;
        var total = Items(spec?["containers"]).Count;
        DateTimeOffset? lastRestart = null;
        var reason = Str(status, "phase");
        if (Str(status, "reason") is { Length: > 0 } statusReason) reason = statusReason;

        void NoteRestarts(JsonObject c)
        {
            restarts += Long(c["restartCount"]);
            if (c["lastState"]?["terminated"]?["finishedAt"]?.GetValue<string>() is { } finished
                && DateTimeOffset.TryParse(finished, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var t)
                && (lastRestart is null || t > lastRestart))
            {
                lastRestart = t;
            }
        }

        var initializing = false;
        var initStatuses = Items(status?["initContainerStatuses"]);
        for (var i = 0; i < initStatuses.Count; i++)
        {
            var c = initStatuses[i];
            NoteRestarts(c);
            var terminated = c["state"]?["terminated"] as JsonObject;
            var waiting = c["state"]?["waiting"] as JsonObject;
            if (terminated is not null && Long(terminated["exitCode"]) == 0) continue;
            if (terminated is not null)
            {
                reason = Str(terminated, "reason") is { Length: > 0 } r ? "Init:" + r
                    : Long(terminated["signal"]) != 0 ? $"Init:Signal:{Long(terminated["signal"])}" : $"Init:ExitCode:{Long(terminated["exitCode"])}";
            }
            else if (waiting is not null && Str(waiting, "reason") is { Length: > 0 } w && w != "PodInitializing")
            {
                reason = "Init:" + w;
            }
            else
            {
                reason = $"Init:{i}/{Items(spec?["initContainers"]).Count}";
            }
            initializing = true;
            break;
        }
        if (!initializing)
        {
            restarts = 0;
            var hasRunning = false;
            var statuses = Items(status?["containerStatuses"]);
            for (var i = statuses.Count - 1; i >= 0; i--)
            {
                var c = statuses[i];
                NoteRestarts(c);
                var state = c["state"] as JsonObject;
                var terminated = state?["terminated"] as JsonObject;
                if (Str(state, "waiting", "reason") is { Length: > 0 } waiting) reason = waiting;
                else if (Str(terminated, "reason") is { Length: > 0 } done) reason = done;
                else if (terminated is not null)
                {
                    reason = Long(terminated["signal"]) != 0 ? $"Signal:{Long(terminated["signal"])}" : $"ExitCode:{Long(terminated["exitCode"])}";
                }
                else if (c["ready"]?.GetValueKind() == JsonValueKind.True && state?["running"] is not null)
                {
                    hasRunning = true;
                    ready++;
                }
            }
            if (reason == "Completed" && hasRunning)
            {
                var podReady = Items(status?["conditions"]).Any(c => Str(c, "type") == "Ready" && Str(c, "status") == "True");
                reason = podReady ? "Running" : "NotReady";
            }
        }
        if (pod["metadata"]?["deletionTimestamp"] is not null)
        {
            reason = Str(status, "reason") == "NodeLost" ? "Unknown" : "Terminating";
        }
        var restartText = restarts.ToString(CultureInfo.InvariantCulture);
        if (restarts != 0 && lastRestart is { } last) restartText = $"{restarts} ({HumanDuration.Format(now - last)} ago)";
        List<object?> row = [NameOf(pod), $"{ready}/{total}", reason, restartText, Age(pod, now)];
        if (!wide) return row;
        var ip = Items(status?["podIPs"]).Select(p => Str(p, "ip")).FirstOrDefault() ?? "";
        var gates = "<none>";
        var readinessGates = Items(spec?["readinessGates"]);
        if (readinessGates.Count > 0)
        {
            var conditions = Items(status?["conditions"]);
            var trueCount = readinessGates.Count(g => conditions.Any(c => Str(c, "type") == Str(g, "conditionType") && Str(c, "status") == "True"));
            gates = $"{trueCount}/{readinessGates.Count}";
        }
        row.AddRange([OrNone(ip), OrNone(Str(spec, "nodeName")), OrNone(Str(status, "nominatedNodeName")), gates]);
        return row;
    }

    private static List<object?> DeploymentRow(JsonObject d, DateTimeOffset now, bool wide)
    {
        var desired = Long(d["spec"]?["replicas"]);
        var status = d["status"] as JsonObject;
        List<object?> row = [NameOf(d), $"{Long(status?["readyReplicas"])}/{desired}", Long(status?["updatedReplicas"]), Long(status?["availableReplicas"]), Age(d, now)];
        if (wide) row.AddRange(TemplateCells(d));
        return row;
    }

    private static List<object?> ReplicaSetRow(JsonObject rs, DateTimeOffset now, bool wide)
    {
        var status = rs["status"] as JsonObject;
        List<object?> row = [NameOf(rs), Long(rs["spec"]?["replicas"]), Long(status?["replicas"]), Long(status?["readyReplicas"]), Age(rs, now)];
        if (wide) row.AddRange(TemplateCells(rs));
        return row;
    }

    private static object?[] TemplateCells(JsonObject owner)
    {
        var containers = Items(owner["spec"]?["template"]?["spec"]?["containers"]);
        var selector = Kcm.Api.Selectors.LabelSelector.FromApi(KubeJson.FromNode<Kcm.Api.Meta.V1.LabelSelector>(owner["spec"]?["selector"]));
        return [string.Join(",", containers.Select(c => Str(c, "name"))), string.Join(",", containers.Select(c => Str(c, "image"))), selector?.ToString() ?? ""];
    }

    private static List<object?> CsrRow(JsonObject csr, DateTimeOffset now, bool wide)
    {
        var spec = csr["spec"] as JsonObject;
        var conditions = Items(csr["status"]?["conditions"]).Select(c => Str(c, "type")).ToHashSet();
        var condition = conditions.Contains("Denied") ? "Denied" : conditions.Contains("Approved") ? "Approved" : "Pending";
        if (conditions.Contains("Failed")) condition += ",Failed";
        if (Str(csr, "status", "certificate").Length > 0) condition += ",Issued";
        var duration = spec?["expirationSeconds"] is { } seconds ? HumanDuration.Format(TimeSpan.FromSeconds(Long(seconds))) : "<none>";
        return [NameOf(csr), Age(csr, now), OrNone(Str(spec, "signerName")), Str(spec, "username"), duration, condition];
    }

    private static List<object?> NodeRow(JsonObject node, DateTimeOffset now, bool wide)
    {
        var status = node["status"] as JsonObject;
        var states = new List<string>();
        if (Items(status?["conditions"]).FirstOrDefault(c => Str(c, "type") == "Ready") is { } readyCondition)
        {
            states.Add(Str(readyCondition, "status") == "True" ? "Ready" : "NotReady");
        }
        if (states.Count == 0) states.Add("Unknown");
        if (node["spec"]?["unschedulable"]?.GetValueKind() == JsonValueKind.True) states.Add("SchedulingDisabled");
        var roles = new SortedSet<string>(StringComparer.Ordinal);
        if (node["metadata"]?["labels"] is JsonObject labels)
        {
            foreach (var (key, value) in labels)
            {
                if (key.StartsWith("node-role.kubernetes.io/", StringComparison.Ordinal) && key.Length > "node-role.kubernetes.io/".Length)
                {
                    roles.Add(key["node-role.kubernetes.io/".Length..]);
                }
                else if (key == "kubernetes.io/role" && value?.GetValue<string>() is { Length: > 0 } role) roles.Add(role);
            }
        }
        var info = status?["nodeInfo"] as JsonObject;
        List<object?> row = [NameOf(node), string.Join(",", states), roles.Count == 0 ? "<none>" : string.Join(",", roles), Age(node, now), Str(info, "kubeletVersion")];
        if (!wide) return row;
        string Address(string type) => OrNone(Items(status?["addresses"]).Where(a => Str(a, "type") == type).Select(a => Str(a, "address")).FirstOrDefault() ?? "");
        string OrUnknown(string v) => v.Length == 0 ? "<unknown>" : v;
        row.AddRange([Address("InternalIP"), Address("ExternalIP"), OrUnknown(Str(info, "osImage")), OrUnknown(Str(info, "kernelVersion")), OrUnknown(Str(info, "containerRuntimeVersion"))]);
        return row;
    }

    private static List<object?> ServiceRow(JsonObject svc, DateTimeOffset now, bool wide)
    {
        var spec = svc["spec"] as JsonObject;
        var type = Str(spec, "type");
        var externalIps = Items(spec?["externalIPs"], v => v.GetValue<string>());
        string external;
        switch (type)
        {
            case "ClusterIP" or "NodePort":
                external = externalIps.Count > 0 ? string.Join(",", externalIps) : "<none>";
                break;
            case "LoadBalancer":
                var ingress = Items(svc["status"]?["loadBalancer"]?["ingress"]).Select(i => Str(i, "ip") is { Length: > 0 } ip ? ip : Str(i, "hostname"))
                    .Where(s => s.Length > 0).ToList();
                ingress.AddRange(externalIps);
                external = ingress.Count > 0 ? string.Join(",", ingress) : "<pending>";
                break;
            case "ExternalName":
                external = Str(spec, "externalName");
                break;
            default:
                external = "<unknown>";
                break;
        }
        var ports = Items(spec?["ports"]).Select(p =>
        {
            var protocol = Str(p, "protocol");
            return Long(p["nodePort"]) > 0 ? $"{Long(p["port"])}:{Long(p["nodePort"])}/{protocol}" : $"{Long(p["port"])}/{protocol}";
        }).ToList();
        List<object?> row = [NameOf(svc), type, OrNone(Str(spec, "clusterIP")), external, ports.Count == 0 ? "<none>" : string.Join(",", ports), Age(svc, now)];
        if (wide) row.Add(spec?["selector"] is JsonObject { Count: > 0 } selector
            ? string.Join(",", selector.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => $"{p.Key}={p.Value?.GetValue<string>()}"))
            : "<none>");
        return row;
    }

    private static List<object?> EventRow(JsonObject e, DateTimeOffset now, bool wide)
    {
        var first = Str(e, "firstTimestamp") is { Length: > 0 } f ? HumanDuration.Since(f, now) : HumanDuration.Since(Str(e, "eventTime"), now);
        var last = Str(e, "lastTimestamp") is { Length: > 0 } l ? HumanDuration.Since(l, now) : first;
        var count = Long(e["count"]);
        if (e["series"] is JsonObject series)
        {
            last = $"{HumanDuration.Since(Str(series, "lastObservedTime"), now)} (x{Long(series["count"])} over {first})";
        }
        else if (count > 1)
        {
            last = $"{last} (x{count} over {first})";
        }
        var involved = e["involvedObject"] as JsonObject;
        var source = Str(e, "source", "component") is { Length: > 0 } component ? component : Str(e, "reportingComponent");
        if (Str(e, "source", "host") is { Length: > 0 } host) source += ", " + host;
        List<object?> row = [last, Str(e, "type"), Str(e, "reason"), $"{Str(involved, "kind").ToLowerInvariant()}/{Str(involved, "name")}", Str(e, "message")];
        if (wide) row.AddRange([Str(involved, "fieldPath"), source, first, count, NameOf(e)]);
        return row;
    }

    private static string NameOf(JsonObject o) => Str(o, "metadata", "name");

    private static string Age(JsonObject o, DateTimeOffset now) => HumanDuration.Since(Str(o, "metadata", "creationTimestamp"), now);

    private static string OrNone(string s) => s.Length == 0 ? "<none>" : s;

    private static long Count(JsonNode? node) => node switch
    {
        JsonObject o => o.Count,
        JsonArray a => a.Count,
        _ => 0,
    };

    private static string Str(JsonNode? node, params string[] path)
    {
        foreach (var p in path) node = node is JsonObject o ? o[p] : null;
        return node is JsonValue v && v.GetValueKind() == JsonValueKind.String ? v.GetValue<string>() : "";
    }

    private static long Long(JsonNode? node)
        => node is JsonValue v && v.GetValueKind() == JsonValueKind.Number && v.TryGetValue<long>(out var l) ? l : 0;

    private static List<JsonObject> Items(JsonNode? node) => node is JsonArray a ? [.. a.OfType<JsonObject>()] : [];

    private static List<T> Items<T>(JsonNode? node, Func<JsonNode, T> select)
        => node is JsonArray a ? [.. a.Where(n => n is JsonValue).Select(n => select(n!))] : [];
}

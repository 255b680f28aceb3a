using YamlDotNet.Serialization;
using YamlDotNet.Serialization.NamingConventions;

namespace Kcm.Differ;

/// <summary>
/// One differential scenario: which controllers to run, the steps that create objects (and start the controller
/// manager), how long to let it settle, and what to dump afterwards. "${NS}" in any text is the run's fresh
/// namespace, "${uid:RESOURCE/NAME}" the uid of an object created by an earlier step, "${ENV}" an environment variable.
/// </summary>
public sealed class Scenario
{
    public string Name { get; set; } = "";

    /// <summary>The --controllers value for both controller managers.</summary>
    public string Controllers { get; set; } = "";

    /// <summary>Extra flags for both (after substitution), e.g. --cluster-signing-cert-file=${CA}.</summary>
    public List<string> Flags { get; set; } = [];

    /// <summary>Steps in order; the controller manager starts at the "start" step, or after the last step.</summary>
    public List<Step> Steps { get; set; } = [];

    /// <summary>How long the controller manager runs after the last step before the snapshot (Go duration: 20s, 1m).</summary>
    public string Settle { get; set; } = "15s";

    public List<Observation> Observe { get; set; } = [];

    /// <summary>Labels whose values legitimately differ (e.g. pod-template-hash); replaced everywhere and reported.</summary>
    public List<KnownDifference> Known { get; set; } = [];

    public static Scenario Load(string path)
    {
        var deserializer = new DeserializerBuilder().WithNamingConvention(CamelCaseNamingConvention.Instance).Build();
        var scenario = deserializer.Deserialize<Scenario>(File.ReadAllText(path)) ?? throw new InvalidDataException($"{path}: empty scenario");
        if (string.IsNullOrEmpty(scenario.Name)) scenario.Name = Path.GetFileNameWithoutExtension(path);
        if (string.IsNullOrEmpty(scenario.Controllers)) throw new InvalidDataException($"{path}: controllers is required");
        if (scenario.Observe.Count == 0) throw new InvalidDataException($"{path}: observe lists nothing");
        if (scenario.Steps.FindIndex(s => s.Each is not null && s.Kubectl is null) is var i and >= 0) throw new InvalidDataException($"{path}: step {i + 1} has each but no kubectl command");
        return scenario;
    }
}

public sealed class Step
{
    /// <summary>Objects (YAML, several documents allowed) applied in the run's namespace.</summary>
    public string? Apply { get; set; }

    /// <summary>A kubectl command (arguments) run against the run's namespace.</summary>
    public List<string>? Kubectl { get; set; }

    /// <summary>
    /// With <see cref="Kubectl"/>: what to list (kubectl get arguments, e.g. "pods -l job-name=ok"); the command then
    /// runs once per object listed, "{}" in its arguments standing for the object (pod/NAME). Stands in for a kubelet
    /// reporting a pod's phase, which the controllers react to, on a cluster that has none.
    /// </summary>
    public string? Each { get; set; }

    /// <summary>Start the controller manager now.</summary>
    public bool Start { get; set; }

    /// <summary>Pause (Go duration) before the next step.</summary>
    public string? Wait { get; set; }
}

public sealed class Observation
{
    /// <summary>A resource kubectl knows (configmaps, deployments.apps, certificatesigningrequests, events).</summary>
    public string Resource { get; set; } = "";

    /// <summary>Cluster-scoped resources: only objects whose name contains the run's namespace are kept.</summary>
    public bool ClusterScoped { get; set; }

    /// <summary>
    /// Dotted paths of lists whose order is not the controllers' to keep (upstream fills an EndpointSlice from a Go map):
    /// compared as sets, their items sorted after normalisation.
    /// </summary>
    public List<string> Unordered { get; set; } = [];
}

public sealed class KnownDifference
{
    public string Label { get; set; } = "";

    public string Reason { get; set; } = "";
}

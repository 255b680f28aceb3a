using System.Text.Json.Nodes;

namespace Kcm.ApiServer.Tests.Differential;

/// <summary>
/// One request of a differential case, run on both servers in turn. "{ns}" in paths and bodies stands for the case's
/// namespace (same name on both servers). Compared steps must agree on status code and normalized body; Project cuts a
/// response down to what is meant to be compared (e.g. names and condition types only).
/// </summary>
public sealed record DiffStep(
    HttpMethod Method,
    string Path,
    string? Body = null,
    string ContentType = "application/json",
    bool Compare = true,
    Func<JsonNode?, JsonNode?>? Project = null,
    string[]? KubectlArgs = null,
    string? KubectlInput = null)
{
    public static DiffStep Get(string path) => new(HttpMethod.Get, path);
    public static DiffStep Post(string path, string body) => new(HttpMethod.Post, path, body);
    public static DiffStep Put(string path, string body) => new(HttpMethod.Put, path, body);
    public static DiffStep Delete(string path, string? body = null) => new(HttpMethod.Delete, path, body);
    public static DiffStep MergePatch(string path, string body) => new(HttpMethod.Patch, path, body, "application/merge-patch+json");
    public static DiffStep StrategicPatch(string path, string body) => new(HttpMethod.Patch, path, body, "application/strategic-merge-patch+json");

    /// <summary>kubectl with these arguments (--kubeconfig is added); exit code and normalized output are compared.</summary>
    public static DiffStep Cli(params string[] args) => new(HttpMethod.Get, "", KubectlArgs: args);

    public static DiffStep CliWithInput(string input, params string[] args) => new(HttpMethod.Get, "", KubectlArgs: args, KubectlInput: input);

    /// <summary>Run on both, compare nothing (setup).</summary>
    public DiffStep Setup() => this with { Compare = false };

    public DiffStep Only(Func<JsonNode?, JsonNode?> project) => this with { Project = project };

    public override string ToString() => KubectlArgs is { } args ? "kubectl " + string.Join(' ', args) : $"{Method} {Path}";
}

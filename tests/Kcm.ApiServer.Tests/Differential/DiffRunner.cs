using System.Text.Json.Nodes;
using Xunit.Sdk;

namespace Kcm.ApiServer.Tests.Differential;

/// <summary>What one step returned on each server (after normalization), for extra per-server assertions.</summary>
public sealed record DiffOutcome(DiffStep Step, DiffResponse Embedded, DiffResponse Real);

/// <summary>
/// Runs the steps of a case on the embedded server and then the real one, each in a fresh namespace of the same name
/// (with its default ServiceAccount, as the serviceaccount controller would make), and fails on the first compared
/// step whose status code or normalized body differs, printing both.
/// </summary>
public static class DiffRunner
{
    public static async Task<IReadOnlyList<DiffOutcome>> RunAsync(DifferentialFixture fixture, params DiffStep[] steps)
    {
        var ns = "diff-" + Guid.NewGuid().ToString("N")[..10];
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(90));
        var embedded = await RunOnAsync(fixture.Embedded, ns, steps, cts.Token);
        var real = await RunOnAsync(fixture.Real, ns, steps, cts.Token);
        var outcomes = new List<DiffOutcome>();
        for (var i = 0; i < steps.Length; i++)
        {
            var step = steps[i];
            outcomes.Add(new DiffOutcome(step, embedded[i], real[i]));
            if (!step.Compare) continue;
            var e = Comparable(step, embedded[i]);
            var r = Comparable(step, real[i]);
            if (e != r)
            {
                throw new XunitException($"step {i + 1} ({step}) differs\n  embedded: {e}\n  real:     {r}");
            }
        }
        return outcomes;
    }

    private static string Comparable(DiffStep step, DiffResponse response)
    {
        if (step.KubectlArgs is not null) return $"exit {response.Code}: {DiffNormalizer.NormalizeText(response.Text)}";
        var body = response.Body;
        if (step.Project is { } project) body = project(body?.DeepClone());
        return $"{response.Code} {DiffNormalizer.Normalize(body)?.ToJsonString() ?? response.Text}";
    }

    private static async Task<List<DiffResponse>> RunOnAsync(DifferentialTarget target, string ns, DiffStep[] steps, CancellationToken ct)
    {
        await target.SendAsync(HttpMethod.Post, "/api/v1/namespaces", $$$"""{"metadata":{"name":"{{{ns}}}"}}""", "application/json", ct);
        await target.SendAsync(HttpMethod.Post, $"/api/v1/namespaces/{ns}/serviceaccounts", """{"metadata":{"name":"default"}}""", "application/json", ct);
        var results = new List<DiffResponse>();
        foreach (var step in steps)
        {
            if (step.KubectlArgs is { } args)
            {
                var expanded = args.Select(a => a.Replace("{ns}", ns)).ToArray();
                var result = await target.Kubectl.RunWithInputAsync(step.KubectlInput?.Replace("{ns}", ns), expanded);
                results.Add(new DiffResponse(result.ExitCode, null, result.Output, []));
                continue;
            }
            results.Add(await target.SendAsync(step.Method, step.Path.Replace("{ns}", ns), step.Body?.Replace("{ns}", ns), step.ContentType, ct));
        }
        return results;
    }

    /// <summary>Items of a list sorted by name, each cut down by <paramref name="item"/>: for lists whose order is free.</summary>
    public static Func<JsonNode?, JsonNode?> SortedItems(Func<JsonObject, JsonNode?> item) => body =>
        new JsonArray([.. (body?["items"] as JsonArray ?? []).OfType<JsonObject>()
            .OrderBy(o => o["metadata"]?["name"]?.GetValue<string>(), StringComparer.Ordinal)
            .Select(o => item(o))]);
}

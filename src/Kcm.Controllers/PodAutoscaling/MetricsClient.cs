using System.Text.Json.Nodes;
using Kcm.Api;
using Kcm.Api.Autoscaling.V2;
using Kcm.Api.Selectors;
using Kcm.Client;
using Kcm.Client.Errors;

namespace Kcm.Controllers.PodAutoscaling;

/// <summary>One pod's metric sample: its value in milli-units and the time window it was measured over.</summary>
public readonly record struct PodMetric(DateTimeOffset Timestamp, TimeSpan Window, long Value);

/// <summary>A metrics API call that failed; the message is what the HPA's events and conditions carry.</summary>
public sealed class MetricsUnavailableException(string message, Exception? inner = null) : InvalidOperationException(message, inner);

/// <summary>The metrics the replica calculator reads (upstream's MetricsClient), a seam for unit tests.</summary>
public interface IMetricsClient
{
    /// <summary>Per pod (by name): the resource's usage summed over its containers, or of one container when given.</summary>
    Task<(Dictionary<string, PodMetric> Metrics, DateTimeOffset Timestamp)> GetResourceMetricAsync(
        string resource, string @namespace, LabelSelector selector, string container, CancellationToken cancellationToken);

    /// <summary>A custom metric of every pod the selector matches.</summary>
    Task<(Dictionary<string, PodMetric> Metrics, DateTimeOffset Timestamp)> GetRawMetricAsync(
        string metricName, string @namespace, LabelSelector selector, string metricSelector, CancellationToken cancellationToken);

    /// <summary>A custom metric describing one object.</summary>
    Task<(long Value, DateTimeOffset Timestamp)> GetObjectMetricAsync(
        string metricName, string @namespace, CrossVersionObjectReference objectRef, string metricSelector, CancellationToken cancellationToken);

    /// <summary>Every value of an external metric the selector matches.</summary>
    Task<(List<long> Values, DateTimeOffset Timestamp)> GetExternalMetricAsync(
        string metricName, string @namespace, string selector, CancellationToken cancellationToken);
}

/// <summary>
/// The metrics APIs through the API server, as upstream's REST metrics client: metrics.k8s.io/v1beta1 PodMetrics,
/// custom.metrics.k8s.io/v1beta2 and external.metrics.k8s.io/v1beta1.
/// </summary>
public sealed class RestMetricsClient(KubeApiClient client, IResourceMapper mapper) : IMetricsClient
{
    private static readonly TimeSpan DefaultMetricWindow = TimeSpan.FromMinutes(1);

    public async Task<(Dictionary<string, PodMetric> Metrics, DateTimeOffset Timestamp)> GetResourceMetricAsync(
        string resource, string @namespace, LabelSelector selector, string container, CancellationToken cancellationToken)
    {
        var path = $"/apis/metrics.k8s.io/v1beta1/namespaces/{Uri.EscapeDataString(@namespace)}/pods" + Query(("labelSelector", selector.ToString()));
        JsonObject list;
        try
        {
            list = await GetAsync(path, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (IsApiFailure(e))
        {
            throw new MetricsUnavailableException($"unable to fetch metrics from resource metrics API: {Describe(e, "pods.metrics.k8s.io")}", e);
        }
        var items = (list["items"] as JsonArray ?? []).OfType<JsonObject>().ToList();
        if (items.Count == 0)
        {
            throw new MetricsUnavailableException("no metrics returned from resource metrics API");
        }
        var result = container.Length > 0 ? ContainerMetrics(items, resource, container) : PodMetrics(items, resource);
        return (result, TimestampOf(items[0]));
    }

    public async Task<(Dictionary<string, PodMetric> Metrics, DateTimeOffset Timestamp)> GetRawMetricAsync(
        string metricName, string @namespace, LabelSelector selector, string metricSelector, CancellationToken cancellationToken)
    {
        var path = $"/apis/custom.metrics.k8s.io/v1beta2/namespaces/{Uri.EscapeDataString(@namespace)}/pods/*/{Uri.EscapeDataString(metricName)}"
            + Query(("labelSelector", selector.ToString()), ("metricLabelSelector", metricSelector));
        JsonObject list;
        try
        {
            list = await GetAsync(path, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (IsApiFailure(e))
        {
            throw new MetricsUnavailableException($"unable to fetch metrics from custom metrics API: {await CustomMetricsFailureAsync(e, cancellationToken).ConfigureAwait(false)}", e);
        }
        var items = (list["items"] as JsonArray ?? []).OfType<JsonObject>().ToList();
        if (items.Count == 0)
        {
            throw new MetricsUnavailableException("no metrics returned from custom metrics API");
        }
        var result = new Dictionary<string, PodMetric>(StringComparer.Ordinal);
        foreach (var item in items)
        {
            var window = item["windowSeconds"] is JsonValue w && w.TryGetValue<long>(out var seconds) ? TimeSpan.FromSeconds(seconds) : DefaultMetricWindow;
            var name = item["describedObject"]?["name"]?.GetValue<string>() ?? "";
            result[name] = new PodMetric(TimestampOf(item), window, MilliValue(item["value"]));
        }
        return (result, TimestampOf(items[0]));
    }

    public async Task<(long Value, DateTimeOffset Timestamp)> GetObjectMetricAsync(
        string metricName, string @namespace, CrossVersionObjectReference objectRef, string metricSelector, CancellationToken cancellationToken)
    {
        string group;
        try
        {
            (group, _) = GroupVersions.Parse(objectRef.ApiVersion ?? "");
        }
        catch (InvalidGroupVersionException)
        {
            group = ""; // schema.FromAPIVersionAndKind ignores an unparseable apiVersion.
        }
        var kind = objectRef.Kind ?? "";
        string path;
        try
        {
            var ns = Uri.EscapeDataString(@namespace);
            if (kind == "Namespace" && group.Length == 0)
            {
                // The namespace is the HPA's own: a reference cannot reach outside it.
                path = $"/apis/custom.metrics.k8s.io/v1beta2/namespaces/{ns}/metrics/{Uri.EscapeDataString(metricName)}";
            }
            else
            {
                var mapping = await mapper.MapAsync(group, kind, cancellationToken).ConfigureAwait(false);
                var resource = mapping[0];
                var qualified = resource.Group.Length == 0 ? resource.Resource : $"{resource.Resource}.{resource.Group}";
                path = $"/apis/custom.metrics.k8s.io/v1beta2/namespaces/{ns}/{qualified}/{Uri.EscapeDataString(objectRef.Name ?? "")}/{Uri.EscapeDataString(metricName)}";
            }
        }
        catch (NoKindMatchException e)
        {
            throw new MetricsUnavailableException($"unable to fetch metrics from custom metrics API: unable to map kind {(group.Length == 0 ? kind : $"{kind}.{group}")} to resource: {e.Message}", e);
        }
        JsonObject list;
        try
        {
            list = await GetAsync(path + Query(("metricLabelSelector", metricSelector)), cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (IsApiFailure(e))
        {
            throw new MetricsUnavailableException($"unable to fetch metrics from custom metrics API: {await CustomMetricsFailureAsync(e, cancellationToken).ConfigureAwait(false)}", e);
        }
        var items = (list["items"] as JsonArray ?? []).OfType<JsonObject>().ToList();
        if (items.Count != 1)
        {
            throw new MetricsUnavailableException($"unable to fetch metrics from custom metrics API: the custom metrics API server returned {items.Count} results when we asked for exactly one");
        }
        return (MilliValue(items[0]["value"]), TimestampOf(items[0]));
    }

    public async Task<(List<long> Values, DateTimeOffset Timestamp)> GetExternalMetricAsync(
        string metricName, string @namespace, string selector, CancellationToken cancellationToken)
    {
        var path = $"/apis/external.metrics.k8s.io/v1beta1/namespaces/{Uri.EscapeDataString(@namespace)}/{Uri.EscapeDataString(metricName)}"
            + Query(("labelSelector", selector));
        JsonObject list;
        try
        {
            list = await GetAsync(path, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (IsApiFailure(e))
        {
            throw new MetricsUnavailableException($"unable to fetch metrics from external metrics API: {Describe(e, $"{metricName}.external.metrics.k8s.io")}", e);
        }
        var items = (list["items"] as JsonArray ?? []).OfType<JsonObject>().ToList();
        if (items.Count == 0)
        {
            throw new MetricsUnavailableException("no metrics returned from external metrics API");
        }
        return (items.Select(i => MilliValue(i["value"])).ToList(), TimestampOf(items[0]));
    }

    internal static Dictionary<string, PodMetric> PodMetrics(IEnumerable<JsonObject> items, string resource)
    {
        var result = new Dictionary<string, PodMetric>(StringComparer.Ordinal);
        foreach (var item in items)
        {
            var containers = (item["containers"] as JsonArray ?? []).OfType<JsonObject>().ToList();
            // A pod without containers, or with one lacking the resource, has no sample at all.
            var missing = containers.Count == 0;
            long sum = 0;
            foreach (var c in containers)
            {
                if (c["usage"]?[resource] is not JsonNode value)
                {
                    missing = true;
                    break;
                }
                sum += MilliValue(value);
            }
            if (!missing)
            {
                result[NameOf(item)] = new PodMetric(TimestampOf(item), WindowOf(item), sum);
            }
        }
        return result;
    }

    private static Dictionary<string, PodMetric> ContainerMetrics(IEnumerable<JsonObject> items, string resource, string container)
    {
        var result = new Dictionary<string, PodMetric>(StringComparer.Ordinal);
        foreach (var item in items)
        {
            var match = (item["containers"] as JsonArray ?? []).OfType<JsonObject>().FirstOrDefault(c => c["name"]?.GetValue<string>() == container);
            if (match is null)
            {
                var ns = item["metadata"]?["namespace"]?.GetValue<string>() ?? "";
                throw new MetricsUnavailableException($"failed to get container metrics: container {container} not present in metrics for pod {ns}/{NameOf(item)}");
            }
            if (match["usage"]?[resource] is JsonNode value)
            {
                result[NameOf(item)] = new PodMetric(TimestampOf(item), WindowOf(item), MilliValue(value));
            }
        }
        return result;
    }

    private async Task<JsonObject> GetAsync(string path, CancellationToken cancellationToken)
    {
        var bytes = await client.Rest.SendAsync(HttpMethod.Get, path, null, null, cancellationToken).ConfigureAwait(false);
        return JsonNode.Parse(bytes) as JsonObject ?? throw new KubeProtocolException($"GET {path}: the response is not a JSON object");
    }

    /// <summary>
    /// Upstream asks discovery for the custom metrics API's version first, so an unregistered API reads as such;
    /// here the request is made and discovery consulted only when it was not found.
    /// </summary>
    private async Task<string> CustomMetricsFailureAsync(Exception e, CancellationToken cancellationToken)
    {
        if (e is NotFoundException)
        {
            try
            {
                var groups = await client.Discovery.GetApiGroupsAsync(cancellationToken).ConfigureAwait(false);
                if (!(groups.Groups ?? []).Any(g => g.Name == "custom.metrics.k8s.io"))
                {
                    return "no custom metrics API (custom.metrics.k8s.io) registered";
                }
            }
            catch (Exception discovery) when (IsApiFailure(discovery))
            {
                return discovery.Message;
            }
        }
        return Describe(e, "");
    }

    /// <summary>client-go's message for an answer that is not a Status: the generic text for the code and "(get &lt;resource&gt;)".</summary>
    private static string Describe(Exception e, string qualifiedResource)
    {
        foreach (var generic in (string[])["the server could not find the requested resource", "the server is currently unable to handle the request"])
        {
            if (e is KubeApiException && e.Message.StartsWith(generic + " (", StringComparison.Ordinal) && qualifiedResource.Length > 0)
            {
                return $"{generic} (get {qualifiedResource})";
            }
        }
        return e.Message;
    }

    private static bool IsApiFailure(Exception e) => e is KubeApiException or KubeProtocolException or HttpRequestException or System.Text.Json.JsonException;

    private static string Query(params (string Name, string Value)[] parameters)
    {
        var present = parameters.Where(p => p.Value.Length > 0).Select(p => $"{p.Name}={Uri.EscapeDataString(p.Value)}").ToList();
        return present.Count == 0 ? "" : "?" + string.Join("&", present);
    }

    private static string NameOf(JsonObject item) => item["metadata"]?["name"]?.GetValue<string>() ?? "";

    private static DateTimeOffset TimestampOf(JsonObject item)
        => item["timestamp"]?.GetValue<string>() is { Length: > 0 } t && DateTimeOffset.TryParse(t, System.Globalization.CultureInfo.InvariantCulture, System.Globalization.DateTimeStyles.AssumeUniversal, out var parsed)
            ? parsed
            : default;

    private static TimeSpan WindowOf(JsonObject item)
        => item["window"]?.GetValue<string>() is { Length: > 0 } w && Kcm.Api.Codecs.GoDuration.TryParse(w, out var parsed) ? parsed : TimeSpan.Zero;

    private static long MilliValue(JsonNode? value)
        => value is JsonValue v && v.TryGetValue<string>(out var text) && Quantity.TryParse(text, out var q) ? q.MilliValue()
            : value is JsonValue n && n.TryGetValue<double>(out var number) ? (long)Math.Ceiling(number * 1000) : 0;
}

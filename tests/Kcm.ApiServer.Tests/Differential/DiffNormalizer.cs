using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace Kcm.ApiServer.Tests.Differential;

/// <summary>
/// Takes out what legitimately differs between two servers: identities and versions (uid, resourceVersion, timestamps,
/// managedFields), random suffixes (generated names, kube-api-access-xxxxx), and allocated values whose order is free
/// (cluster IPs other than the kubernetes Service's, node ports). What is left must be equal.
/// </summary>
public static partial class DiffNormalizer
{
    private static readonly HashSet<string> DroppedMetadata = ["uid", "resourceVersion", "creationTimestamp", "managedFields", "selfLink"];

    [GeneratedRegex(@"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$")]
    private static partial Regex Timestamp();

    [GeneratedRegex(@"kube-api-access-[bcdfghjklmnpqrstvwxz2456789]{5}")]
    private static partial Regex TokenVolume();

    [GeneratedRegex(@"^10\.254\.\d+\.\d+$")]
    private static partial Regex ServiceIp();

    public static JsonNode? Normalize(JsonNode? node)
    {
        var copy = node?.DeepClone();
        Walk(copy, parentKey: null);
        // Member order is not compared: the embedded server keeps the client's order where Go writes struct order.
        return SortKeys(copy);
    }

    private static JsonNode? SortKeys(JsonNode? node) => node switch
    {
        JsonObject obj => new JsonObject(obj.OrderBy(p => p.Key, StringComparer.Ordinal)
            .Select(p => KeyValuePair.Create(p.Key, SortKeys(p.Value?.DeepClone())))),
        JsonArray array => new JsonArray([.. array.Select(i => SortKeys(i?.DeepClone()))]),
        _ => node?.DeepClone(),
    };

    private static void Walk(JsonNode? node, string? parentKey)
    {
        switch (node)
        {
            case JsonObject obj:
                if (parentKey is "metadata")
                {
                    foreach (var key in DroppedMetadata) obj.Remove(key);
                }
                if (parentKey is "details") obj.Remove("uid");
                foreach (var (key, value) in obj.ToList())
                {
                    if (key is "nodePort" or "healthCheckNodePort" && value is JsonValue)
                    {
                        obj[key] = "<node-port>";
                        continue;
                    }
                    if (value is JsonValue v && v.TryGetValue<string>(out var s))
                    {
                        obj[key] = NormalizeString(s);
                        continue;
                    }
                    Walk(value, key);
                }
                break;
            case JsonArray array:
                for (var i = 0; i < array.Count; i++)
                {
                    if (array[i] is JsonValue v && v.TryGetValue<string>(out var s)) array[i] = NormalizeString(s);
                    else Walk(array[i], parentKey);
                }
                break;
        }
    }

    private static string NormalizeString(string s)
    {
        if (Timestamp().IsMatch(s)) return "<time>";
        if (ServiceIp().IsMatch(s) && s != "10.254.0.1") return "<service-ip>";
        return TokenVolume().Replace(s, "kube-api-access-<random>");
    }

    /// <summary>kubectl output: ages, random suffixes and allocated values blanked the same way.</summary>
    public static string NormalizeText(string text)
    {
        // kubectl's own discovery-cache complaints, when another test's custom resource group is registering or going
        // away on the shared cluster: client-side noise, not the server's answer to this step.
        text = DiscoveryNoise().Replace(text, "");
        text = TokenVolume().Replace(text, "kube-api-access-<random>");
        text = Regex.Replace(text, @"10\.254\.(?!0\.1\b)\d+\.\d+", "<service-ip>");
        text = Regex.Replace(text, @"\b\d+(s|m|h|d)\b", "<age>");
        return Regex.Replace(text, " +", " ").Trim();
    }

    [GeneratedRegex(@"^E\d{4} [\d:.]+ +\d+ memcache\.go:\d+\] .*couldn't get resource list for .*\r?\n", RegexOptions.Multiline)]
    private static partial Regex DiscoveryNoise();
}

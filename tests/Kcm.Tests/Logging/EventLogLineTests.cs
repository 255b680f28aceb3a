using Kcm.Api.Core.V1;
using Kcm.Client;
using Kcm.Logging;
using Kcm.Runtime.Events;
using Kcm.Testing;
using Microsoft.Extensions.Logging;

namespace Kcm.Tests.Logging;

/// <summary>The "Event occurred" line each recorded event gets, as upstream's event broadcaster writes it.</summary>
public sealed class EventLogLineTests(EmbeddedServerFixture server) : IClassFixture<EmbeddedServerFixture>
{
    [Fact(Timeout = 30_000)]
    public async Task Event_ReferenceWithoutApiVersion_LogsEmptyStrings()
    {
        var output = new StringWriter();
        using var loggers = KlogTo(output);
        using var client = KubeApiClient.FromKubeconfig(server.AdminKubeconfigPath);
        await using var broadcaster = new EventBroadcaster(client, loggers);

        // The taint manager's pod references name no apiVersion (upstream's too).
        broadcaster.NewRecorder("taint-controller").Event(new ObjectReference { Kind = "Pod", Namespace = "default", Name = "p" },
            EventTypes.Normal, "TaintManagerEviction", "Cancelling deletion of Pod default/p");

        Assert.EndsWith("] \"Event occurred\" object=\"default/p\" fieldPath=\"\" kind=\"Pod\" apiVersion=\"\" type=\"Normal\" reason=\"TaintManagerEviction\" message=\"Cancelling deletion of Pod default/p\"\n",
            output.ToString());
    }

    [Fact(Timeout = 30_000)]
    public async Task Event_LegacyRecorder_LogsKlogInfofLineWithGoSyntaxReference()
    {
        var output = new StringWriter();
        using var loggers = KlogTo(output);
        using var client = KubeApiClient.FromKubeconfig(server.AdminKubeconfigPath);
        await using var broadcaster = new EventBroadcaster(client, loggers);

        // As the EndpointSlice controller's broadcaster (StartLogging(klog.Infof)).
        broadcaster.NewRecorder("endpoint-slice-controller", EventLogging.Legacy).Event(
            new ObjectReference { Kind = "Service", Namespace = "default", Name = "web", Uid = "u-1", ApiVersion = "v1", ResourceVersion = "55" },
            EventTypes.Warning, "FailedToUpdateEndpointSlices", "Error updating Endpoint Slices for Service default/web: \"boom\"");
        // As the disruption controller's (no logging at all).
        broadcaster.NewRecorder("controllermanager", EventLogging.None).Event(new ObjectReference { Kind = "PodDisruptionBudget", Namespace = "default", Name = "pdb" },
            EventTypes.Normal, "NoPods", "No matching pods found");

        var lines = output.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        var line = Assert.Single(lines);
        Assert.EndsWith("] Event(v1.ObjectReference{Kind:\"Service\", Namespace:\"default\", Name:\"web\", UID:\"u-1\", APIVersion:\"v1\", ResourceVersion:\"55\", FieldPath:\"\"}): "
            + "type: 'Warning' reason: 'FailedToUpdateEndpointSlices' Error updating Endpoint Slices for Service default/web: \"boom\"", line);
    }

    private static ILoggerFactory KlogTo(StringWriter output)
        => LoggerFactory.Create(b => b.AddProvider(new KlogLoggerProvider(output, LogLevel.Information, TimeProvider.System)));
}

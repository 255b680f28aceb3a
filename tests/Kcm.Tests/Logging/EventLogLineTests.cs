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
        using var loggers = LoggerFactory.Create(b => b.AddProvider(new KlogLoggerProvider(output, LogLevel.Information, TimeProvider.System)));
        using var client = KubeApiClient.FromKubeconfig(server.AdminKubeconfigPath);
        await using var broadcaster = new EventBroadcaster(client, loggers);

        // The taint manager's pod references name no apiVersion (upstream's too).
        broadcaster.NewRecorder("taint-controller").Event(new ObjectReference { Kind = "Pod", Namespace = "default", Name = "p" },
            EventTypes.Normal, "TaintManagerEviction", "Cancelling deletion of Pod default/p");

        Assert.EndsWith("] \"Event occurred\" object=\"default/p\" fieldPath=\"\" kind=\"Pod\" apiVersion=\"\" type=\"Normal\" reason=\"TaintManagerEviction\" message=\"Cancelling deletion of Pod default/p\"\n",
            output.ToString());
    }
}

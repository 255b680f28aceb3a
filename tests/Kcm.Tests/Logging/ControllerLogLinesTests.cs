using Kcm.Controllers.Deployments;
using Kcm.Controllers.ServiceEndpoints;
using Kcm.Logging;
using Kcm.Runtime.Informers;
using Microsoft.Extensions.Logging;

namespace Kcm.Tests.Logging;

/// <summary>Controllers' lines as klog renders them: the text a log search written against upstream's output finds.</summary>
public class ControllerLogLinesTests
{
    private static (ILogger Logger, StringWriter Output) Create(LogLevel level)
    {
        var output = new StringWriter();
        var provider = new KlogLoggerProvider(output, level, TimeProvider.System);
        return (provider.CreateLogger("Kcm.Controllers.Test"), output);
    }

    private static string[] Bodies(StringWriter output)
        => output.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l[0] + " " + l[(l.IndexOf("] ", StringComparison.Ordinal) + 2)..]).ToArray();

    [Fact]
    public void DeploymentFailure_Retrying_IsUpstreamsV2Line()
    {
        var (logger, output) = Create(KlogLoggerProvider.LevelForVerbosity(2));

        DeploymentController.RetryPolicy.LogFailure!(logger, new ObjectKey("ns", "web"), new InvalidOperationException("the object has been modified"), false);

        Assert.Equal(["I \"Error syncing deployment\" deployment=\"ns/web\" err=\"the object has been modified\""], Bodies(output));
    }

    [Fact]
    public void DeploymentFailure_RetryingAtV0_WritesNothing()
    {
        var (logger, output) = Create(KlogLoggerProvider.LevelForVerbosity(0));

        DeploymentController.RetryPolicy.LogFailure!(logger, new ObjectKey("ns", "web"), new InvalidOperationException("conflict"), false);

        Assert.Equal("", output.ToString());
    }

    [Fact]
    public void DeploymentFailure_Dropped_IsHandleErrorThenDropLine()
    {
        var (logger, output) = Create(KlogLoggerProvider.LevelForVerbosity(2));

        DeploymentController.RetryPolicy.LogFailure!(logger, new ObjectKey("ns", "web"), new InvalidOperationException("conflict"), true);

        Assert.Equal(["E conflict", "I \"Dropping deployment out of the queue\" deployment=\"ns/web\" err=\"conflict\""], Bodies(output));
    }

    [Fact]
    public void EndpointsFailure_Dropped_IsWarningfWithQuotedKey()
    {
        var (logger, output) = Create(KlogLoggerProvider.LevelForVerbosity(2));

        EndpointsController.RetryPolicy.LogFailure!(logger, new ObjectKey("ns", "svc"), new InvalidOperationException("boom"), true);

        Assert.Equal(["W Dropping service \"ns/svc\" out of the queue: boom", "E boom"], Bodies(output));
    }

    [Fact]
    public void TooFewReplicas_Template_IsUpstreamsInfoS()
    {
        var (logger, output) = Create(LogLevel.Debug);

        logger.LogDebug("Too few replicas {ReplicaSet} {Need} {Creating}", new ObjectKey("ns", "web-5d4f"), 10, 10);

        Assert.Equal(["I \"Too few replicas\" replicaSet=\"ns/web-5d4f\" need=10 creating=10"], Bodies(output));
    }
}

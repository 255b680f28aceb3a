using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Kcm.Logging;
using Kcm.Runtime.Logging;
using Kcm.Testing;
using Microsoft.Extensions.Logging;

namespace Kcm.Tests.Logging;

public partial class KlogLoggerProviderTests
{
    private static (ILogger Logger, StringWriter Output) Create(LogLevel level = LogLevel.Trace, bool json = false)
    {
        var output = new StringWriter();
        var provider = new KlogLoggerProvider(output, level, TimeProvider.System, json);
        return (provider.CreateLogger("Kcm.Controllers.Test"), output);
    }

    [Fact]
    public void Log_TemplateWithValues_IsStructuredWithKlogQuotingAndCallSite()
    {
        var (logger, output) = Create();

        logger.LogInformation("Finished syncing {Kind} {Key} after {Duration}, {Count} pods, ratio {Ratio}",
            "ReplicaSet", "ns/web \"a\"", TimeSpan.FromMilliseconds(676.8851), 3, 0.5);

        var line = output.ToString();
        Assert.Matches(Header(), line);
        Assert.Contains(" KlogLoggerProviderTests.cs:", line);
        Assert.EndsWith("] \"Finished syncing after, pods, ratio\" kind=\"ReplicaSet\" key=\"ns/web \\\"a\\\"\" duration=\"676.8851ms\" count=3 ratio=0.5\n", line);
    }

    [Theory]
    [InlineData("Starting \"{Controller}\"", "Starting \"deployment\"")]
    [InlineData("Version: {Controller}", "Version: deployment")]
    [InlineData("successfully acquired lease {Controller}", "successfully acquired lease deployment")]
    public void Log_PrintfLikeTemplate_StaysUnstructured(string template, string expected)
    {
        var (logger, output) = Create();
#pragma warning disable CA2254 // the templates are the cases under test
        logger.LogInformation(template, "deployment");
#pragma warning restore CA2254
        Assert.EndsWith("] " + expected + "\n", output.ToString());
    }

    [Fact]
    public void Log_OnlyPlaceholderWrittenAsKlogKey_IsStructuredWithOnePair()
    {
        var (logger, output) = Create();

        logger.LogInformation("Deployment has been deleted {deployment}", "ns/web");

        Assert.EndsWith("] \"Deployment has been deleted\" deployment=\"ns/web\"\n", output.ToString());
    }

    [Fact]
    public void Log_ErrorWithException_IsErrSeverityAndErrKey()
    {
        var (logger, output) = Create();

        logger.LogError(new InvalidOperationException("boom\tnow"), "Sync {Key} failed", "ns/a");

        var line = output.ToString();
        Assert.StartsWith("E", line);
        Assert.EndsWith("] \"Sync failed\" err=\"boom\\tnow\" key=\"ns/a\"\n", line);
    }

    [Fact]
    public void Log_MultiLineValue_IsKlogBlock()
    {
        var (logger, output) = Create();

        logger.LogInformation("Loaded {Name} from {Text}", "ca", "line one\nline two");

        Assert.EndsWith("] \"Loaded from\" name=\"ca\" text=<\n\tline one\n\tline two\n >\n", output.ToString());
    }

    [Fact]
    public void Log_Json_HasTsCallerMsgVAndValues()
    {
        var (logger, output) = Create(json: true);

        logger.LogDebug("Synced {Pod} in {Duration}", "ns/p", TimeSpan.FromSeconds(1.5));
        logger.LogInformation("Plain message");
        logger.LogError(new InvalidOperationException("bad"), "command failed");

        var lines = output.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonNode.Parse(l)!.AsObject()).ToList();
        Assert.Equal(["ts", "caller", "msg", "v", "pod", "duration"], lines[0].Select(p => p.Key));
        Assert.Matches("^Logging/KlogLoggerProviderTests.cs:[0-9]+$", (string)lines[0]["caller"]!);
        Assert.Equal("Synced in", (string)lines[0]["msg"]!);
        Assert.Equal(2, (int)lines[0]["v"]!);
        Assert.Equal("1.5s", (string)lines[0]["duration"]!);
        Assert.Equal("Plain message\n", (string)lines[1]["msg"]!);
        Assert.Equal(0, (int)lines[1]["v"]!);
        Assert.Equal(["ts", "caller", "msg", "err"], lines[2].Select(p => p.Key));
        Assert.Equal("bad", (string)lines[2]["err"]!);
    }

    [Theory]
    [InlineData(0, false)]
    [InlineData(1, true)]
    [InlineData(2, true)]
    public void Log_V1Line_ShownFromVerbosityOne(int verbosity, bool shown)
    {
        var output = new StringWriter();
        var logger = KlogLoggerProvider.CreateFactory(verbosity, output, upstreamFormat: true).CreateLogger("Kcm.Manager");

        logger.LogInformation(Klog.V1, "Starting \"{Controller}\"", "deployment");
        logger.LogInformation("Started \"{Controller}\"", "deployment");

        var lines = output.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(shown, lines.Any(l => l.EndsWith("] Starting \"deployment\"", StringComparison.Ordinal)));
        Assert.Contains(lines, l => l.EndsWith("] Started \"deployment\"", StringComparison.Ordinal));
    }

    [Fact]
    public void Log_V1LineAsJson_HasV1()
    {
        var output = new StringWriter();
        var logger = KlogLoggerProvider.CreateFactory(1, output, json: true, upstreamFormat: true).CreateLogger("Kcm.Manager");

        logger.LogInformation(Klog.V1, "Controller observed a new Node: \"{Node}\"", "n1");

        Assert.Equal(1, (int)JsonNode.Parse(output.ToString())!["v"]!);
    }

    [Fact]
    public void Log_InfoSWithoutValues_IsQuotedAsKlogInfoS()
    {
        var (logger, output) = Create();

        logger.LogInformation(Klog.InfoS, "Starting NoExecuteTaintManager");
        logger.LogInformation("Starting node controller");

        var lines = output.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.EndsWith("] \"Starting NoExecuteTaintManager\"", lines[0]);
        Assert.EndsWith("] Starting node controller", lines[1]);
    }

    [Fact]
    public void Log_BelowLevel_IsNotWritten()
    {
        var (logger, output) = Create(LogLevel.Debug);

        logger.LogTrace("Controller {Controller} created pod {Pod}", "rs", "ns/p");

        Assert.Equal("", output.ToString());
    }

    [Fact]
    public void Log_SharedAndUniqueTemplates_EachLineNamesItsOwnCall()
    {
        var (logger, output) = Create();
        var expected = new List<int>();

        // Twice round: the second pass is served from the call-site cache and must name the same lines.
        for (var pass = 0; pass < 2; pass++)
        {
            logger.LogInformation("{Message}", "first"); expected.Add(Line());
            logger.LogInformation("{Message}", "second"); expected.Add(Line());
            logger.LogInformation("Pod {Pod} created", "a"); expected.Add(Line());
            logger.LogInformation("Pod {Pod} created", "b"); expected.Add(Line());
            logger.LogInformation("Used by one call {Pod}", "c"); expected.Add(Line());
        }

        var lines = output.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(expected.Count, lines.Length);
        for (var i = 0; i < lines.Length; i++) Assert.Contains($" KlogLoggerProviderTests.cs:{expected[i]}] ", lines[i]);
        Assert.NotEqual(expected[0], expected[1]);
    }

    [Fact]
    public void Log_Header_IsKlogTimestampPidAndSeverity()
    {
        var output = new StringWriter();
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 3, 4, 5, 6, 7, TimeSpan.Zero).AddTicks(1_234_567));
        var logger = new KlogLoggerProvider(output, LogLevel.Trace, time).CreateLogger("Kcm.Test");

        logger.LogWarning("Slow {Step}", "x");

        var local = time.GetLocalNow();
        var expected = $"W{local.ToString("MMdd HH:mm:ss.ffffff", CultureInfo.InvariantCulture)} {Environment.ProcessId,7} KlogLoggerProviderTests.cs:";
        Assert.StartsWith(expected, output.ToString());
        Assert.Contains(".123456 ", output.ToString());
    }

    [Fact]
    public async Task Log_ManyThreadsAtOnce_EveryLineWrittenWholeAndOnce()
    {
        var output = new StringWriter();
        var provider = new KlogLoggerProvider(output, LogLevel.Trace, TimeProvider.System);
        var logger = provider.CreateLogger("Kcm.Test");

        var writers = Enumerable.Range(0, 8).Select(t => Task.Run(() =>
        {
            for (var i = 0; i < 200; i++) logger.LogInformation("Line {Thread} {Index}", t, i);
        }));
        await Task.WhenAll(writers).WaitAsync(TimeSpan.FromSeconds(30));
        provider.Dispose();

        var lines = output.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(1600, lines.Length);
        Assert.All(lines, l => Assert.Matches(Header(), l));
        var seen = lines.Select(l => l[(l.IndexOf("thread=", StringComparison.Ordinal))..]).ToHashSet();
        Assert.Equal(1600, seen.Count);
    }

    private static int Line([CallerLineNumber] int line = 0) => line;

    [GeneratedRegex(@"^I\d{4} \d\d:\d\d:\d\d\.\d{6} +\d+ [^ ]+\.cs:\d+\] ")]
    private static partial Regex Header();
}

using System.Text.RegularExpressions;
using Kcm.Logging;

namespace Kcm.Tests.Logging;

public partial class CallSiteTests
{
    // The NativeAOT binary knows a frame's type only by name: nested state machines, generic arity and generic
    // arguments (which carry dots of their own) must not leak into the klog header's file name.
    [Theory]
    [InlineData("Kcm.Controllers.Jobs.JobController+<SyncAsync>d__12", "Kcm.Controllers.Jobs", "JobController")]
    [InlineData("Kcm.Runtime.Informers.SharedInformer`1+<RunAsync>d__3[[Kcm.Api.Core.V1.Pod, Kcm.Api]]", "Kcm.Runtime.Informers", "SharedInformer")]
    [InlineData("Program", "", "Program")]
    public void SplitTypeName_StackTraceTypeNames_NamespaceAndOuterType(string name, string ns, string outer)
        => Assert.Equal((ns, outer), CallSite.SplitTypeName(name));

    // A template cached by its text must belong to one log call; one that several calls use has to be walked.
    [Fact]
    public void SharedTemplates_EveryTemplateUsedByTwoLogCallsInSrc_IsWalkedEveryTime()
    {
        var src = Path.Combine(RepoRoot(), "src");
        var sites = new Dictionary<string, List<string>>(StringComparer.Ordinal);
        foreach (var file in Directory.EnumerateFiles(src, "*.cs", SearchOption.AllDirectories))
        {
            if (file.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}", StringComparison.Ordinal)) continue;
            foreach (Match m in LogCall().Matches(File.ReadAllText(file)))
            {
                var template = Regex.Unescape(m.Groups["t"].Value);
                if (!sites.TryGetValue(template, out var files)) sites[template] = files = [];
                files.Add(Path.GetFileName(file));
            }
        }

        Assert.True(sites.Count > 100, $"the scan found only {sites.Count} templates");
        var unlisted = sites.Where(s => s.Value.Count > 1 && !CallSite.WalksAlways(s.Key))
            .Select(s => $"\"{s.Key}\" ({string.Join(", ", s.Value)})").ToList();
        Assert.True(unlisted.Count == 0, "add to CallSite.SharedTemplates: " + string.Join("; ", unlisted));
    }

    [Theory]
    [InlineData("{Message}", true)]
    [InlineData("{What}: {Error}", true)]
    [InlineData("Pod {Pod} created", true)]
    [InlineData("enqueueing job {Key}", false)]
    [InlineData("Event occurred", false)]
    public void WalksAlways_Template_OnlyForPlaceholderOnlyOrSharedTemplates(string template, bool expected)
        => Assert.Equal(expected, CallSite.WalksAlways(template));

    private static string RepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Kcm.sln"))) return dir.FullName;
        }
        throw new InvalidOperationException("Kcm.sln not found above " + AppContext.BaseDirectory);
    }

    // logger.LogX("template", ...) or logger.LogX(exception, "template", ...); interpolated templates are not constant.
    [GeneratedRegex(@"\.Log(?:Trace|Debug|Information|Warning|Error|Critical)\(\s*(?:[\w.!?()]+\s*,\s*)?""(?<t>(?:[^""\\]|\\.)*)""", RegexOptions.Singleline)]
    private static partial Regex LogCall();
}

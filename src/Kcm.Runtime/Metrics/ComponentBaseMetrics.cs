using System.Runtime.InteropServices;

namespace Kcm.Runtime.Metrics;

/// <summary>
/// The families component-base adds to every Kubernetes component's registry: build information,
/// feature gate states, and the registry's own counts of registered, disabled and hidden metrics.
/// </summary>
public static class ComponentBaseMetrics
{
    /// <summary>kubernetes_build_info: a constant 1 labelled with what this binary is (the Go fields carry .NET's equivalents).</summary>
    public static void RegisterBuildInfo(MetricsRegistry registry, string gitVersion)
    {
        var (major, minor) = MajorMinor(gitVersion);
        var platform = $"{(OperatingSystem.IsWindows() ? "windows" : OperatingSystem.IsMacOS() ? "darwin" : "linux")}/{GoArch(RuntimeInformation.ProcessArchitecture)}";
        registry.Gauge("kubernetes_build_info",
            "[ALPHA] Always 1, labelled with the version, commit, tree state, build date, toolchain and platform of this build.",
            "build_date", "compiler", "git_commit", "git_tree_state", "git_version", "go_version", "major", "minor", "platform")
            .Set(1, "", "dotnet", "", "", gitVersion, RuntimeInformation.FrameworkDescription, major, minor, platform);
    }

    /// <summary>kubernetes_feature_enabled{name,stage}: 1 for each gate that is on; stage "" for GA gates, as upstream.</summary>
    public static void RegisterFeatureGates(MetricsRegistry registry, IEnumerable<(string Name, string Stage, bool Enabled)> gates)
    {
        var gauge = registry.Gauge("kubernetes_feature_enabled", "[ALPHA] Whether each feature gate is on (1) or off (0), by its name and stage.", "name", "stage");
        foreach (var (name, stage, enabled) in gates) gauge.Set(enabled ? 1 : 0, name, stage);
    }

    /// <summary>
    /// registered_metric_total by stability level (read from the help prefix), plus disabled_metric_total and
    /// hidden_metric_total, which stay 0: this registry neither disables nor hides metrics.
    /// </summary>
    public static void RegisterRegistryCounts(MetricsRegistry registry)
    {
        var registered = registry.Counter("registered_metric_total", "[ALPHA] Metrics registered, by stability level and the version that deprecated them.", "deprecated_version", "stability_level");
        registry.Counter("disabled_metric_total", "[ALPHA] Metrics turned off.");
        registry.Counter("hidden_metric_total", "[ALPHA] Metrics hidden as deprecated.");
        registry.OnCollect(() =>
        {
            foreach (var level in registry.Families.Where(f => f.StabilityLevel.Length > 0).GroupBy(f => f.StabilityLevel))
                registered.SetTotal(level.Count(), "", level.Key);
        });
    }

    private static (string Major, string Minor) MajorMinor(string gitVersion)
    {
        var parts = gitVersion.TrimStart('v').Split('.');
        return (parts[0], parts.Length > 1 ? parts[1] : "");
    }

    private static string GoArch(Architecture architecture) => architecture switch
    {
        Architecture.X64 => "amd64",
        Architecture.Arm64 => "arm64",
        Architecture.X86 => "386",
        Architecture.Arm => "arm",
        _ => architecture.ToString().ToLowerInvariant(),
    };
}

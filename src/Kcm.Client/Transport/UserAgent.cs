using System.Runtime.InteropServices;

namespace Kcm.Client.Transport;

/// <summary>client-go's DefaultKubernetesUserAgent: "command/version (os/arch) kubernetes/commit".</summary>
public static class UserAgent
{
    public const string DefaultCommand = "kube-controller-manager";
    public const string DefaultVersion = "v1.26.3";
    public const string DefaultCommit = "unknown";

    public static string Default { get; } = Build(DefaultCommand, DefaultVersion, DefaultCommit);

    public static string Build(string command, string version, string commit)
    {
        // client-go shortens the commit to 7 characters.
        var shortCommit = commit.Length > 7 ? commit[..7] : commit;
        return $"{command}/{version} ({GoOs()}/{GoArch()}) kubernetes/{shortCommit}";
    }

    private static string GoOs()
        => OperatingSystem.IsLinux() ? "linux" : OperatingSystem.IsWindows() ? "windows" : OperatingSystem.IsMacOS() ? "darwin" : "unknown";

    private static string GoArch() => RuntimeInformation.OSArchitecture switch
    {
        Architecture.X64 => "amd64",
        Architecture.Arm64 => "arm64",
        Architecture.X86 => "386",
        Architecture.Arm => "arm",
        Architecture.S390x => "s390x",
        Architecture.Ppc64le => "ppc64le",
        var other => other.ToString().ToLowerInvariant(),
    };
}

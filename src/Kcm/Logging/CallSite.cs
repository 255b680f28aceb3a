using System.Diagnostics;

namespace Kcm.Logging;

/// <summary>
/// The source file and line of the code that logged, for klog's `file:line]` header: the first frame outside
/// the logging plumbing (Microsoft.Extensions.Logging, this folder, generated LoggerMessage code). Needs the
/// portable PDBs the build ships next to the assemblies; without them the line is 0 and the file the type name.
/// </summary>
internal static class CallSite
{
    public readonly record struct Location(string Directory, string File, int Line);

    private static readonly Location Unknown = new("", "???", 1);

    public static Location Find()
    {
        var frames = new StackTrace(2, fNeedFileInfo: true).GetFrames();
        Location? typeOnly = null;
        foreach (var frame in frames)
        {
            var type = frame.GetMethod()?.DeclaringType;
            var ns = type?.Namespace ?? "";
            if (type == null || ns.StartsWith("Microsoft.", StringComparison.Ordinal) || ns.StartsWith("System", StringComparison.Ordinal)
                || ns == typeof(CallSite).Namespace)
            {
                continue;
            }
            var path = frame.GetFileName();
            if (string.IsNullOrEmpty(path))
            {
                typeOnly ??= new Location("", OuterType(type).Name + ".cs", 0);
                continue;
            }
            if (path.EndsWith(".g.cs", StringComparison.Ordinal)) continue;
            var directory = Path.GetFileName(Path.GetDirectoryName(path)) ?? "";
            return new Location(directory, Path.GetFileName(path), frame.GetFileLineNumber());
        }
        return typeOnly ?? Unknown;
    }

    // Async state machines and lambdas are nested types of the method's own class.
    private static Type OuterType(Type type)
    {
        while (type.DeclaringType != null) type = type.DeclaringType;
        return type;
    }
}

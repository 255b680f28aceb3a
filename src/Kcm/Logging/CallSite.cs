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
            // DiagnosticMethodInfo rather than GetMethod(): the NativeAOT binary keeps stack-trace names, not reflection.
            var typeName = DiagnosticMethodInfo.Create(frame)?.DeclaringTypeName;
            if (typeName == null) continue;
            var (ns, outer) = SplitTypeName(typeName);
            if (ns.StartsWith("Microsoft.", StringComparison.Ordinal) || ns.StartsWith("System", StringComparison.Ordinal)
                || ns == typeof(CallSite).Namespace)
            {
                continue;
            }
            var path = frame.GetFileName();
            if (string.IsNullOrEmpty(path))
            {
                typeOnly ??= new Location("", outer + ".cs", 0);
                continue;
            }
            if (path.EndsWith(".g.cs", StringComparison.Ordinal)) continue;
            var directory = Path.GetFileName(Path.GetDirectoryName(path)) ?? "";
            return new Location(directory, Path.GetFileName(path), frame.GetFileLineNumber());
        }
        return typeOnly ?? Unknown;
    }

    // "Ns.Outer`1+<Run>d__5[[args]]" -> ("Ns", "Outer"): async state machines and lambdas are nested types of the
    // method's own class, and generic arguments may contain dots of their own.
    internal static (string Namespace, string OuterType) SplitTypeName(string fullName)
    {
        var end = fullName.IndexOfAny(['+', '`', '[']);
        var outer = end < 0 ? fullName : fullName[..end];
        var dot = outer.LastIndexOf('.');
        return dot < 0 ? ("", outer) : (outer[..dot], outer[(dot + 1)..]);
    }
}

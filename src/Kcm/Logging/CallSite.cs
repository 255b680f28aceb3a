using System.Collections.Concurrent;
using System.Collections.Frozen;
using System.Diagnostics;
using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Reflection;

namespace Kcm.Logging;

/// <summary>
/// The source file and line of the code that logged, for klog's `file:line]` header: the first frame outside
/// the logging plumbing (Microsoft.Extensions.Logging, this folder, generated LoggerMessage code). Needs the
/// portable PDBs the build ships next to the assemblies; without them the line is 0 and the file the type name.
/// The NativeAOT binary has no method metadata and no lines: it names the type only, through DiagnosticMethodInfo.
/// </summary>
internal static class CallSite
{
    /// <summary>A call site; <see cref="Header"/> and <see cref="Caller"/> are the strings the text and JSON lines print.</summary>
    public sealed record Location(string Directory, string File, int Line)
    {
        public string Header { get; } = File + ":" + Line.ToString(CultureInfo.InvariantCulture);

        public string Caller { get; } = Directory + "/" + File + ":" + Line.ToString(CultureInfo.InvariantCulture);
    }

    private enum Kind { Found, TypeOnly, Generated }

    private readonly record struct Site(Kind Kind, Location? Location);

    private static readonly Location Unknown = new("", "???", 1);

    // Reading file and line from the PDB for every frame of every written line was most of a line's cost. A frame
    // without file info still names its method and IL offset, which is all the PDB lookup depends on, so the
    // lookup is done once per (method, offset) and reused. Bounded by the number of log call sites in the code.
    private static readonly ConcurrentDictionary<(MethodBase Method, int Offset), Site> Sites = new();

    // A template used by one log call names that call's site, so its location is found once and reused without
    // walking the stack (the walk itself, not the PDB lookup, is then most of a line's cost). Templates several
    // calls share are walked every time: those that are only placeholders ("{Message}" carries printf-style text)
    // and the ones listed here (tests/Kcm.Tests/Logging/CallSiteTests keeps the list complete by scanning src/).
    internal static readonly FrozenSet<string> SharedTemplates = new[]
    {
        "Waiting for caches to sync for {Name}",
        "Caches are synced for {Name}",
        "new leader elected: {Leader}",
        "Loaded volume plugin {pluginName}",
        "Couldn't get key for EndpointSlice {Slice}: missing {Label} label",
        "Loaded a new cert/key pair {name}",
        "synced quota controller",
        "failed to discover some groups: {Error}",
        "Sending events to api server.",
        "Pod {Pod} created",
        "volume \"{Volume}\" deleted",
        "error reading persistent volume \"{Volume}\": {Error}",
    }.ToFrozenSet(StringComparer.Ordinal);

    private const int TemplateLimit = 4096;
    private static readonly ConcurrentDictionary<string, Location> ByTemplate = new(StringComparer.Ordinal);

    /// <summary>The call site of the log call being written; <paramref name="template"/> is its message template, if any.</summary>
    public static Location Find(string? template)
    {
        if (template is null || WalksAlways(template)) return Walk(out _);
        if (ByTemplate.TryGetValue(template, out var known)) return known;
        var location = Walk(out var viaGenerated);
        // A generated LoggerMessage method holds the template for all of its callers.
        if (!viaGenerated && ByTemplate.Count < TemplateLimit) ByTemplate.TryAdd(template, location);
        return location;
    }

    /// <summary>Whether lines with this template find their call site by walking the stack every time.</summary>
    internal static bool WalksAlways(string template) => SharedTemplates.Contains(template) || !HasWords(template);

    // Literal text outside the placeholders: "{What}: {Error}" has none.
    private static bool HasWords(string template)
    {
        var depth = 0;
        foreach (var c in template)
        {
            if (c == '{') depth++;
            else if (c == '}') depth = Math.Max(0, depth - 1);
            else if (depth == 0 && char.IsLetter(c)) return true;
        }
        return false;
    }

    private static Location Walk(out bool viaGenerated)
    {
        viaGenerated = false;
        var frames = new StackTrace(1, fNeedFileInfo: false).GetFrames();
        StackFrame[]? withFiles = null;
        Location? typeOnly = null;
        for (var i = 0; i < frames.Length; i++)
        {
            var frame = frames[i];
            var method = MethodOf(frame);
            if (method is null)
            {
                typeOnly ??= ByName(frame);
                continue;
            }
            if (IsPlumbing(method.DeclaringType)) continue;
            var key = (method, frame.GetILOffset());
            if (!Sites.TryGetValue(key, out var site))
            {
                // Same depth as the walk above, so the frames line up; matched by method and offset to be sure.
                withFiles ??= new StackTrace(1, fNeedFileInfo: true).GetFrames();
                site = Classify(Match(withFiles, i, key) ?? frame, method!.DeclaringType!);
                Sites.TryAdd(key, site);
            }
            switch (site.Kind)
            {
                case Kind.Found: return site.Location!;
                case Kind.TypeOnly: typeOnly ??= site.Location; break;
                case Kind.Generated: viaGenerated = true; break;
            }
        }
        return typeOnly ?? Unknown;
    }

    // Under NativeAOT GetMethod() is always null (no reflection metadata); ByName then names the type.
    [UnconditionalSuppressMessage("Trimming", "IL2026", Justification = "A null method falls back to DiagnosticMethodInfo.")]
    private static MethodBase? MethodOf(StackFrame frame) => frame.GetMethod();

    private static Location? ByName(StackFrame frame)
    {
        if (DiagnosticMethodInfo.Create(frame)?.DeclaringTypeName is not { } typeName) return null;
        var (ns, outer) = SplitTypeName(typeName);
        return IsPlumbing(ns) ? null : new Location("", outer + ".cs", 0);
    }

    private static bool IsPlumbing(Type? type) => type == null || IsPlumbing(type.Namespace ?? "");

    private static bool IsPlumbing(string ns)
        => ns.StartsWith("Microsoft.", StringComparison.Ordinal) || ns.StartsWith("System", StringComparison.Ordinal)
            || ns == typeof(CallSite).Namespace;

    private static StackFrame? Match(StackFrame[] frames, int index, (MethodBase Method, int Offset) key)
    {
        if (index < frames.Length && Same(frames[index], key)) return frames[index];
        foreach (var frame in frames)
        {
            if (Same(frame, key)) return frame;
        }
        return null;
    }

    private static bool Same(StackFrame frame, (MethodBase Method, int Offset) key)
        => Equals(MethodOf(frame), key.Method) && frame.GetILOffset() == key.Offset;

    private static Site Classify(StackFrame frame, Type type)
    {
        var path = frame.GetFileName();
        if (string.IsNullOrEmpty(path)) return new Site(Kind.TypeOnly, new Location("", SplitTypeName(type.FullName ?? type.Name).OuterType + ".cs", 0));
        if (path.EndsWith(".g.cs", StringComparison.Ordinal)) return new Site(Kind.Generated, null);
        var directory = Path.GetFileName(Path.GetDirectoryName(path)) ?? "";
        return new Site(Kind.Found, new Location(directory, Path.GetFileName(path), frame.GetFileLineNumber()));
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

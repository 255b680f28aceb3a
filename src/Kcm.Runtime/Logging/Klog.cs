using Microsoft.Extensions.Logging;

namespace Kcm.Runtime.Logging;

/// <summary>
/// Event ids that carry what a klog call says and a log template cannot: the klog writer (src/Kcm/Logging) reads them.
/// Levels map --v 0-1 to Information, so a line upstream writes at V(1) is logged at Information with <see cref="V1"/>
/// and shown from --v=1 on. <see cref="InfoS"/> marks a message without values as klog.InfoS wrote it: quoted, where
/// a template without placeholders is otherwise a printf-style klog.Info line.
/// </summary>
public static class Klog
{
    public static readonly EventId V1 = new(1, "klog.V(1)");

    public static readonly EventId InfoS = new(2, "klog.InfoS");
}

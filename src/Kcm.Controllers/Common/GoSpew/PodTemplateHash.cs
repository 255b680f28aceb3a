using System.Buffers.Binary;
using System.Globalization;
using System.Text;
using Kcm.Api;
using Kcm.Api.Core.V1;
using Kcm.Controllers.Deployments;

namespace Kcm.Controllers.Common.GoSpew;

/// <summary>
/// controller.ComputeHash byte for byte: FNV-32a over spew's "%#v" of the Go v1.PodTemplateSpec value
/// (hashutil.DeepHashObject), then the collision count as 8 little-endian bytes (the low 4 set), the decimal sum
/// safe-encoded. Deployments name their ReplicaSets with it and DaemonSets their ControllerRevisions, so equal
/// templates get the same names under upstream's controller manager and ours.
/// </summary>
public static class PodTemplateHash
{
    /// <summary>The hash, or null when the template holds a value whose Go state is not modelled (see <see cref="SpewPrinter"/>).</summary>
    public static string? TryCompute(PodTemplateSpec template, int? collisionCount)
    {
        string dump;
        try
        {
            dump = Dump(template);
        }
        catch (NotSupportedException)
        {
            return null;
        }
        catch (FormatException)
        {
            return null;
        }
        var hash = Fnv32a(2166136261u, Encoding.UTF8.GetBytes(dump));
        if (collisionCount is { } count)
        {
            Span<byte> bytes = stackalloc byte[8];
            bytes.Clear();
            BinaryPrimitives.WriteUInt32LittleEndian(bytes, unchecked((uint)count));
            hash = Fnv32a(hash, bytes);
        }
        return SafeEncoding.SafeEncodeString(hash.ToString(CultureInfo.InvariantCulture));
    }

    /// <summary>The text upstream hashes for this template.</summary>
    internal static string Dump(PodTemplateSpec template) => SpewPrinter.Print("core.PodTemplateSpec", KubeJson.ToNode(template));

    private static uint Fnv32a(uint hash, ReadOnlySpan<byte> data)
    {
        foreach (var b in data)
        {
            hash ^= b;
            hash = unchecked(hash * 16777619u);
        }
        return hash;
    }
}

using System.Buffers;

namespace Kcm.Api.Protobuf;

/// <summary>
/// One reusable buffer per nesting depth for protobuf writers: a nested message is written into its depth's buffer,
/// then copied behind its length prefix.
/// </summary>
internal sealed class ScratchBuffers
{
    private readonly List<ArrayBufferWriter<byte>> _byDepth = [];

    /// <summary>The emptied buffer for <paramref name="depth"/>.</summary>
    public ArrayBufferWriter<byte> At(int depth)
    {
        while (_byDepth.Count <= depth) _byDepth.Add(new ArrayBufferWriter<byte>(256));
        var buffer = _byDepth[depth];
        buffer.ResetWrittenCount();
        return buffer;
    }
}

using System.Buffers;

namespace Kcm.Client.Serialization;

/// <summary>
/// A per-thread buffer for JSON that lives only until it is deserialized (a transcoded protobuf response or watch
/// event): no await happens between filling and reading it, so one buffer per thread serves every call without a
/// fresh array and copy each time. A buffer grown past <see cref="KeepBytes"/> (a large list page) is not kept.
/// </summary>
internal static class ScratchBuffer
{
    private const int KeepBytes = 1024 * 1024;

    [ThreadStatic]
    private static ArrayBufferWriter<byte>? _cached;

    public static ArrayBufferWriter<byte> Rent()
    {
        var buffer = _cached ?? new ArrayBufferWriter<byte>(16 * 1024);
        _cached = null;
        return buffer;
    }

    public static void Return(ArrayBufferWriter<byte> buffer)
    {
        if (buffer.Capacity > KeepBytes) return;
        buffer.ResetWrittenCount();
        _cached = buffer;
    }
}

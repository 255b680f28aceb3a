using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using Kcm.Api.Protobuf;
using Kcm.Client.Errors;

namespace Kcm.Client.Watch;

/// <summary>
/// Reads a protobuf watch stream (application/vnd.kubernetes.protobuf;stream=watch): frames of a 4-byte big-endian
/// length and a metav1.WatchEvent, each yielded as its type and its object's bytes (an enveloped protobuf object, or
/// JSON for a custom resource) for <see cref="WatchStreamDecoder"/>. The bytes lie in a buffer reused for the next
/// frame: read them before moving on.
/// </summary>
public static class ProtobufWatchFramer
{
    private const int MaxFrameBytes = 64 * 1024 * 1024;

    public static async IAsyncEnumerable<(string Type, ReadOnlyMemory<byte> Object)> ReadEventsAsync(Stream stream,
        [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var header = new byte[4];
        var frame = new byte[16 * 1024];
        while (true)
        {
            if (!await FillAsync(stream, header, 4, atStart: true, cancellationToken).ConfigureAwait(false)) yield break;
            var length = BinaryPrimitives.ReadInt32BigEndian(header);
            if (length is < 0 or > MaxFrameBytes) throw new KubeProtocolException($"watch stream: protobuf frame of {length} bytes");
            // A buffer grown by one huge object is not kept for the rest of a long watch.
            if (frame.Length < length || frame.Length > 1024 * 1024 && length <= 16 * 1024) frame = new byte[Math.Max(length, 16 * 1024)];
            await FillAsync(stream, frame, length, atStart: false, cancellationToken).ConfigureAwait(false);
            string type;
            Range range;
            try
            {
                type = ProtobufTranscoder.ReadWatchEvent(frame.AsSpan(0, length), out range);
            }
            catch (ProtobufDecodeException ex)
            {
                throw new KubeProtocolException($"watch stream: undecodable protobuf event: {ex.Message}", ex);
            }
            yield return (type, frame.AsMemory(0, length)[range]);
        }
    }

    private static async Task<bool> FillAsync(Stream stream, byte[] buffer, int count, bool atStart, CancellationToken cancellationToken)
    {
        var read = 0;
        while (read < count)
        {
            var n = await stream.ReadAsync(buffer.AsMemory(read, count - read), cancellationToken).ConfigureAwait(false);
            if (n == 0)
            {
                if (atStart && read == 0) return false;
                throw new KubeProtocolException("watch stream ended in the middle of a protobuf frame");
            }
            read += n;
        }
        return true;
    }
}

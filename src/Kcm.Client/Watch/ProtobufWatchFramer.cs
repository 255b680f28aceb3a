using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using Kcm.Api.Protobuf;
using Kcm.Client.Errors;

namespace Kcm.Client.Watch;

/// <summary>
/// Reads a protobuf watch stream (application/vnd.kubernetes.protobuf;stream=watch): frames of a 4-byte big-endian
/// length and a metav1.WatchEvent, each yielded as the equivalent JSON event for <see cref="WatchStreamDecoder"/>.
/// </summary>
public static class ProtobufWatchFramer
{
    private const int MaxFrameBytes = 64 * 1024 * 1024;

    public static async IAsyncEnumerable<ReadOnlyMemory<byte>> ReadEventsAsJsonAsync(Stream stream, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var header = new byte[4];
        var frame = new byte[16 * 1024];
        while (true)
        {
            if (!await FillAsync(stream, header, 4, atStart: true, cancellationToken).ConfigureAwait(false)) yield break;
            var length = BinaryPrimitives.ReadInt32BigEndian(header);
            if (length is < 0 or > MaxFrameBytes) throw new KubeProtocolException($"watch stream: protobuf frame of {length} bytes");
            if (frame.Length < length) frame = new byte[Math.Max(length, frame.Length * 2)];
            await FillAsync(stream, frame, length, atStart: false, cancellationToken).ConfigureAwait(false);
            byte[] json;
            try
            {
                json = ProtobufTranscoder.WatchEventToJson(frame.AsSpan(0, length));
            }
            catch (ProtobufDecodeException ex)
            {
                throw new KubeProtocolException($"watch stream: undecodable protobuf event: {ex.Message}", ex);
            }
            yield return json;
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

using System.Buffers;
using System.Runtime.CompilerServices;
using Kcm.Client.Errors;

namespace Kcm.Client.Watch;

/// <summary>
/// Splits a stream of concatenated JSON objects (newline separated or not, as client-go's JSON framer accepts)
/// into one buffer per object, reading incrementally so a long watch is never buffered whole.
/// </summary>
public static class JsonObjectFramer
{
    private const int ReadSize = 16 * 1024;
    private const int MaxObjectBytes = 64 * 1024 * 1024;

    public static async IAsyncEnumerable<ReadOnlyMemory<byte>> ReadObjectsAsync(Stream stream, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var chunk = ArrayPool<byte>.Shared.Rent(ReadSize);
        var current = new ArrayBufferWriter<byte>();
        var depth = 0;
        var inString = false;
        var escaped = false;
        try
        {
            while (true)
            {
                var read = await stream.ReadAsync(chunk.AsMemory(0, ReadSize), cancellationToken).ConfigureAwait(false);
                if (read == 0)
                {
                    if (depth != 0)
                    {
                        throw new KubeProtocolException("watch stream ended in the middle of an object");
                    }
                    yield break;
                }

                var segmentStart = depth > 0 ? 0 : -1;
                for (var i = 0; i < read; i++)
                {
                    var b = chunk[i];
                    if (depth == 0)
                    {
                        if (b is (byte)' ' or (byte)'\n' or (byte)'\r' or (byte)'\t')
                        {
                            continue;
                        }
                        if (b != (byte)'{')
                        {
                            throw new KubeProtocolException($"watch stream: expected '{{' but found '{(char)b}'");
                        }
                        depth = 1;
                        segmentStart = i;
                        continue;
                    }

                    if (inString)
                    {
                        if (escaped)
                        {
                            escaped = false;
                        }
                        else if (b == (byte)'\\')
                        {
                            escaped = true;
                        }
                        else if (b == (byte)'"')
                        {
                            inString = false;
                        }
                        continue;
                    }

                    switch (b)
                    {
                        case (byte)'"':
                            inString = true;
                            break;
                        case (byte)'{' or (byte)'[':
                            depth++;
                            break;
                        case (byte)'}' or (byte)']':
                            depth--;
                            if (depth == 0)
                            {
                                current.Write(chunk.AsSpan(segmentStart, i + 1 - segmentStart));
                                var frame = current.WrittenSpan.ToArray();
                                current.ResetWrittenCount();
                                segmentStart = -1;
                                yield return frame;
                            }
                            break;
                    }
                }

                if (depth > 0 && segmentStart >= 0)
                {
                    current.Write(chunk.AsSpan(segmentStart, read - segmentStart));
                    if (current.WrittenCount > MaxObjectBytes)
                    {
                        throw new KubeProtocolException($"watch stream: object larger than {MaxObjectBytes} bytes");
                    }
                }
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(chunk);
        }
    }
}

using System.Buffers;
using System.Runtime.CompilerServices;
using Kcm.Client.Errors;

namespace Kcm.Client.Watch;

/// <summary>
/// Splits a stream of concatenated JSON objects (newline separated or not, as client-go's JSON framer accepts)
/// into one buffer per object, reading incrementally so a long watch is never buffered whole. A yielded frame is
/// valid until the enumeration moves on (it may be a slice of the read buffer): read it before asking for the next.
/// </summary>
public static class JsonObjectFramer
{
    private const int ReadSize = 16 * 1024;
    private const int MaxObjectBytes = 64 * 1024 * 1024;

    // Inside a string only its end and escapes matter; outside, quotes and brackets.
    private static readonly SearchValues<byte> StringSpecials = SearchValues.Create("\"\\"u8);
    private static readonly SearchValues<byte> Structural = SearchValues.Create("\"{}[]"u8);

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
                var i = 0;
                while (i < read)
                {
                    if (depth == 0)
                    {
                        var b = chunk[i];
                        if (b is (byte)' ' or (byte)'\n' or (byte)'\r' or (byte)'\t')
                        {
                            i++;
                            continue;
                        }
                        if (b != (byte)'{')
                        {
                            throw new KubeProtocolException($"watch stream: expected '{{' but found '{(char)b}'");
                        }
                        depth = 1;
                        segmentStart = i;
                        i++;
                        continue;
                    }

                    if (escaped)
                    {
                        escaped = false;
                        i++;
                        continue;
                    }

                    var rest = chunk.AsSpan(i, read - i);
                    var found = rest.IndexOfAny(inString ? StringSpecials : Structural);
                    if (found < 0)
                    {
                        break;
                    }
                    i += found;
                    switch (chunk[i])
                    {
                        case (byte)'\\':
                            escaped = true;
                            break;
                        case (byte)'"':
                            inString = !inString;
                            break;
                        case (byte)'{' or (byte)'[':
                            depth++;
                            break;
                        default:
                            depth--;
                            if (depth == 0)
                            {
                                var end = i + 1;
                                if (current.WrittenCount == 0)
                                {
                                    // The whole object lies in this read: hand out the slice, no copy.
                                    yield return chunk.AsMemory(segmentStart, end - segmentStart);
                                }
                                else
                                {
                                    current.Write(chunk.AsSpan(segmentStart, end - segmentStart));
                                    yield return current.WrittenMemory;
                                    current.ResetWrittenCount();
                                }
                                segmentStart = -1;
                            }
                            break;
                    }
                    i++;
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

using System.Text;
using Kcm.Client.Errors;
using Kcm.Client.Watch;

namespace Kcm.Client.Tests.Watch;

public sealed class JsonObjectFramerTests
{
    /// <summary>Hands out at most a few bytes per read, so objects straddle read boundaries.</summary>
    private sealed class TrickleStream(byte[] data, int chunk) : MemoryStream(data)
    {
        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
            => base.ReadAsync(buffer[..Math.Min(chunk, buffer.Length)], cancellationToken);
    }

    private static async Task<List<string>> FramesAsync(string text, int chunk)
    {
        var frames = new List<string>();
        await foreach (var frame in JsonObjectFramer.ReadObjectsAsync(new TrickleStream(Encoding.UTF8.GetBytes(text), chunk), CancellationToken.None))
        {
            frames.Add(Encoding.UTF8.GetString(frame.Span));
        }
        return frames;
    }

    [Theory(Timeout = 10000)]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(4096)]
    public async Task ReadObjectsAsync_ConcatenatedObjects_SplitsAtTopLevelBraces(int chunk)
    {
        const string a = """{"type":"ADDED","object":{"s":"}{\"","a":[{"x":1}]}}""";
        const string b = """{"type":"DELETED","object":{"s":"\\"}}""";

        var frames = await FramesAsync($"  {a}{b}\r\n\n{a}\n", chunk);

        Assert.Equal([a, b, a], frames);
    }

    [Fact(Timeout = 10000)]
    public async Task ReadObjectsAsync_TruncatedObject_ThrowsProtocolException()
    {
        await Assert.ThrowsAsync<KubeProtocolException>(() => FramesAsync("""{"type":"ADDED","object":{""", 8));
    }

    [Fact(Timeout = 10000)]
    public async Task ReadObjectsAsync_NonObject_ThrowsProtocolException()
    {
        await Assert.ThrowsAsync<KubeProtocolException>(() => FramesAsync("garbage", 8));
    }

    [Fact]
    public void DecodeFrame_UnknownType_ThrowsProtocolException()
    {
        var frame = Encoding.UTF8.GetBytes("""{"type":"RENAMED","object":{}}""");

        Assert.Throws<KubeProtocolException>(() => WatchStreamDecoder.DecodeFrame(frame, Kcm.Api.KubeJson.TypeInfo<Kcm.Api.Core.V1.Pod>()));
    }
}

using System.Buffers.Binary;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using Kcm.Api.Protobuf;

namespace Kcm.Client.Tests.Serialization;

/// <summary>Hand-built protobuf wire bytes and stub responses carrying them, for the client's decoding tests.</summary>
internal static class ProtobufTestBytes
{
    public static HttpResponseMessage Response(byte[] body, string mediaType = ProtobufTranscoder.MediaType, HttpStatusCode code = HttpStatusCode.OK)
    {
        var content = new ByteArrayContent(body);
        content.Headers.ContentType = MediaTypeHeaderValue.Parse(mediaType);
        return new HttpResponseMessage(code) { Content = content };
    }

    /// <summary>One frame of a protobuf watch stream: a 4-byte big-endian length, then a WatchEvent whose object is raw bytes.</summary>
    public static byte[] WatchFrame(string type, byte[] obj)
    {
        var raw = new List<byte> { 0x0a };
        AddLength(raw, obj.Length);
        raw.AddRange(obj);
        var frame = new List<byte> { 0x0a, (byte)type.Length };
        frame.AddRange(Encoding.UTF8.GetBytes(type));
        frame.Add(0x12);
        AddLength(frame, raw.Count);
        frame.AddRange(raw);
        var length = new byte[4];
        BinaryPrimitives.WriteInt32BigEndian(length, frame.Count);
        return [.. length, .. frame];
    }

    /// <summary>A length prefix as a protobuf varint.</summary>
    public static void AddLength(List<byte> bytes, int length)
    {
        var v = (uint)length;
        while (v >= 0x80)
        {
            bytes.Add((byte)(v | 0x80));
            v >>= 7;
        }
        bytes.Add((byte)v);
    }
}

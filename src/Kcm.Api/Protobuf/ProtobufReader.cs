using System.Buffers.Binary;
using System.Text;

namespace Kcm.Api.Protobuf;

/// <summary>A forward-only reader of protobuf wire format over a span.</summary>
internal ref struct ProtobufReader(ReadOnlySpan<byte> data)
{
    private readonly ReadOnlySpan<byte> _data = data;
    private int _pos;

    private static readonly UTF8Encoding StrictUtf8 = new(false, true);

    public readonly bool AtEnd => _pos >= _data.Length;

    public readonly int Position => _pos;

    public bool Next(out int number, out int wire)
    {
        number = wire = 0;
        if (AtEnd) return false;
        var tag = Varint();
        number = (int)(tag >> 3);
        wire = (int)(tag & 7);
        if (number <= 0) throw new ProtobufDecodeException("proto: illegal tag 0");
        return true;
    }

    public ulong Varint()
    {
        ulong result = 0;
        for (var shift = 0; shift < 64; shift += 7)
        {
            if (_pos >= _data.Length) throw new ProtobufDecodeException("unexpected EOF");
            var b = _data[_pos++];
            result |= (ulong)(b & 0x7f) << shift;
            if ((b & 0x80) == 0) return result;
        }
        throw new ProtobufDecodeException("proto: integer overflow");
    }

    public ulong Fixed64()
    {
        if (_pos + 8 > _data.Length) throw new ProtobufDecodeException("unexpected EOF");
        var v = BinaryPrimitives.ReadUInt64LittleEndian(_data[_pos..]);
        _pos += 8;
        return v;
    }

    public uint Fixed32()
    {
        if (_pos + 4 > _data.Length) throw new ProtobufDecodeException("unexpected EOF");
        var v = BinaryPrimitives.ReadUInt32LittleEndian(_data[_pos..]);
        _pos += 4;
        return v;
    }

    public ReadOnlySpan<byte> Bytes()
    {
        var length = Varint();
        if (length > (ulong)(_data.Length - _pos)) throw new ProtobufDecodeException("unexpected EOF");
        var slice = _data.Slice(_pos, (int)length);
        _pos += (int)length;
        return slice;
    }

    public string String() => Utf8(Bytes());

    /// <summary>A string field's bytes as text; invalid UTF-8 is an error, as in Go's protobuf.</summary>
    public static string Utf8(ReadOnlySpan<byte> bytes)
    {
        try
        {
            return StrictUtf8.GetString(bytes);
        }
        catch (DecoderFallbackException)
        {
            throw new ProtobufDecodeException("proto: string field contains invalid UTF-8");
        }
    }

    public void Skip(int wire)
    {
        switch (wire)
        {
            case 0: Varint(); break;
            case 1: Fixed64(); break;
            case 2: Bytes(); break;
            case 5: Fixed32(); break;
            default: throw new ProtobufDecodeException($"proto: illegal wireType {wire}");
        }
    }

    /// <summary>A zig-zag encoded sint32/sint64 value.</summary>
    public static long ZigZag(ulong v) => (long)(v >> 1) ^ -(long)(v & 1);

    /// <summary>A google.protobuf.Timestamp-shaped message (seconds = 1, nanos = 2).</summary>
    public static (long Seconds, int Nanos) Timestamp(ReadOnlySpan<byte> bytes)
    {
        long seconds = 0;
        var nanos = 0;
        var reader = new ProtobufReader(bytes);
        while (reader.Next(out var number, out var wire))
        {
            if (number == 1 && wire == 0) seconds = (long)reader.Varint();
            else if (number == 2 && wire == 0) nanos = (int)reader.Varint();
            else reader.Skip(wire);
        }
        return (seconds, nanos);
    }

    /// <summary>The last varint field numbered <paramref name="wanted"/> of a message (0 when absent).</summary>
    public static long SingleVarint(ReadOnlySpan<byte> bytes, int wanted)
    {
        long value = 0;
        var reader = new ProtobufReader(bytes);
        while (reader.Next(out var number, out var wire))
        {
            if (number == wanted && wire == 0) value = (long)reader.Varint();
            else reader.Skip(wire);
        }
        return value;
    }

    /// <summary>The last length-delimited field numbered <paramref name="wanted"/> of a message (empty when absent).</summary>
    public static ReadOnlySpan<byte> SingleBytes(ReadOnlySpan<byte> bytes, int wanted)
    {
        ReadOnlySpan<byte> value = default;
        var reader = new ProtobufReader(bytes);
        while (reader.Next(out var number, out var wire))
        {
            if (number == wanted && wire == 2) value = reader.Bytes();
            else reader.Skip(wire);
        }
        return value;
    }

    /// <summary>An IntOrString message: true with its UTF-8 string when type is 1, else false with its int.</summary>
    public static bool IntOrString(ReadOnlySpan<byte> bytes, out int intVal, out ReadOnlySpan<byte> strVal)
    {
        long type = 0;
        intVal = 0;
        strVal = default;
        var reader = new ProtobufReader(bytes);
        while (reader.Next(out var number, out var wire))
        {
            if (number == 1 && wire == 0) type = (long)reader.Varint();
            else if (number == 2 && wire == 0) intVal = (int)reader.Varint();
            else if (number == 3 && wire == 2) strVal = reader.Bytes();
            else reader.Skip(wire);
        }
        return type == 1;
    }
}

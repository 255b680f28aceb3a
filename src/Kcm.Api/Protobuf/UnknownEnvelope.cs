namespace Kcm.Api.Protobuf;

/// <summary>
/// The runtime.Unknown envelope behind the "k8s\0" prefix: typeMeta (apiVersion, kind), the raw object bytes and the
/// content encoding. Read once here for the transcoder and the direct reader.
/// </summary>
internal readonly ref struct UnknownEnvelope
{
    public string ApiVersion { get; init; }

    public string Kind { get; init; }

    public ReadOnlySpan<byte> Raw { get; init; }

    public string ContentEncoding { get; init; }

    /// <summary>Reads the envelope from <paramref name="body"/> without the magic prefix.</summary>
    public static UnknownEnvelope Read(ReadOnlySpan<byte> body)
    {
        string apiVersion = "", kind = "", contentEncoding = "";
        ReadOnlySpan<byte> raw = default;
        var reader = new ProtobufReader(body);
        while (reader.Next(out var number, out var wire))
        {
            switch (number)
            {
                case 1 when wire == 2:
                    var typeMeta = new ProtobufReader(reader.Bytes());
                    while (typeMeta.Next(out var n, out var w))
                    {
                        if (n == 1 && w == 2) apiVersion = typeMeta.String();
                        else if (n == 2 && w == 2) kind = typeMeta.String();
                        else typeMeta.Skip(w);
                    }
                    break;
                case 2 when wire == 2: raw = reader.Bytes(); break;
                case 3 when wire == 2: contentEncoding = reader.String(); break;
                default: reader.Skip(wire); break;
            }
        }
        return new UnknownEnvelope { ApiVersion = apiVersion, Kind = kind, Raw = raw, ContentEncoding = contentEncoding };
    }
}

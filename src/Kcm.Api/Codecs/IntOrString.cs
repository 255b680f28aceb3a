using System.Text.Json;
using System.Text.Json.Serialization;

namespace Kcm.Api;

// STUB: to be replaced by the full implementation.
[JsonConverter(typeof(IntOrStringJsonConverter))]
public readonly record struct IntOrString(int? IntValue, string? StringValue);

public sealed class IntOrStringJsonConverter : JsonConverter<IntOrString>
{
    public override IntOrString Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
        => reader.TokenType == JsonTokenType.Number ? new(reader.GetInt32(), null) : new(null, reader.GetString());

    public override void Write(Utf8JsonWriter writer, IntOrString value, JsonSerializerOptions options)
    {
        if (value.IntValue is int i) writer.WriteNumberValue(i); else writer.WriteStringValue(value.StringValue);
    }
}

using System.Text.Json;
using System.Text.Json.Serialization;

namespace Kcm.Api;

// STUB: to be replaced by the full upstream-compatible implementation.
[JsonConverter(typeof(QuantityJsonConverter))]
public sealed class Quantity
{
    public Quantity(string value) => Value = value;
    public string Value { get; }
    public override string ToString() => Value;
}

public sealed class QuantityJsonConverter : JsonConverter<Quantity>
{
    public override Quantity Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
        => new(reader.TokenType == JsonTokenType.Number ? reader.GetDouble().ToString(System.Globalization.CultureInfo.InvariantCulture) : reader.GetString()!);

    public override void Write(Utf8JsonWriter writer, Quantity value, JsonSerializerOptions options)
        => writer.WriteStringValue(value.ToString());
}

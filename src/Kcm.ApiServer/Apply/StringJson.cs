using System.Text.Json.Serialization;

namespace Kcm.ApiServer.Apply;

/// <summary>
/// JSON-quotes a string (field-set keys, error messages) with the serializer's default escaping, from generated
/// code: the reflection-based overload is unavailable in the NativeAOT binary.
/// </summary>
[JsonSerializable(typeof(string))]
internal sealed partial class StringJson : JsonSerializerContext
{
    public static string Quote(string value) => System.Text.Json.JsonSerializer.Serialize(value, Default.String);
}

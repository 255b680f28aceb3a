using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Kcm.Api.Meta.V1;

namespace Kcm.Api;

/// <summary>
/// Type infos for reading objects without metadata.managedFields: the property is there but not settable, so the
/// reader skips its value instead of building each entry's fieldsV1 tree (what an informer would drop anyway).
/// </summary>
public static class KubeJsonTrimmed
{
    private static readonly JsonSerializerOptions Options = new(KubeJsonContext.Default.Options)
    {
        TypeInfoResolver = KubeJsonContext.Default.WithAddedModifier(static info =>
        {
            if (info.Type != typeof(ObjectMeta)) return;
            foreach (var property in info.Properties)
            {
                if (property.Name == "managedFields") property.Set = null;
            }
        }),
    };

    public static JsonTypeInfo<T> TypeInfo<T>() => (JsonTypeInfo<T>)Options.GetTypeInfo(typeof(T));

    public static JsonTypeInfo TypeInfo(Type type) => Options.GetTypeInfo(type);
}

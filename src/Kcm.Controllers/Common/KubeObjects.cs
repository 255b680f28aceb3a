using Kcm.Api;

namespace Kcm.Controllers.Common;

/// <summary>Deep copies of API objects (never mutate what an informer cache hands out).</summary>
public static class KubeObjects
{
    /// <summary>A copy through the object's JSON form, so unknown fields come along.</summary>
    public static T Clone<T>(T obj)
        where T : class
        => KubeJson.Deserialize<T>(KubeJson.Serialize(obj)) ?? throw new InvalidOperationException($"could not copy a {typeof(T).Name}");
}

using Kcm.Api.Selectors;

namespace Kcm.ApiServer.Storage;

/// <summary>Namespace, name, label and field conditions of a list or watch (upstream's SelectionPredicate).</summary>
public sealed class ObjectFilter(string @namespace, string name, LabelSelector labelSelector, FieldSelector fieldSelector)
{
    public bool IsEverything => labelSelector.IsEverything && fieldSelector.IsEverything && name.Length == 0;

    public bool Matches(StoredObject o)
    {
        if (@namespace.Length > 0 && o.Namespace != @namespace) return false;
        if (name.Length > 0 && o.Name != name) return false;
        if (!labelSelector.IsEverything && !labelSelector.Matches(o.Labels ?? EmptyLabels)) return false;
        if (!fieldSelector.IsEverything && !fieldSelector.Matches(f => f switch
            {
                "metadata.name" => o.Name,
                "metadata.namespace" => o.Namespace,
                _ => o.Fields.TryGetValue(f, out var v) ? v : null,
            }))
        {
            return false;
        }
        return true;
    }

    private static readonly Dictionary<string, string> EmptyLabels = new();
}

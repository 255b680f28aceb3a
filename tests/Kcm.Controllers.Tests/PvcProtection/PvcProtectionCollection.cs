namespace Kcm.Controllers.Tests.PvcProtection;

/// <summary>
/// The classes that run a pvc-protection controller run one after another: on the shared real cluster two at once
/// both judge every deleted claim. Suspected cause of one CI failure (a used claim released within 2 s; the class
/// passed 3 of 3 alone on the real apiserver), not proven. The storage (attachdetach/expander) class runs here too,
/// away from the persistentvolume-binder class, whose binder would otherwise judge its hand-bound claims.
/// </summary>
[CollectionDefinition(Name)]
public sealed class PvcProtectionCollection
{
    public const string Name = "pvc-protection controllers";
}

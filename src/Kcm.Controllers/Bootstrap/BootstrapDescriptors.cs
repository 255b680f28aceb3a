namespace Kcm.Controllers.Bootstrap;

/// <summary>Both are off unless named in --controllers (`*` leaves them off).</summary>
public static class BootstrapDescriptors
{
    public static ControllerDescriptor<NoSettings> BootstrapSigner { get; } = new(
        Bootstrap.BootstrapSigner.ControllerName,
        Bootstrap.BootstrapSigner.ClientName,
        (context, _) => new BootstrapSigner(context).RunAsync)
    {
        EnabledByDefault = false,
    };

    public static ControllerDescriptor<NoSettings> TokenCleaner { get; } = new(
        Bootstrap.TokenCleaner.ControllerName,
        Bootstrap.TokenCleaner.ClientName,
        (context, _) => new TokenCleaner(context).RunAsync)
    {
        EnabledByDefault = false,
    };
}

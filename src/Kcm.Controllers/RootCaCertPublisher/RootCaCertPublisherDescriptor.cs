namespace Kcm.Controllers.RootCaCertPublisher;

public static class RootCaCertPublisherDescriptor
{
    /// <summary>Settings: --root-ca-file (empty: the kubeconfig's CA).</summary>
    public static ControllerDescriptor<string> Value { get; } = new(
        RootCaCertPublisher.ControllerName,
        RootCaCertPublisher.ControllerName,
        (context, rootCaFile) => new RootCaCertPublisher(context,
            RootCaBundle.Resolve(rootCaFile, context.Clients.For(RootCaCertPublisher.ControllerName).Config)).RunAsync);
}

namespace Kcm.Controllers.NodeIpam;

public static class NodeIpamDescriptor
{
    public static ControllerDescriptor<NodeIpamSettings> Value { get; } = new(
        NodeIpamController.ControllerName,
        NodeIpamController.ServiceAccountName,
        (context, settings) =>
        {
            // Upstream returns "not started" without a word of its own; the manager logs the skip.
            if (!settings.AllocateNodeCidrs)
            {
                return null;
            }
            var parameters = NodeIpamParameters.From(settings);
            if (settings.CidrAllocatorType != "RangeAllocator")
            {
                // CloudAllocator and the legacy IPAM modes need a cloud provider, which this build never has.
                throw new NodeIpamConfigException($"cidr allocator type {settings.CidrAllocatorType} needs a cloud provider; none is configured");
            }
            var controller = new NodeIpamController(context, parameters);
            return controller.RunAsync;
        });
}

using Kcm.Client;
using Kcm.Controllers.Common;
using Kcm.Controllers.GarbageCollector;

namespace Kcm.Controllers.Tests.GarbageCollector;

public class ResourceMapperTests
{
    private static readonly ResourceMapper Mapper = new(
    [
        Resource("", "v1", "configmaps", "ConfigMap", namespaced: true),
        Resource("", "v1", "nodes", "Node", namespaced: false),
        Resource("apps", "v1", "deployments", "Deployment", namespaced: true),
        Resource("autoscaling", "v2", "horizontalpodautoscalers", "HorizontalPodAutoscaler", namespaced: true),
        Resource("autoscaling", "v1", "horizontalpodautoscalers", "HorizontalPodAutoscaler", namespaced: true, preferred: false),
    ]);

    private static DiscoveredResource Resource(string group, string version, string resource, string kind, bool namespaced, bool preferred = true)
        => new(new GroupVersionResource(group, version, resource), kind, namespaced, new HashSet<string> { "get", "list", "watch", "delete" }, preferred);

    [Theory]
    [InlineData("v1", "ConfigMap", "/v1/configmaps", true)]
    [InlineData("v1", "configmap", "/v1/configmaps", true)] // all lower case: discovery maps it too
    [InlineData("/v1", "ConfigMap", "/v1/configmaps", true)] // an explicit empty group is the core group
    [InlineData("apps/v1", "deployment", "apps/v1/deployments", true)]
    [InlineData("apps/v1", "DeploymentList", "apps/v1/deploymentlists", true)] // a guess that does not exist on the server
    [InlineData("v1", "List", "/v1/lists", false)]
    [InlineData("v1", "Node", "/v1/nodes", false)]
    [InlineData("autoscaling/v1", "HorizontalPodAutoscaler", "autoscaling/v1/horizontalpodautoscalers", true)]
    public void Find_MappableReference_GivesResourceAndScope(string apiVersion, string kind, string expected, bool namespaced)
    {
        var found = Mapper.Find(apiVersion, kind);

        Assert.Equal(expected, $"{found.Resource.Group}/{found.Resource.Version}/{found.Resource.Resource}");
        Assert.Equal(namespaced, found.Namespaced);
    }

    [Theory]
    [InlineData("apps/v2", "Deployment")] // a version the server does not serve: no fallback to apps/v1
    [InlineData("apps/v1beta1", "Deployment")]
    [InlineData("v1beta7", "ConfigMap")]
    [InlineData("apps/v1", "DEPLOYMENT")] // only the exact spelling or all lower case
    [InlineData("v1", "configMap")]
    [InlineData("v1", "configmapList")]
    [InlineData("example.com/v1", "Widget")]
    public void Find_UnmappableReference_Throws(string apiVersion, string kind)
    {
        Assert.Throws<RestMappingException>(() => Mapper.Find(apiVersion, kind));
    }

    [Theory]
    [InlineData("/v1", "v1")]
    [InlineData("v1", "v1")]
    [InlineData("apps/v1", "apps/v1")]
    public void CanonicalApiVersion_ParsedAndPrinted_AsGoGroupVersion(string apiVersion, string expected)
    {
        Assert.Equal(expected, ResourceMapper.CanonicalApiVersion(apiVersion));
    }
}

namespace Kcm.ApiServer.Tests.Differential;

public sealed class DiffNormalizerTests
{
    [Fact]
    public void NormalizeText_KubectlDiscoveryCacheErrors_AreDropped()
    {
        // What kubectl printed on the shared real cluster while another test's custom resource group was going away.
        const string Real = """
            E1207 10:59:14.967376 18893 memcache.go:287] "Unhandled Error" err="couldn't get resource list for g4ed5a6591b.example.com/v1beta1: the server could not find the requested resource"
            E1207 10:59:14.971758 18893 memcache.go:287] "Unhandled Error" err="couldn't get resource list for g4ed5a6591b.example.com/v1: the server could not find the requested resource"
            Error from server (Forbidden): namespaces "default" is forbidden: this namespace may not be deleted
            """;
        const string Embedded = """Error from server (Forbidden): namespaces "default" is forbidden: this namespace may not be deleted""";

        Assert.Equal(DiffNormalizer.NormalizeText(Embedded), DiffNormalizer.NormalizeText(Real));
    }
}

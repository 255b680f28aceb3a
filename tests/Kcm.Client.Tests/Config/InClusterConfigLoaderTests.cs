using Kcm.Client.Config;
using Kcm.Client.Tests.Support;

namespace Kcm.Client.Tests.Config;

public sealed class InClusterConfigLoaderTests : IDisposable
{
    private readonly TempDirectory _dir = new();
    private readonly TestPki _pki = new();

    private static Func<string, string?> Env(string? host, string? port)
        => name => name switch
        {
            "KUBERNETES_SERVICE_HOST" => host,
            "KUBERNETES_SERVICE_PORT" => port,
            _ => null,
        };

    [Fact]
    public void Load_ServiceAccountMounted_BuildsHttpsConfigWithTokenFileCaAndNamespace()
    {
        _dir.Write("token", "sa-token\n");
        _dir.Write("ca.crt", _pki.CaPem);
        _dir.Write("namespace", "kube-system");

        var config = new InClusterConfigLoader(_dir.Path, Env("10.96.0.1", "443")).Load();

        Assert.Equal(new Uri("https://10.96.0.1:443"), config.Server);
        Assert.Equal("sa-token", config.BearerToken);
        Assert.Equal(Path.Combine(_dir.Path, "token"), config.BearerTokenFile);
        Assert.Equal(_pki.Ca.Thumbprint, config.CertificateAuthorities.Single().Thumbprint);
        Assert.Equal("kube-system", config.Namespace);
    }

    [Fact]
    public void Load_Ipv6Host_IsBracketed()
    {
        _dir.Write("token", "t");

        var config = new InClusterConfigLoader(_dir.Path, Env("fd00::1", "443")).Load();

        Assert.Equal("[fd00::1]", config.Server.Host);
        Assert.Empty(config.CertificateAuthorities);
    }

    [Fact]
    public void Load_NoEnvironment_ThrowsNotInCluster()
    {
        var loader = new InClusterConfigLoader(_dir.Path, Env(null, "443"));

        Assert.False(loader.IsInCluster);
        Assert.Throws<KubeconfigException>(loader.Load);
    }

    [Fact]
    public void Load_MissingToken_ThrowsNamingTokenFile()
    {
        var ex = Assert.Throws<KubeconfigException>(() => new InClusterConfigLoader(_dir.Path, Env("h", "443")).Load());

        Assert.Contains(Path.Combine(_dir.Path, "token"), ex.Message);
        Assert.DoesNotContain('\n', ex.Message);
    }

    [Fact]
    public void Load_CorruptCa_ThrowsNamingCaFile()
    {
        _dir.Write("token", "t");
        _dir.Write("ca.crt", "-----BEGIN CERTIFICATE-----\nnope\n-----END CERTIFICATE-----\n");

        var ex = Assert.Throws<KubeconfigException>(() => new InClusterConfigLoader(_dir.Path, Env("h", "443")).Load());

        Assert.Contains(Path.Combine(_dir.Path, "ca.crt"), ex.Message);
        Assert.DoesNotContain('\n', ex.Message);
    }

    public void Dispose()
    {
        _pki.Dispose();
        _dir.Dispose();
    }
}

using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text.Json.Nodes;
using Kcm.ApiServer.Authentication;
using Kcm.ApiServer.Authentication.ServiceAccounts;

namespace Kcm.ApiServer.Tests.Auth;

public sealed class TokenPrimitivesTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "kcm-auth-" + Guid.NewGuid().ToString("N")[..10]);

    public TokenPrimitivesTests() => Directory.CreateDirectory(_dir);

    [Fact]
    public void Es256Token_VerifiesWithItsPublicKeyOnly()
    {
        using var ec = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var privatePath = Write("ec-key.pem", ec.ExportECPrivateKeyPem());
        var publicPath = Write("ec-pub.pem", ec.ExportSubjectPublicKeyInfoPem());
        using var rsa = RSA.Create(2048);
        var rsaPublicPath = Write("rsa-pub.pem", rsa.ExportRSAPublicKeyPem());

        var token = ServiceAccountTokenSigner.Load(privatePath).Sign(new JsonObject { ["iss"] = "x" });
        var jwt = JsonWebToken.TryParse(token)!;
        Assert.Equal("ES256", jwt.Algorithm);
        Assert.Contains(ServiceAccountKeys.LoadPublicKeys([publicPath]), k => jwt.VerifyWith(k));
        Assert.Contains(ServiceAccountKeys.LoadPublicKeys([privatePath]), k => jwt.VerifyWith(k));
        Assert.DoesNotContain(ServiceAccountKeys.LoadPublicKeys([rsaPublicPath]), k => jwt.VerifyWith(k));
    }

    [Fact]
    public void Rs256Token_TamperedPayload_Rejected()
    {
        using var rsa = RSA.Create(2048);
        var keyPath = Write("rsa-key.pem", rsa.ExportRSAPrivateKeyPem());
        var token = ServiceAccountTokenSigner.Load(keyPath).Sign(new JsonObject { ["sub"] = "a" });
        var keys = ServiceAccountKeys.LoadPublicKeys([keyPath]);
        Assert.Contains(keys, k => JsonWebToken.TryParse(token)!.VerifyWith(k));
        var parts = token.Split('.');
        var forged = parts[0] + "." + Base64Url.EncodeToString("{\"sub\":\"b\"}"u8) + "." + parts[2];
        Assert.DoesNotContain(keys, k => JsonWebToken.TryParse(forged)!.VerifyWith(k));
        Assert.Null(JsonWebToken.TryParse("not-a-jwt"));
    }

    [Fact]
    public void TokenFile_QuotedGroupsAndShortRows_ParsedAsUpstream()
    {
        var path = Write("tokens.csv", "t1,alice,1,\"a, b\"\n\nt2, bob ,2\n");
        var users = StaticTokenAuthenticator.ParseFile(path);
        Assert.Equal(["a", "b"], users["t1"].Groups);
        Assert.Equal("bob ", users["t2"].Name);
        Assert.Empty(users["t2"].Groups);
        var bad = Write("bad.csv", "t1,alice\n");
        var e = Assert.Throws<TokenFileException>(() => StaticTokenAuthenticator.ParseFile(bad));
        Assert.Contains("must have at least 3 columns (token, user name, user uid), found 2", e.Message);
    }

    private string Write(string name, string content)
    {
        var path = Path.Combine(_dir, name);
        File.WriteAllText(path, content);
        return path;
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);
}

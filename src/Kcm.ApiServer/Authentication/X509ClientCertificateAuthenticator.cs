using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.Http;

namespace Kcm.ApiServer.Authentication;

/// <summary>
/// Client-certificate authentication: the TLS layer already verified the chain against the cluster CA;
/// the user is the subject CN and the groups are the O values (plus system:authenticated).
/// </summary>
public sealed class X509ClientCertificateAuthenticator : IAuthenticator
{
    private static readonly IReadOnlyDictionary<string, IReadOnlyList<string>> NoExtra = new Dictionary<string, IReadOnlyList<string>>();

    public ValueTask<UserInfo?> AuthenticateAsync(HttpContext context, CancellationToken cancellationToken)
    {
        var cert = context.Connection.ClientCertificate;
        return ValueTask.FromResult(cert is null ? null : FromCertificate(cert));
    }

    public static UserInfo? FromCertificate(X509Certificate2 cert)
    {
        string? commonName = null;
        var groups = new List<string>();
        foreach (var rdn in cert.SubjectName.EnumerateRelativeDistinguishedNames())
        {
            var oid = rdn.GetSingleElementType().Value;
            var value = rdn.GetSingleElementValue();
            if (value is null) continue;
            if (oid == "2.5.4.3") commonName = value;
            else if (oid == "2.5.4.10") groups.Add(value);
        }
        if (string.IsNullOrEmpty(commonName)) return null;
        groups.Add(UserInfo.AuthenticatedGroup);
        return new UserInfo(commonName, "", groups, NoExtra);
    }
}

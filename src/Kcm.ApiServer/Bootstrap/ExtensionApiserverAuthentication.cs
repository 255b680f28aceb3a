using System.Text.Json.Nodes;
using System.Security.Cryptography.X509Certificates;
using Kcm.Api.Catalog;
using Kcm.ApiServer.Authentication;
using Kcm.ApiServer.Endpoints;
using Kcm.ApiServer.Registry;

namespace Kcm.ApiServer.Bootstrap;

/// <summary>
/// What upstream's apiserver publishes for delegated authentication: kube-system/extension-apiserver-authentication
/// with the client CA it trusts (client-ca-file), which controller managers and other delegating servers read.
/// This server has no front-proxy CA, so no requestheader-* keys, as upstream without --requestheader-client-ca-file.
/// </summary>
public static class ExtensionApiserverAuthentication
{
    public const string Namespace = "kube-system";
    public const string Name = "extension-apiserver-authentication";

    public static void Create(GenericStore resources, X509Certificate2 clientCa, UserInfo system)
    {
        var entry = ApiCatalog.Find("", "v1", "configmaps")!;
        resources.Create(new ResourceRequest("", "v1", Namespace, "configmaps", "", "", false, entry, null), new JsonObject
        {
            ["kind"] = "ConfigMap",
            ["apiVersion"] = "v1",
            ["metadata"] = new JsonObject { ["name"] = Name, ["namespace"] = Namespace },
            ["data"] = new JsonObject { ["client-ca-file"] = clientCa.ExportCertificatePem() + "\n" },
        }, system);
    }
}

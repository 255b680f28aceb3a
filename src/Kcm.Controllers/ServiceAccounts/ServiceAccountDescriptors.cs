using Kcm.Controllers.RootCaCertPublisher;
using Microsoft.Extensions.Logging;

namespace Kcm.Controllers.ServiceAccounts;

/// <param name="ServiceAccountKeyFile">--service-account-private-key-file; empty leaves the tokens controller off.</param>
/// <param name="RootCaFile">--root-ca-file; empty puts the kubeconfig's CA into token Secrets.</param>
/// <param name="Workers">--concurrent-serviceaccount-token-syncs.</param>
/// <param name="LegacyTokenNoAutoGeneration">The LegacyServiceAccountTokenNoAutoGeneration feature gate.</param>
public sealed record TokensControllerSettings(string ServiceAccountKeyFile, string RootCaFile, int Workers, bool LegacyTokenNoAutoGeneration);

public static class ServiceAccountDescriptors
{
    public static ControllerDescriptor<NoSettings> ServiceAccount { get; } = new(
        ServiceAccountsController.ControllerName,
        ServiceAccountsController.ClientName,
        (context, _) => new ServiceAccountsController(context).RunAsync);

    /// <summary>Upstream retries a token key at most MaxRetries (10) times.</summary>
    public static ControllerDescriptor<TokensControllerSettings> Tokens { get; } = new(
        TokensController.ControllerName,
        TokensController.ClientName,
        StartTokensController)
    {
        RetryPolicy = Runtime.Controllers.RetryPolicy.DropAfter(TokensControllerOptions.DefaultMaxRetries, "key"),
    };

    /// <summary>
    /// Upstream's serviceAccountTokenControllerStarter: off without a private key; signs with that key under the
    /// legacy issuer and puts --root-ca-file (else the kubeconfig's CA) into each token Secret.
    /// </summary>
    private static RunController? StartTokensController(ControllerContext context, TokensControllerSettings settings)
    {
        if (settings.ServiceAccountKeyFile.Length == 0)
        {
            context.Loggers.CreateLogger("controllermanager")
                .LogWarning("\"{Controller}\" is disabled because there is no private key", TokensController.ControllerName);
            return null;
        }
        if (!settings.LegacyTokenNoAutoGeneration)
        {
            // Upstream would go back to creating a token Secret per service account; this build never does.
            context.Loggers.CreateLogger("controllermanager").LogWarning(
                "LegacyServiceAccountTokenNoAutoGeneration=false is not supported: {Controller} does not create token Secrets for service accounts",
                TokensController.ControllerName);
        }
        var generator = LegacyTokenGenerator.FromPemFile(settings.ServiceAccountKeyFile);
        var rootCa = RootCaBundle.Resolve(settings.RootCaFile, context.Clients.RootFor(TokensController.ClientName).Config);
        var controller = new TokensController(context, new TokensControllerOptions
        {
            TokenGenerator = generator,
            RootCa = rootCa,
            Workers = settings.Workers,
        });
        return async ct =>
        {
            using (generator) await controller.RunAsync(ct);
        };
    }
}

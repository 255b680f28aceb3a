using Kcm.Controllers.Bootstrap;
using Kcm.Controllers.Common;
using Kcm.Controllers.Deployments;
using Kcm.Controllers.GarbageCollector;
using Kcm.Controllers.Namespaces;
using Kcm.Controllers.PodGc;
using Kcm.Controllers.ReplicaSets;
using Kcm.Controllers.RootCaCertPublisher;
using Kcm.Controllers.ServiceAccounts;
using Kcm.Controllers;
using Kcm.Options;
using Microsoft.Extensions.Logging;

namespace Kcm.Manager;

/// <summary>
/// Builds a controller from the shared context and the flags; returns null when the controller decides not to
/// run (e.g. csrsigning without a signing key), after logging why, as upstream's init functions do.
/// </summary>
public delegate RunController? ControllerInitializer(ControllerContext context, KubeControllerManagerOptions options);

/// <summary>
/// The controllers this build implements, by their `--controllers` name (Options/KnownControllers). A known
/// name missing here is reported at start as not implemented.
/// </summary>
public static class ControllerRegistry
{
    public static IReadOnlyDictionary<string, ControllerInitializer> Initializers { get; } = new Dictionary<string, ControllerInitializer>
    {
        [TokensController.ControllerName] = StartServiceAccountTokenController,
        [ServiceAccountsController.ControllerName] = (context, _) => new ServiceAccountsController(context).RunAsync,
        [BootstrapSigner.ControllerName] = (context, _) => new BootstrapSigner(context).RunAsync,
        [TokenCleaner.ControllerName] = (context, _) => new TokenCleaner(context).RunAsync,
        [RootCaCertPublisher.ControllerName] = (context, options) => new RootCaCertPublisher(context,
            RootCaBundle.Resolve(options.ServiceAccountController.RootCaFile, context.Clients.For(RootCaCertPublisher.ControllerName).Config)).RunAsync,
        ["csrsigning"] = CertificatesInitializers.Signing,
        ["csrapproving"] = CertificatesInitializers.Approving,
        ["csrcleaner"] = CertificatesInitializers.Cleaning,
        ["garbagecollector"] = (context, options) =>
        {
            var gc = options.GarbageCollectorController;
            if (!gc.EnableGarbageCollector)
            {
                context.Loggers.CreateLogger("Kcm.Manager.ControllerRegistry").LogInformation("Garbage collector is disabled (--enable-garbage-collector=false)");
                return null;
            }
            var controller = new GarbageCollector(context);
            return ct => controller.RunAsync(gc.ConcurrentGcSyncs, ct);
        },
        ["namespace"] = (context, options) =>
        {
            var ns = options.NamespaceController;
            var controller = new NamespaceController(context, new Kcm.Controllers.Namespaces.NamespaceControllerOptions { ResyncPeriod = ns.NamespaceSyncPeriod });
            return ct => controller.RunAsync(ns.ConcurrentNamespaceSyncs, ct);
        },
        ["podgc"] = (context, options) =>
        {
            var controller = new PodGcController(context, new Kcm.Controllers.PodGc.PodGcControllerOptions { TerminatedPodThreshold = options.PodGcController.TerminatedPodGcThreshold });
            return controller.RunAsync;
        },
        ["replicationcontroller"] = (context, options) =>
        {
            var controller = ReplicaSetControllers.NewReplicationManager(context, ReplicaControllerOptions(options));
            return ct => controller.RunAsync(options.ReplicationController.ConcurrentRcSyncs, ct);
        },
        ["replicaset"] = (context, options) =>
        {
            var controller = ReplicaSetControllers.NewReplicaSetController(context, ReplicaControllerOptions(options));
            return ct => controller.RunAsync(options.ReplicaSetController.ConcurrentReplicaSetSyncs, ct);
        },
        [DeploymentController.ControllerName] = (context, options) =>
            new DeploymentController(context, new Kcm.Controllers.Deployments.DeploymentControllerOptions { Workers = options.DeploymentController.ConcurrentDeploymentSyncs }).RunAsync,
    };

    private static Kcm.Controllers.ReplicaSets.ReplicaSetControllerOptions ReplicaControllerOptions(KubeControllerManagerOptions options) => new()
    {
        Ranking = new PodRankingFeatures(
            PodDeletionCost: options.FeatureGates.Enabled("PodDeletionCost"),
            LogarithmicScaleDown: options.FeatureGates.Enabled("LogarithmicScaleDown")),
    };

    /// <summary>
    /// Contents of files enabled controllers will read, checked before anything starts so a bad file is one clear
    /// line rather than a controller failing after leader election: the service account key and the root CA.
    /// </summary>
    public static IReadOnlyList<string> ValidateInputs(KubeControllerManagerOptions options)
    {
        var errors = new List<string>();
        var sa = options.ServiceAccountController;
        if (options.IsControllerEnabled(TokensController.ControllerName) && sa.ServiceAccountKeyFile.Length > 0)
        {
            try
            {
                LegacyTokenGenerator.FromPemFile(sa.ServiceAccountKeyFile).Dispose();
            }
            catch (ServiceAccountKeyFileException e)
            {
                errors.Add(e.Message);
            }
        }
        if (sa.RootCaFile.Length > 0 && (options.IsControllerEnabled(TokensController.ControllerName) || options.IsControllerEnabled(RootCaCertPublisher.ControllerName)))
        {
            try
            {
                RootCaBundle.ReadFile(sa.RootCaFile);
            }
            catch (RootCaFileException e)
            {
                errors.Add(e.Message);
            }
        }
        return errors;
    }

    /// <summary>
    /// Upstream's serviceAccountTokenControllerStarter: off without --service-account-private-key-file; signs with
    /// that key under the legacy issuer and puts --root-ca-file (else the kubeconfig's CA) into each token Secret.
    /// </summary>
    private static RunController? StartServiceAccountTokenController(ControllerContext context, KubeControllerManagerOptions options)
    {
        var sa = options.ServiceAccountController;
        if (sa.ServiceAccountKeyFile.Length == 0)
        {
            context.Loggers.CreateLogger("controllermanager")
                .LogInformation("Controller {Controller} is disabled because there is no private key", TokensController.ControllerName);
            return null;
        }
        if (!options.FeatureGates.Enabled("LegacyServiceAccountTokenNoAutoGeneration"))
        {
            // Upstream would go back to creating a token Secret per service account; this build never does.
            context.Loggers.CreateLogger("controllermanager").LogWarning(
                "LegacyServiceAccountTokenNoAutoGeneration=false is not supported: {Controller} does not create token Secrets for service accounts",
                TokensController.ControllerName);
        }
        var generator = LegacyTokenGenerator.FromPemFile(sa.ServiceAccountKeyFile);
        var rootCa = RootCaBundle.Resolve(sa.RootCaFile, context.Clients.RootFor(TokensController.ClientName).Config);
        var controller = new TokensController(context, new TokensControllerOptions
        {
            TokenGenerator = generator,
            RootCa = rootCa,
            Workers = sa.ConcurrentSaTokenSyncs,
        });
        return async ct =>
        {
            using (generator) await controller.RunAsync(ct);
        };
    }
}

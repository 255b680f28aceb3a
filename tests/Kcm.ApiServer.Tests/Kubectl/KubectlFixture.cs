using Kcm.Testing;

namespace Kcm.ApiServer.Tests.Kubectl;

/// <summary>An embedded server (or KCM_TEST_KUBECONFIG's cluster) and a kubectl with its own discovery cache.</summary>
public sealed class KubectlFixture : EmbeddedServerFixture, IAsyncLifetime
{
    private KubectlScope? _scope;

    public KubectlRunner Kubectl => Scope.Runner;

    /// <summary>The admin kubectl's scope: <see cref="KubectlScope.As"/> gives another user the same cache.</summary>
    public KubectlScope Scope => _scope ?? throw new InvalidOperationException("fixture not initialized");

    public new async Task InitializeAsync()
    {
        await base.InitializeAsync();
        _scope = new KubectlScope(AdminKubeconfigPath);
    }

    public new async Task DisposeAsync()
    {
        await base.DisposeAsync();
        _scope?.Dispose();
    }

    /// <summary>
    /// A fresh namespace for one test, so tests stay independent (also on a real cluster), with the `default`
    /// ServiceAccount a real apiserver's admission requires before it accepts pods.
    /// </summary>
    public async Task<string> NewNamespaceAsync()
    {
        var name = "kubectl-" + Guid.NewGuid().ToString("N")[..8];
        await Kubectl.OkAsync("create", "namespace", name);
        var account = await Kubectl.RunAsync("create", "serviceaccount", "default", "-n", name);
        if (account.ExitCode != 0 && !account.Output.Contains("AlreadyExists", StringComparison.Ordinal)) throw new KubectlFailedException(account.Output);
        return name;
    }
}

using Kcm.ApiServer.Hosting;
using Kcm.Testing;
using Microsoft.Extensions.Logging.Abstractions;

namespace Kcm.ApiServer.Tests.Differential;

/// <summary>
/// Two servers side by side: an embedded server started here (always, whatever KCM_TEST_KUBECONFIG says) and the real
/// kube-apiserver KCM_TEST_KUBECONFIG points at. Without that variable nothing starts (the tests are skipped).
/// </summary>
public sealed class DifferentialFixture : IAsyncLifetime
{
    private EmbeddedApiServer? _server;
    private string? _stateDirectory;

    public DifferentialTarget Embedded { get; private set; } = null!;
    public DifferentialTarget Real { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        var real = Environment.GetEnvironmentVariable(EmbeddedServerFixture.KubeconfigVariable);
        if (string.IsNullOrEmpty(real)) return;
        _stateDirectory = Path.Combine(Path.GetTempPath(), "kcm-diff-" + Guid.NewGuid().ToString("N")[..12]);
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        // The settings of the real test cluster (see /work/shared/upstream-v1.26): the guides' service range and node ports.
        _server = await EmbeddedApiServer.StartAsync(new EmbeddedApiServerOptions
        {
            StateDirectory = _stateDirectory,
            SecurePort = 0,
            ServiceClusterIpRange = "10.254.0.0/16",
            ServiceNodePortRange = "30000-32767",
        }, NullLoggerFactory.Instance, cts.Token);
        Embedded = new DifferentialTarget("embedded", _server.AdminKubeconfigPath);
        Real = new DifferentialTarget("real", real);
    }

    public async Task DisposeAsync()
    {
        Embedded?.Dispose();
        Real?.Dispose();
        if (_server is not null) await _server.DisposeAsync();
        if (_stateDirectory is not null)
        {
            try
            {
                Directory.Delete(_stateDirectory, recursive: true);
            }
            catch (IOException)
            {
                // Best effort.
            }
        }
    }
}

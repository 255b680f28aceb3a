using System.Runtime.InteropServices;

namespace Kcm.Commands;

/// <summary>A token cancelled on SIGINT or SIGTERM (systemd stop), so commands shut down cleanly.</summary>
public sealed class ShutdownSignal : IDisposable
{
    private readonly CancellationTokenSource _cts = new();
    private readonly PosixSignalRegistration _sigint;
    private readonly PosixSignalRegistration _sigterm;

    public ShutdownSignal()
    {
        _sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, Handle);
        _sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Handle);
    }

    public CancellationToken Token => _cts.Token;

    private void Handle(PosixSignalContext context)
    {
        context.Cancel = true;
        _cts.Cancel();
    }

    public void Dispose()
    {
        _sigint.Dispose();
        _sigterm.Dispose();
        _cts.Dispose();
    }
}

namespace Kcm.Commands;

public interface ICommand
{
    /// <summary>Runs to completion (or until SIGINT/SIGTERM) and returns the process exit code.</summary>
    Task<int> RunAsync(IReadOnlyList<string> args, TextWriter stdout, TextWriter stderr);
}

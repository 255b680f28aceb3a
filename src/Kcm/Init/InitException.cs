namespace Kcm.Init;

/// <summary>A bad input to `init` (a file, an address, a template): printed as one "Error: ..." line, exit code 1.</summary>
public sealed class InitException(string message) : Exception(message);

namespace Kcm.Api.Patching;

/// <summary>A patch that cannot be applied (malformed, failed test op, missing path...). The server maps it to 422/400.</summary>
public sealed class PatchException(string message) : Exception(message);

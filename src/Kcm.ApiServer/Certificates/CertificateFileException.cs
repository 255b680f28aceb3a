namespace Kcm.ApiServer.Certificates;

/// <summary>A certificate or key file in the state directory that exists but cannot be used.</summary>
public sealed class CertificateFileException(string path, string problem)
    : Exception($"{path}: {problem}")
{
    public string FilePath { get; } = path;
}

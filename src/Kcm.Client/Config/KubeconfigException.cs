namespace Kcm.Client.Config;

/// <summary>A kubeconfig or in-cluster configuration that cannot be used; the message is one line naming the file.</summary>
public sealed class KubeconfigException : Exception
{
    public KubeconfigException(string source, string problem, Exception? inner = null)
        : base(OneLine($"{source}: {problem}"), inner)
    {
        Source = source;
        Problem = OneLine(problem);
    }

    /// <summary>What was being read, e.g. "kubeconfig /home/u/.kube/config".</summary>
    public new string Source { get; }

    public string Problem { get; }

    internal static string OneLine(string text)
        => string.Join(' ', text.Split(['\r', '\n'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
}

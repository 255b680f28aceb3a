namespace Kcm.Controllers.Common;

/// <summary>
/// k8s.io/apimachinery/pkg/util/rand's SafeEncodeString, which turns every hash controllers put in names and labels
/// (pod-template-hash, controller-revision-hash) into text.
/// </summary>
public static class SafeEncoding
{
    /// <summary>No vowels (no words) and no look-alike characters.</summary>
    public const string Alphabet = "bcdfghjklmnpqrstvwxz2456789";

    /// <summary>Each byte maps to the alphabet by its value modulo the alphabet size.</summary>
    public static string SafeEncodeString(string s)
    {
        var result = new char[s.Length];
        for (var i = 0; i < s.Length; i++)
        {
            result[i] = Alphabet[(byte)s[i] % Alphabet.Length];
        }
        return new string(result);
    }
}

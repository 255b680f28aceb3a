using System.Globalization;
using System.Text;
using Microsoft.Extensions.Logging;

namespace Kcm.Startup;

/// <summary>
/// How a failed start ends, as component-base's cli.Run: one klog error line `"command failed" err="..."`
/// (the message Go-quoted as klog quotes it), with the .NET stack trace only at --v=5 or higher, and exit code 1.
/// </summary>
public static class CommandFailure
{
    public const int ExitCode = 1;
    public const int StackTraceVerbosity = 5;

    public static int Report(ILogger logger, TextWriter stderr, Exception error, int verbosity)
    {
        // The error travels as the log call's exception, which the klog formatter writes as err="..." (JSON: "err").
        logger.LogError(new FailureMessage(OneLine(error)), "command failed");
        if (verbosity >= StackTraceVerbosity)
        {
            stderr.WriteLine(error.ToString());
            stderr.Flush();
        }
        return ExitCode;
    }

    /// <summary>The message of <paramref name="error"/> on one line: typed start-up errors as they are, others with their type.</summary>
    public static string OneLine(Exception error)
    {
        var message = error is StartupException or ControllerStartException or Kcm.Options.FlagException
            or Kcm.Client.Config.KubeconfigException or Kcm.Serving.ServingCertificateException
            ? error.Message
            : $"{error.GetType().Name}: {error.Message}";
        return message.ReplaceLineEndings(" ").Trim();
    }

    /// <summary>Go's strconv.Quote for the printable-ASCII-and-Unicode text klog writes as a string value.</summary>
    public static string GoQuote(string s)
    {
        var sb = new StringBuilder(s.Length + 2).Append('"');
        foreach (var rune in s.EnumerateRunes())
        {
            switch (rune.Value)
            {
                case '"': sb.Append("\\\""); break;
                case '\\': sb.Append("\\\\"); break;
                case '\n': sb.Append("\\n"); break;
                case '\r': sb.Append("\\r"); break;
                case '\t': sb.Append("\\t"); break;
                default:
                    if (rune.Value < 0x20 || rune.Value == 0x7f) sb.Append("\\x").Append(rune.Value.ToString("x2", CultureInfo.InvariantCulture));
                    else if (Rune.GetUnicodeCategory(rune) is UnicodeCategory.Control or UnicodeCategory.Format or UnicodeCategory.OtherNotAssigned or UnicodeCategory.Surrogate)
                        sb.Append(rune.Value > 0xffff ? "\\U" + rune.Value.ToString("x8", CultureInfo.InvariantCulture) : "\\u" + rune.Value.ToString("x4", CultureInfo.InvariantCulture));
                    else sb.Append(rune.ToString());
                    break;
            }
        }
        return sb.Append('"').ToString();
    }

    private sealed class FailureMessage(string message) : Exception(message);
}

using System.Security.Cryptography;
using System.Text;

namespace Kcm.ApiServer.Authentication;

/// <summary>A --token-auth-file that cannot be read or parsed.</summary>
public sealed class TokenFileException(string path, string message) : Exception($"token file '{path}': {message}");

/// <summary>
/// Fixed tokens: upstream's --token-auth-file (CSV rows token,user,uid[,"group1,group2"]) plus the
/// generated admin token. Lookup compares in constant time per candidate.
/// </summary>
public sealed class StaticTokenAuthenticator : ITokenAuthenticator
{
    private readonly Dictionary<string, UserInfo> _users;

    public StaticTokenAuthenticator(IReadOnlyDictionary<string, UserInfo> users)
    {
        _users = new Dictionary<string, UserInfo>(users, StringComparer.Ordinal);
    }

    public ValueTask<TokenAuthResult?> AuthenticateTokenAsync(string token, IReadOnlyList<string> audiences, CancellationToken cancellationToken)
    {
        UserInfo? found = null;
        var presented = Encoding.UTF8.GetBytes(token);
        foreach (var (candidate, user) in _users)
        {
            if (CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(candidate), presented)) found = user;
        }
        return ValueTask.FromResult(found is null ? null : new TokenAuthResult(found, []));
    }

    /// <summary>Parses a token file as upstream's tokenfile.NewCSV: at least 3 columns; a later duplicate token wins.</summary>
    public static Dictionary<string, UserInfo> ParseFile(string path)
    {
        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (IOException e)
        {
            throw new TokenFileException(path, e.Message);
        }
        catch (UnauthorizedAccessException e)
        {
            throw new TokenFileException(path, e.Message);
        }
        var users = new Dictionary<string, UserInfo>(StringComparer.Ordinal);
        var lineNumber = 0;
        foreach (var rawLine in text.Split('\n'))
        {
            lineNumber++;
            var line = rawLine.TrimEnd('\r');
            if (line.Trim().Length == 0) continue;
            var record = ParseCsvLine(line, path, lineNumber);
            if (record.Count < 3)
            {
                throw new TokenFileException(path, $"must have at least 3 columns (token, user name, user uid), found {record.Count}");
            }
            var token = record[0];
            if (token.Length == 0) throw new TokenFileException(path, $"line {lineNumber}: empty token");
            var groups = record.Count >= 4
                ? record[3].Split(',').Select(g => g.Trim()).Where(g => g.Length > 0).ToList()
                : [];
            users[token] = new UserInfo(record[1], record[2], groups, UserInfo.NoExtra);
        }
        return users;
    }

    /// <summary>One CSV record as Go's encoding/csv reads it with TrimLeadingSpace (quoted fields may hold commas).</summary>
    private static List<string> ParseCsvLine(string line, string path, int lineNumber)
    {
        var fields = new List<string>();
        var i = 0;
        while (true)
        {
            while (i < line.Length && line[i] is ' ' or '\t') i++;
            var field = new StringBuilder();
            if (i < line.Length && line[i] == '"')
            {
                i++;
                while (true)
                {
                    if (i >= line.Length) throw new TokenFileException(path, $"line {lineNumber}: unterminated quoted field");
                    if (line[i] == '"')
                    {
                        if (i + 1 < line.Length && line[i + 1] == '"')
                        {
                            field.Append('"');
                            i += 2;
                            continue;
                        }
                        i++;
                        break;
                    }
                    field.Append(line[i++]);
                }
                if (i < line.Length && line[i] != ',') throw new TokenFileException(path, $"line {lineNumber}: extraneous text after quoted field");
            }
            else
            {
                while (i < line.Length && line[i] != ',') field.Append(line[i++]);
            }
            fields.Add(field.ToString());
            if (i >= line.Length) return fields;
            i++; // the comma
        }
    }
}

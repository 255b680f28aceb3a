namespace Kcm.Api.Selectors;

/// <summary>
/// Lexer and recursive-descent parser for the label selector query syntax, mirroring upstream's token
/// rules so that error messages match what a real API server answers.
/// </summary>
internal sealed class LabelSelectorParser(string input)
{
    private enum Token { Error, EndOfString, ClosedPar, Comma, DoesNotExist, DoubleEquals, Equals, GreaterThan, Identifier, In, LessThan, NotEquals, NotIn, OpenPar }

    private static readonly Dictionary<string, Token> Keywords = new(StringComparer.Ordinal)
    {
        [")"] = Token.ClosedPar,
        [","] = Token.Comma,
        ["!"] = Token.DoesNotExist,
        ["=="] = Token.DoubleEquals,
        ["="] = Token.Equals,
        [">"] = Token.GreaterThan,
        ["in"] = Token.In,
        ["<"] = Token.LessThan,
        ["!="] = Token.NotEquals,
        ["notin"] = Token.NotIn,
        ["("] = Token.OpenPar,
    };

    private const string BinaryOperators = "in, notin, =, ==, !=, gt, lt";

    private readonly List<(Token Token, string Literal)> items = [];
    private int lexPosition;
    private int position;

    public List<LabelRequirement> Parse()
    {
        Scan();
        var requirements = new List<LabelRequirement>();
        while (true)
        {
            var (token, literal) = Lookahead(valuesContext: true);
            switch (token)
            {
                case Token.Identifier or Token.DoesNotExist:
                    LabelRequirement requirement;
                    try
                    {
                        requirement = ParseRequirement();
                    }
                    catch (RequirementException e)
                    {
                        throw new SelectorParseException("unable to parse requirement: " + e.Message);
                    }
                    requirements.Add(requirement);
                    var (next, nextLiteral) = Consume(valuesContext: true);
                    switch (next)
                    {
                        case Token.EndOfString:
                            return requirements;
                        case Token.Comma:
                            var (after, afterLiteral) = Lookahead(valuesContext: true);
                            if (after is not (Token.Identifier or Token.DoesNotExist))
                            {
                                throw new SelectorParseException($"found '{afterLiteral}', expected: identifier after ','");
                            }
                            break;
                        default:
                            throw new SelectorParseException($"found '{nextLiteral}', expected: ',' or 'end of string'");
                    }
                    break;
                case Token.EndOfString:
                    return requirements;
                default:
                    throw new SelectorParseException($"found '{literal}', expected: !, identifier, or 'end of string'");
            }
        }
    }

    /// <summary>An error inside one requirement; the caller prefixes it as upstream does.</summary>
    private sealed class RequirementException(string message) : Exception(message);

    private LabelRequirement ParseRequirement()
    {
        var (key, op) = ParseKeyAndInferOperator();
        if (op is LabelOperator.Exists or LabelOperator.DoesNotExist) return Build(key, op.Value, []);

        var binary = ParseOperator();
        var values = binary is LabelOperator.In or LabelOperator.NotIn ? ParseValues() : ParseExactValue();
        // Upstream hands the values over as a sorted set.
        return Build(key, binary, values.Order(StringComparer.Ordinal).ToList());
    }

    private static LabelRequirement Build(string key, LabelOperator op, IReadOnlyList<string> values)
    {
        var errors = LabelRequirement.Validate(key, op, values);
        if (errors.Count > 0) throw new RequirementException(LabelValidation.Aggregate(errors));
        return LabelRequirement.Create(key, op, values);
    }

    private (string Key, LabelOperator? Operator) ParseKeyAndInferOperator()
    {
        LabelOperator? op = null;
        var (token, literal) = Consume(valuesContext: true);
        if (token == Token.DoesNotExist)
        {
            op = LabelOperator.DoesNotExist;
            (token, literal) = Consume(valuesContext: true);
        }
        if (token != Token.Identifier) throw new RequirementException($"found '{literal}', expected: identifier");

        var keyErrors = LabelValidation.LabelKeyErrors(literal);
        if (keyErrors.Count > 0)
        {
            // The parser validates with a nil field path, which Go prints as "<nil>".
            throw new RequirementException(LabelValidation.Invalid("<nil>", literal, string.Join("; ", keyErrors)));
        }
        var (next, _) = Lookahead(valuesContext: true);
        if (next is Token.EndOfString or Token.Comma && op != LabelOperator.DoesNotExist) op = LabelOperator.Exists;
        return (literal, op);
    }

    private LabelOperator ParseOperator()
    {
        var (token, literal) = Consume(valuesContext: false);
        return token switch
        {
            Token.In => LabelOperator.In,
            Token.Equals => LabelOperator.Equals,
            Token.DoubleEquals => LabelOperator.DoubleEquals,
            Token.GreaterThan => LabelOperator.GreaterThan,
            Token.LessThan => LabelOperator.LessThan,
            Token.NotIn => LabelOperator.NotIn,
            Token.NotEquals => LabelOperator.NotEquals,
            _ => throw new RequirementException($"found '{literal}', expected: {BinaryOperators}"),
        };
    }

    private HashSet<string> ParseValues()
    {
        var (token, literal) = Consume(valuesContext: true);
        if (token != Token.OpenPar) throw new RequirementException($"found '{literal}' expected: '('");
        (token, literal) = Lookahead(valuesContext: true);
        switch (token)
        {
            case Token.Identifier or Token.Comma:
                var values = ParseIdentifiersList();
                if (Consume(valuesContext: true).Token != Token.ClosedPar) throw new RequirementException($"found '{literal}', expected: ')'");
                return values;
            case Token.ClosedPar:
                Consume(valuesContext: true);
                return [""];
            default:
                throw new RequirementException($"found '{literal}', expected: ',', ')' or identifier");
        }
    }

    private HashSet<string> ParseIdentifiersList()
    {
        var values = new HashSet<string>(StringComparer.Ordinal);
        while (true)
        {
            var (token, literal) = Consume(valuesContext: true);
            switch (token)
            {
                case Token.Identifier:
                    values.Add(literal);
                    var (next, nextLiteral) = Lookahead(valuesContext: true);
                    switch (next)
                    {
                        case Token.Comma:
                            continue;
                        case Token.ClosedPar:
                            return values;
                        default:
                            throw new RequirementException($"found '{nextLiteral}', expected: ',' or ')'");
                    }
                case Token.Comma:
                    // Empty entries ("(,a", "a,,b", "a,)") stand for the empty value.
                    if (values.Count == 0) values.Add("");
                    var (following, _) = Lookahead(valuesContext: true);
                    if (following == Token.ClosedPar)
                    {
                        values.Add("");
                        return values;
                    }
                    if (following == Token.Comma)
                    {
                        Consume(valuesContext: true);
                        values.Add("");
                    }
                    break;
                default:
                    throw new RequirementException($"found '{literal}', expected: ',', or identifier");
            }
        }
    }

    private HashSet<string> ParseExactValue()
    {
        var (token, _) = Lookahead(valuesContext: true);
        if (token is Token.EndOfString or Token.Comma) return [""];
        (token, var literal) = Consume(valuesContext: true);
        if (token == Token.Identifier) return [literal];
        throw new RequirementException($"found '{literal}', expected: identifier");
    }

    // In value position the keywords "in" and "notin" are ordinary identifiers.
    private (Token Token, string Literal) Lookahead(bool valuesContext) => Contextual(items[position], valuesContext);

    private (Token Token, string Literal) Consume(bool valuesContext) => Contextual(items[position++], valuesContext);

    private static (Token Token, string Literal) Contextual((Token Token, string Literal) item, bool valuesContext)
        => valuesContext && item.Token is Token.In or Token.NotIn ? (Token.Identifier, item.Literal) : item;

    private void Scan()
    {
        while (true)
        {
            var item = Lex();
            items.Add(item);
            if (item.Token == Token.EndOfString) break;
        }
    }

    private char Read() => lexPosition < input.Length ? input[lexPosition++] : '\0';

    private void Unread() => lexPosition--;

    private static bool IsWhitespace(char c) => c is ' ' or '\t' or '\r' or '\n';

    private static bool IsSpecialSymbol(char c) => c is '=' or '!' or '(' or ')' or ',' or '>' or '<';

    private (Token Token, string Literal) Lex()
    {
        var c = Read();
        while (IsWhitespace(c)) c = Read();
        if (c == '\0') return (Token.EndOfString, "");
        Unread();
        return IsSpecialSymbol(c) ? ScanSpecialSymbol() : ScanIdentifierOrKeyword();
    }

    private (Token Token, string Literal) ScanIdentifierOrKeyword()
    {
        var start = lexPosition;
        while (true)
        {
            var c = Read();
            if (c == '\0') break;
            if (IsSpecialSymbol(c) || IsWhitespace(c))
            {
                Unread();
                break;
            }
        }
        var text = input[start..Math.Min(lexPosition, input.Length)];
        var nul = text.IndexOf('\0');
        if (nul >= 0) text = text[..nul];
        return Keywords.TryGetValue(text, out var keyword) ? (keyword, text) : (Token.Identifier, text);
    }

    private (Token Token, string Literal) ScanSpecialSymbol()
    {
        var buffer = "";
        (Token Token, string Literal)? last = null;
        while (true)
        {
            var c = Read();
            if (c == '\0') break;
            if (!IsSpecialSymbol(c))
            {
                Unread();
                break;
            }
            buffer += c;
            if (Keywords.TryGetValue(buffer, out var token)) last = (token, buffer);
            else if (last is not null)
            {
                Unread();
                break;
            }
        }
        return last is { } found ? found : (Token.Error, $"error expected: keyword found '{buffer}'");
    }
}

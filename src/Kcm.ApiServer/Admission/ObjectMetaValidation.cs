using System.Text.RegularExpressions;
using Kcm.ApiServer.Errors;
using Kcm.ApiServer.Registry;

namespace Kcm.ApiServer.Admission;

/// <summary>Name checks of upstream's ValidateObjectMeta, with its exact messages.</summary>
public sealed partial class ObjectMetaValidation : IValidatingAdmission
{
    private const string SubdomainFmt = "[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*";
    private const string LabelFmt = "[a-z0-9]([-a-z0-9]*[a-z0-9])?";
    private const string Dns1035Fmt = "[a-z]([-a-z0-9]*[a-z0-9])?";

    [GeneratedRegex("^" + SubdomainFmt + "$")]
    private static partial Regex SubdomainRegex();

    [GeneratedRegex("^" + LabelFmt + "$")]
    private static partial Regex LabelRegex();

    [GeneratedRegex("^" + Dns1035Fmt + "$")]
    private static partial Regex Dns1035Regex();

    public void Validate(AdmissionRequest request)
    {
        if (request.Operation == AdmissionOperation.Delete || request.Object is null || request.Subresource.Length > 0) return;
        var name = request.Name;
        var errors = NameErrors(request.Strategy.NameRule, name);
        if (errors.Count == 0) return;
        var kind = request.Object["kind"]?.GetValue<string>() ?? request.Strategy.Entry.Kind;
        var quoted = "\"" + name.Replace("\\", "\\\\").Replace("\"", "\\\"") + "\"";
        var causes = errors.Select(e => new StatusCauseInfo("FieldValueInvalid", $"Invalid value: {quoted}: {e}", "metadata.name")).ToList();
        throw ApiException.Invalid(request.Strategy.Group, kind, name, causes);
    }

    public static List<string> NameErrors(NameRule rule, string name)
    {
        var errors = new List<string>();
        switch (rule)
        {
            case NameRule.Dns1123Subdomain:
                if (name.Length > 253) errors.Add("must be no more than 253 characters");
                if (!SubdomainRegex().IsMatch(name))
                {
                    errors.Add("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '" + SubdomainFmt + "')");
                }
                break;
            case NameRule.Dns1123Label:
                if (name.Length > 63) errors.Add("must be no more than 63 characters");
                if (!LabelRegex().IsMatch(name))
                {
                    errors.Add("a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '" + LabelFmt + "')");
                }
                break;
            case NameRule.Dns1035Label:
                if (name.Length > 63) errors.Add("must be no more than 63 characters");
                if (!Dns1035Regex().IsMatch(name))
                {
                    errors.Add("a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '" + Dns1035Fmt + "')");
                }
                break;
            case NameRule.PathSegment:
                if (name is "." or "..") errors.Add($"may not be '{name}'");
                else if (name.Contains('/')) errors.Add("may not contain '/'");
                else if (name.Contains('%')) errors.Add("may not contain '%'");
                break;
        }
        return errors;
    }
}

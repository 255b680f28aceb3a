using System.Formats.Asn1;
using System.Security.Cryptography.X509Certificates;

namespace Kcm.Controllers.Certificates;

/// <summary>
/// A subject as Go's pkix.Name holds it after parsing (upstream's signer copies the request's parsed subject into the
/// certificate): the string values of the attributes it knows, read from every RDN, and nothing else. Encoding it
/// again gives the subject upstream's certificates carry: a fixed attribute order, repeated attributes in one RDN,
/// other attributes (e-mail address, UID, DC, ...) dropped.
/// </summary>
public sealed class GoName
{
    // Go's ToRDNSequence order; CN and SERIALNUMBER keep only the last value seen.
    private static readonly (string Oid, bool Single)[] Order =
    [
        ("2.5.4.6", false),  // C
        ("2.5.4.8", false),  // ST
        ("2.5.4.7", false),  // L
        ("2.5.4.9", false),  // STREET
        ("2.5.4.17", false), // POSTALCODE
        ("2.5.4.10", false), // O
        ("2.5.4.11", false), // OU
        ("2.5.4.3", true),   // CN
        ("2.5.4.5", true),   // SERIALNUMBER
    ];

    private readonly Dictionary<string, List<string>> _values = [];

    private GoName()
    {
    }

    public string CommonName => Values("2.5.4.3").LastOrDefault() ?? "";

    public IReadOnlyList<string> Organizations => Values("2.5.4.10");

    /// <exception cref="AsnContentException">The name is not a DER RDNSequence.</exception>
    public static GoName Parse(X500DistinguishedName name)
    {
        var result = new GoName();
        var rdns = new AsnReader(name.RawData, AsnEncodingRules.DER).ReadSequence();
        while (rdns.HasData)
        {
            var rdn = rdns.ReadSetOf(skipSortOrderValidation: true);
            while (rdn.HasData)
            {
                var attribute = rdn.ReadSequence();
                var oid = attribute.ReadObjectIdentifier();
                if (ReadString(attribute) is { } value && Order.Any(o => o.Oid == oid))
                {
                    (result._values.TryGetValue(oid, out var list) ? list : result._values[oid] = []).Add(value);
                }
            }
        }
        return result;
    }

    /// <summary>The DER subject Go's x509.CreateCertificate writes for this name.</summary>
    public X500DistinguishedName Encode()
    {
        var writer = new AsnWriter(AsnEncodingRules.DER);
        using (writer.PushSequence())
        {
            foreach (var (oid, single) in Order)
            {
                var values = Values(oid);
                if (values.Count == 0) continue;
                using (writer.PushSetOf())
                {
                    foreach (var value in single ? [values[^1]] : values)
                    {
                        using (writer.PushSequence())
                        {
                            writer.WriteObjectIdentifier(oid);
                            writer.WriteCharacterString(IsPrintable(value) ? UniversalTagNumber.PrintableString : UniversalTagNumber.UTF8String, value);
                        }
                    }
                }
            }
        }
        return new X500DistinguishedName(writer.Encode());
    }

    private List<string> Values(string oid) => _values.TryGetValue(oid, out var list) ? list : [];

    // Go parses these string types into string values; anything else is not a value pkix.Name keeps.
    private static string? ReadString(AsnReader attribute)
    {
        var tag = attribute.PeekTag();
        if (tag.TagClass != TagClass.Universal)
        {
            attribute.ReadEncodedValue();
            return null;
        }
        var type = (UniversalTagNumber)tag.TagValue;
        if (type is not (UniversalTagNumber.PrintableString or UniversalTagNumber.IA5String or UniversalTagNumber.UTF8String
            or UniversalTagNumber.T61String or UniversalTagNumber.NumericString or UniversalTagNumber.BMPString))
        {
            attribute.ReadEncodedValue();
            return null;
        }
        try
        {
            return attribute.ReadCharacterString(type);
        }
        catch (AsnContentException)
        {
            return null;
        }
    }

    // Go's asn1 marshals a string as PrintableString when every byte is in that set, else as UTF8String.
    private static bool IsPrintable(string value)
        => value.All(c => c is >= 'a' and <= 'z' or >= 'A' and <= 'Z' or >= '0' and <= '9' or >= '\'' and <= ')' or >= '+' and <= '/' or ' ' or ':' or '=' or '?');
}

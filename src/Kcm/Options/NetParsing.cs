using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace Kcm.Options;

/// <summary>An address range as upstream's ParseCIDRSloppy reads it: host bits may be set and are masked off.</summary>
public sealed record Cidr(IPAddress Network, int PrefixLength)
{
    public bool IsIPv6 => Network.AddressFamily == AddressFamily.InterNetworkV6;

    public override string ToString() => $"{Network}/{PrefixLength.ToString(CultureInfo.InvariantCulture)}";
}

public static class NetParsing
{
    /// <summary>Go's net.ParseIP: dotted quad or IPv6 text, nothing looser (no "10", no "0x1").</summary>
    public static bool TryParseIP(string text, out IPAddress address)
    {
        address = IPAddress.None;
        var s = text.Trim();
        if (s.Contains(':', StringComparison.Ordinal))
        {
            if (s.Contains('%', StringComparison.Ordinal) || !IPAddress.TryParse(s, out var v6) || v6.AddressFamily != AddressFamily.InterNetworkV6) return false;
            address = v6;
            return true;
        }
        var parts = s.Split('.');
        if (parts.Length != 4 || parts.Any(p => p.Length is 0 or > 3 || !p.All(char.IsAsciiDigit) || int.Parse(p, CultureInfo.InvariantCulture) > 255)) return false;
        address = new IPAddress(parts.Select(p => byte.Parse(p, CultureInfo.InvariantCulture)).ToArray());
        return true;
    }

    public static IPAddress ParseIP(string text)
        => TryParseIP(text, out var ip) ? ip : throw new FormatException($"failed to parse IP: \"{text}\"");

    public static bool TryParseCidr(string text, out Cidr cidr)
    {
        cidr = new Cidr(IPAddress.None, 0);
        var slash = text.IndexOf('/');
        if (slash < 0 || !TryParseIP(text[..slash], out var ip)) return false;
        var prefixText = text[(slash + 1)..];
        var max = ip.AddressFamily == AddressFamily.InterNetworkV6 ? 128 : 32;
        if (prefixText.Length is 0 or > 3 || !prefixText.All(char.IsAsciiDigit)) return false;
        var prefix = int.Parse(prefixText, CultureInfo.InvariantCulture);
        if (prefix > max) return false;
        var bytes = ip.GetAddressBytes();
        for (var bit = prefix; bit < bytes.Length * 8; bit++) bytes[bit / 8] &= (byte)~(0x80 >> (bit % 8));
        cidr = new Cidr(new IPAddress(bytes), prefix);
        return true;
    }

    /// <summary>A comma-separated list of CIDRs, as --cluster-cidr and --service-cluster-ip-range take.</summary>
    public static IReadOnlyList<Cidr> ParseCidrList(string flag, string text, List<string> errors)
    {
        var result = new List<Cidr>();
        foreach (var part in text.Split(',', StringSplitOptions.TrimEntries))
        {
            if (TryParseCidr(part, out var c)) result.Add(c);
            else errors.Add($"invalid --{flag} \"{text}\": invalid CIDR address: {part}");
        }
        return result;
    }
}

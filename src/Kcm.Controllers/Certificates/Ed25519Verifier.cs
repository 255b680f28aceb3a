using System.Numerics;
using System.Security.Cryptography;

namespace Kcm.Controllers.Certificates;

/// <summary>
/// Ed25519 signature verification (RFC 8032) on the BCL's BigInteger and SHA-512, which .NET lacks. It accepts
/// and rejects exactly what Go's crypto/ed25519.Verify does, since upstream's signer decides with it: the key's y
/// may be non-canonical (reduced mod p), S must be below the group order, and R must equal the canonical encoding
/// of [S]B - [k]A. Only public data is handled, so variable time is fine.
/// </summary>
public static class Ed25519Verifier
{
    public const int PublicKeySize = 32;
    public const int SignatureSize = 64;

    private static readonly BigInteger P = BigInteger.Pow(2, 255) - 19;
    private static readonly BigInteger L = BigInteger.Pow(2, 252) + BigInteger.Parse("27742317777372353535851937790883648493");
    private static readonly BigInteger D = Mod(-121665 * Inverse(121666));
    private static readonly BigInteger SqrtMinusOne = BigInteger.ModPow(2, (P - 1) / 4, P);
    private static readonly Point B = BasePoint();

    public static bool Verify(ReadOnlySpan<byte> publicKey, ReadOnlySpan<byte> message, ReadOnlySpan<byte> signature)
    {
        if (publicKey.Length != PublicKeySize || signature.Length != SignatureSize || (signature[63] & 0xE0) != 0)
        {
            return false;
        }
        if (Decode(publicKey) is not { } a)
        {
            return false;
        }
        var s = new BigInteger(signature[32..], isUnsigned: true, isBigEndian: false);
        if (s >= L)
        {
            return false;
        }
        var digest = SHA512.HashData([.. signature[..32], .. publicKey, .. message]);
        var k = new BigInteger(digest, isUnsigned: true, isBigEndian: false) % L;
        var r = Add(Multiply(B, s), Multiply(Negate(a), k));
        return Encode(r).AsSpan().SequenceEqual(signature[..32]);
    }

    // Extended coordinates (X:Y:Z:T) with x = X/Z, y = Y/Z, xy = T/Z.
    private readonly record struct Point(BigInteger X, BigInteger Y, BigInteger Z, BigInteger T);

    private static readonly Point Identity = new(0, 1, 1, 0);

    private static BigInteger Mod(BigInteger v)
    {
        var r = v % P;
        return r.Sign < 0 ? r + P : r;
    }

    private static BigInteger Inverse(BigInteger v) => BigInteger.ModPow(Mod(v), P - 2, P);

    // add-2008-hwcd-3 for a = -1 (complete, so it also doubles).
    private static Point Add(Point p, Point q)
    {
        var a = Mod((p.Y - p.X) * (q.Y - q.X));
        var b = Mod((p.Y + p.X) * (q.Y + q.X));
        var c = Mod(2 * p.T * q.T * D);
        var d = Mod(2 * p.Z * q.Z);
        var e = b - a;
        var f = d - c;
        var g = d + c;
        var h = b + a;
        return new Point(Mod(e * f), Mod(g * h), Mod(f * g), Mod(e * h));
    }

    private static Point Multiply(Point p, BigInteger scalar)
    {
        var result = Identity;
        for (var i = (int)scalar.GetBitLength() - 1; i >= 0; i--)
        {
            result = Add(result, result);
            if (!(scalar >> i).IsEven) result = Add(result, p);
        }
        return result;
    }

    private static Point Negate(Point p) => new(Mod(-p.X), p.Y, p.Z, Mod(-p.T));

    private static byte[] Encode(Point p)
    {
        var zInverse = Inverse(p.Z);
        var x = Mod(p.X * zInverse);
        var y = Mod(p.Y * zInverse);
        var bytes = new byte[32];
        y.TryWriteBytes(bytes, out _, isUnsigned: true, isBigEndian: false);
        if (!x.IsEven) bytes[31] |= 0x80;
        return bytes;
    }

    // As Go's edwards25519 Point.SetBytes: the top bit is x's sign, y is taken mod p (non-canonical accepted), and a
    // sign bit on x = 0 is allowed (negating zero changes nothing).
    private static Point? Decode(ReadOnlySpan<byte> encoded)
    {
        var bytes = encoded.ToArray();
        var negative = (bytes[31] & 0x80) != 0;
        bytes[31] &= 0x7F;
        var y = Mod(new BigInteger(bytes, isUnsigned: true, isBigEndian: false));
        var u = Mod(y * y - 1);
        var v = Mod(D * y * y + 1);
        // x = sqrt(u/v) = u·v³·(u·v⁷)^((p-5)/8), corrected by sqrt(-1) when that squares to -u/v.
        var v3 = Mod(v * v * v);
        var x = Mod(u * v3 * BigInteger.ModPow(Mod(u * v3 * v3 * v), (P - 5) / 8, P));
        var check = Mod(v * x * x);
        if (check == Mod(-u))
        {
            x = Mod(x * SqrtMinusOne);
        }
        else if (check != u)
        {
            return null;
        }
        if (!x.IsEven) x = Mod(-x); // the non-negative root first, as Go's SqrtRatio
        if (negative) x = Mod(-x);
        return new Point(x, y, 1, Mod(x * y));
    }

    private static Point BasePoint()
    {
        var y = Mod(4 * Inverse(5));
        var encoded = new byte[32];
        y.TryWriteBytes(encoded, out _, isUnsigned: true, isBigEndian: false);
        return Decode(encoded) ?? throw new InvalidOperationException("the Ed25519 base point does not decode");
    }
}

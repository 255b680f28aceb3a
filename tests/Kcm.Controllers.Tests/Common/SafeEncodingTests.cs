using Kcm.Controllers.Common;

namespace Kcm.Controllers.Tests.Common;

public sealed class SafeEncodingTests
{
    [Fact]
    public void SafeEncodeString_MapsEveryByteIntoTheAlphabet()
    {
        Assert.Equal("bcdfghjklm", SafeEncoding.SafeEncodeString("\0\u0001\u0002\u0003\u0004\u0005\u0006\u0007\u0008\u0009"));
        var encoded = SafeEncoding.SafeEncodeString("1234567890");
        Assert.All(encoded, c => Assert.Contains(c, SafeEncoding.Alphabet));
        // '0' is 48: 48 % 27 = 21 -> '4'; '9' is 57: 57 % 27 = 3 -> 'f'.
        Assert.Equal("456789bcdf", SafeEncoding.SafeEncodeString("0123456789"));
    }
}

using Kcm.Options;

namespace Kcm.Tests.Options;

public class FlagSetTests
{
    private static (FlagSet Flags, Func<string> Name, Func<bool> Elect, Func<int> Port, Func<TimeSpan> Duration) Make()
    {
        var flags = new FlagSet("test");
        return (flags, flags.String("kubeconfig", "", "k"), flags.Bool("leader-elect", true, "l"), flags.Int("secure-port", 10257, "p"),
            flags.Duration("cluster-signing-duration", TimeSpan.FromHours(8760), "d"));
    }

    [Fact]
    public void Parse_UnitFileStyle_ReadsEveryForm()
    {
        var (flags, name, elect, port, duration) = Make();
        flags.Parse(["--kubeconfig=/etc/kubernetes/kcm.kubeconfig", "--leader-elect=false", "--secure-port", "10252", "--cluster-signing-duration=87600h"]);
        Assert.Equal("/etc/kubernetes/kcm.kubeconfig", name());
        Assert.False(elect());
        Assert.Equal(10252, port());
        Assert.Equal(TimeSpan.FromHours(87600), duration());
        Assert.True(flags.Changed("secure-port"));
    }

    [Fact]
    public void Parse_Defaults_AreKeptAndNotChanged()
    {
        var (flags, _, elect, port, duration) = Make();
        flags.Parse([]);
        Assert.True(elect());
        Assert.Equal(10257, port());
        Assert.Equal(TimeSpan.FromHours(8760), duration());
        Assert.False(flags.Changed("secure-port"));
    }

    [Fact]
    public void Parse_BareBool_IsTrue()
    {
        var (flags, _, elect, _, _) = Make();
        flags.Parse(["--leader-elect=false", "--leader-elect"]);
        Assert.True(elect());
    }

    [Theory]
    [InlineData(new[] { "--nope=1" }, "unknown flag: --nope")]
    [InlineData(new[] { "--secure-port" }, "flag needs an argument: --secure-port")]
    [InlineData(new[] { "--secure-port=abc" }, "invalid argument \"abc\" for \"--secure-port\" flag: strconv.ParseInt: parsing \"abc\": invalid syntax")]
    [InlineData(new[] { "--leader-elect=maybe" }, "invalid argument \"maybe\" for \"--leader-elect\" flag: strconv.ParseBool: parsing \"maybe\": invalid syntax")]
    [InlineData(new[] { "--cluster-signing-duration=1y" }, "invalid argument \"1y\" for \"--cluster-signing-duration\" flag: time: unknown unit \"y\" in duration \"1y\"")]
    public void Parse_BadInput_OneLineError(string[] args, string message)
    {
        var (flags, _, _, _, _) = Make();
        var e = Assert.Throws<FlagException>(() => flags.Parse(args));
        Assert.Equal(message, e.Message);
    }

    [Fact]
    public void Parse_Help_IsReportedAndUsageListsFlags()
    {
        var (flags, _, _, _, _) = Make();
        flags.Parse(["--help"]);
        Assert.True(flags.HelpRequested);
        Assert.Contains("--secure-port int32", flags.Usage());
        Assert.Contains("(default 10257)", flags.Usage());
    }
}

using System.Text.RegularExpressions;

namespace Kcm.Tests.Startup;

/// <summary>
/// Issue 21: each bad start-up input ends the real process with exit code 1 and exactly one error line (upstream's
/// text, naming the flag or file), never an unhandled exception or a stack trace.
/// </summary>
public sealed partial class StartupInputsTests(BadStartupInputs inputs) : IClassFixture<BadStartupInputs>
{
    [Theory(Timeout = 600_000)]
    [MemberData(nameof(StartupInputCases.Names), MemberType = typeof(StartupInputCases))]
    public async Task Start_BadInput_OneErrorLineNamingItAndExitCode1(string name)
    {
        var expected = StartupInputCases.All(inputs).Single(c => c.Name == name);
        var result = (await inputs.ResultsAsync)[name];

        Assert.DoesNotContain("Unhandled exception", result.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", result.Stderr, StringComparison.Ordinal);
        var errors = result.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries).Where(IsErrorLine).ToList();
        var line = Assert.Single(errors);
        Assert.Contains(expected.Expected, line, StringComparison.Ordinal);
        Assert.Contains(expected.Names, line, StringComparison.Ordinal);
        Assert.Equal(1, result.ExitCode);
    }

    // cli.Run's two forms: "Error: ..." before logging starts, a klog E/F line after.
    private static bool IsErrorLine(string line) => line.StartsWith("Error:", StringComparison.Ordinal) || KlogError().IsMatch(line);

    [GeneratedRegex(@"^[EF]\d{4} ")]
    private static partial Regex KlogError();
}

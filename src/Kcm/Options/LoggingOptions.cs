using System.Globalization;

namespace Kcm.Options;

/// <summary>component-base logs flags of v1.26 (`-v`, `--vmodule`, `--logging-format`, ...).</summary>
public sealed class LoggingOptions
{
    public int Verbosity { get; set; }
    /// <summary>`pattern=N` pairs from --vmodule, in order.</summary>
    public IReadOnlyList<(string Pattern, int Level)> VModule { get; set; } = [];
    public string Format { get; set; } = "text";
    public TimeSpan FlushFrequency { get; set; } = TimeSpan.FromSeconds(5);
    public bool JsonSplitStream { get; set; }
    public string JsonInfoBufferSize { get; set; } = "0";

    public LegacyKlogOptions Legacy { get; } = new();

    public void AddFlags(FlagSet fs)
    {
        fs.DurationVar("log-flush-frequency", FlushFrequency, "Longest time between log flushes.", v => FlushFrequency = v);
        fs.Var("log-json-info-buffer-size", "quantity", "", "[Alpha] With the JSON format and split streams, buffer this many bytes of info messages to improve throughput (needs the LoggingAlphaOptions feature gate).",
            v => JsonInfoBufferSize = v);
        fs.BoolVar("log-json-split-stream", JsonSplitStream, "[Alpha] With the JSON format, send errors to stderr and info to stdout (needs the LoggingAlphaOptions feature gate).", v => JsonSplitStream = v);
        fs.StringVar("logging-format", Format, "Log format. Permitted formats: \"json\" (gated by LoggingBetaOptions), \"text\".", v => Format = v);
        fs.Var("v", "Level", "", "Log verbosity level.", v => Verbosity = ParseLevel(v), shorthand: 'v');
        fs.Var("vmodule", "pattern=N,...", "", "Per-file verbosity: comma-separated pattern=N pairs (text format only).", v => VModule = ParseVModule(v));
        Legacy.AddFlags(fs);
    }

    private static int ParseLevel(string v)
    {
        if (int.TryParse(v, NumberStyles.None, CultureInfo.InvariantCulture, out var level)) return level;
        throw new FormatException($"strconv.ParseInt: parsing \"{v}\": invalid syntax");
    }

    private static List<(string, int)> ParseVModule(string v)
    {
        var result = new List<(string, int)>();
        foreach (var pair in v.Split(',', StringSplitOptions.RemoveEmptyEntries))
        {
            var parts = pair.Split('=');
            if (parts.Length != 2 || parts[0].Length == 0 || !int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var level))
                throw new FormatException("syntax error: expect comma-separated list of filename=N");
            result.Add((parts[0], level));
        }
        return result;
    }

    public IEnumerable<string> Validate(FeatureGates gates)
    {
        if (JsonSplitStream && !gates.Enabled("LoggingAlphaOptions"))
            yield return "--log-json-split-stream: options.json.splitStream: Forbidden: Feature LoggingAlphaOptions is disabled";
        if (JsonInfoBufferSize is not ("" or "0") && !gates.Enabled("LoggingAlphaOptions"))
            yield return "--log-json-info-buffer-size: options.json.infoBufferSize: Forbidden: Feature LoggingAlphaOptions is disabled";
        if (Format == "json" && !gates.Enabled("LoggingBetaOptions"))
            yield return "--logging-format: format json: Forbidden: Feature LoggingBetaOptions is disabled";
        if (Format is not ("text" or "json")) yield return $"--logging-format: Unsupported value: \"{Format}\": supported values: \"json\", \"text\"";
        if (FlushFrequency <= TimeSpan.Zero) yield return "--log-flush-frequency must be greater than zero";
    }
}

/// <summary>
/// klog's own flags, removed from Kubernetes components in v1.26 (KEP-2845). Old unit files still pass
/// them, so they are accepted with a warning and their values kept for whoever wants to honour them.
/// </summary>
public sealed class LegacyKlogOptions
{
    private const string Removed = "it was removed from Kubernetes components in v1.26 (klog flags, KEP-2845); log to stderr and let systemd/journald handle files";

    public bool? LogToStderr { get; private set; }
    public bool? AlsoLogToStderr { get; private set; }
    public string LogDir { get; private set; } = "";
    public string LogFile { get; private set; } = "";

    public void AddFlags(FlagSet fs)
    {
        fs.BoolVar("logtostderr", true, "Log to stderr instead of files.", v => LogToStderr = v);
        fs.BoolVar("alsologtostderr", false, "Log to stderr as well as files.", v => AlsoLogToStderr = v);
        fs.StringVar("log-dir", "", "Directory for log files (with --logtostderr=false).", v => LogDir = v);
        fs.StringVar("log-file", "", "Log file (with --logtostderr=false).", v => LogFile = v);
        fs.Var("log-file-max-size", "uint", "1800", "Largest log file in MB; 0 for no limit.", v => FlagSet.ParseInt32Value(v));
        fs.Var("log-backtrace-at", "traceLocation", "", "Emit a stack trace when logging hits file:N.", _ => { });
        fs.BoolVar("add-dir-header", false, "Put the file's directory in the log header.", _ => { });
        fs.BoolVar("one-output", false, "Write each message only to its own severity's file.", _ => { });
        fs.BoolVar("skip-headers", false, "Leave out the header prefixes of log messages.", _ => { });
        fs.BoolVar("skip-log-headers", false, "Leave out headers when opening log files.", _ => { });
        fs.Var("stderrthreshold", "severity", "2", "Messages at or above this severity go to stderr as well as files.", _ => { });
        foreach (var name in new[] { "logtostderr", "alsologtostderr", "log-dir", "log-file", "log-file-max-size", "log-backtrace-at", "add-dir-header", "one-output", "skip-headers", "skip-log-headers", "stderrthreshold" })
            fs.MarkDeprecated(name, Removed);
    }
}

/// <summary>component-base metrics flags.</summary>
public sealed class MetricsOptions
{
    public string ShowHiddenMetricsForVersion { get; set; } = "";
    public IReadOnlyList<string> DisabledMetrics { get; set; } = [];
    public IReadOnlyDictionary<string, string> AllowListMapping { get; set; } = new Dictionary<string, string>();

    public void AddFlags(FlagSet fs)
    {
        fs.Var("allow-metric-labels", "stringToString", "[]",
            "Allowed values per metric label: <MetricName>,<LabelName>='v1,v2,v3' entries, e.g. metric1,label1='v1,v2,v3' metric2,label1='v1,v2'.",
            v =>
            {
                var map = new Dictionary<string, string>(AllowListMapping);
                foreach (var (key, value) in ParseStringToString(v)) map[key] = value;
                AllowListMapping = map;
            });
        fs.StringSliceVar("disabled-metrics", DisabledMetrics, "Metrics to turn off (fully qualified names). Takes precedence over showing hidden metrics.", v => DisabledMetrics = v);
        fs.StringVar("show-hidden-metrics-for-version", ShowHiddenMetricsForVersion, "Previous minor version (e.g. 1.25) whose hidden metrics should be shown again. Only the previous minor version is accepted.", v => ShowHiddenMetricsForVersion = v);
    }

    // pflag's stringToString: CSV records of key=value; a record without '=' continues the previous value.
    private static List<(string, string)> ParseStringToString(string v)
    {
        var result = new List<(string Key, string Value)>();
        foreach (var field in Csv.Split(v))
        {
            var eq = field.IndexOf('=');
            if (eq < 0)
            {
                if (result.Count == 0) throw new FormatException($"{field} must be formatted as key=value");
                var last = result[^1];
                result[^1] = (last.Key, last.Value + "," + field);
                continue;
            }
            result.Add((field[..eq], field[(eq + 1)..]));
        }
        return result;
    }

    public IEnumerable<string> Validate()
    {
        if (ShowHiddenMetricsForVersion.Length == 0) yield break;
        var parts = ShowHiddenMetricsForVersion.Split('.');
        if (parts.Length != 2 || !parts.All(p => p.Length > 0 && p.All(char.IsAsciiDigit)))
            yield return $"--show-hidden-metrics-for-version: \"{ShowHiddenMetricsForVersion}\" is not in the form major.minor";
        else if (ShowHiddenMetricsForVersion != "1.25")
            yield return $"--show-hidden-metrics-for-version: {ShowHiddenMetricsForVersion} is not allowed; only the previous minor version (1.25) is";
    }
}

using System.Diagnostics;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Kcm.Differ;

// kcm-differ: runs upstream's kube-controller-manager and ours, one after the other, on the same API server against
// the same scenario (each in a fresh namespace), and prints what each left behind that differs. Exit 1 on a difference.
var files = new List<string>();
string? upstream = Environment.GetEnvironmentVariable("KCM_UPSTREAM");
string? ours = null;
string? kubeconfig = Environment.GetEnvironmentVariable("KUBECONFIG_ADMIN") ?? Environment.GetEnvironmentVariable("KUBECONFIG");
var showLogs = false;
for (var i = 0; i < args.Length; i++)
{
    switch (args[i])
    {
        case "--upstream": upstream = args[++i]; break;
        case "--ours": ours = args[++i]; break;
        case "--kubeconfig": kubeconfig = args[++i]; break;
        case "--logs": showLogs = true; break;
        case "-h" or "--help":
            Console.WriteLine("usage: kcm-differ SCENARIO.yaml... [--upstream KCM] [--ours KCM] [--kubeconfig FILE] [--logs]");
            Console.WriteLine("  --logs: also list the log messages only one manager wrote (a report; they do not count as differences)");
            return 0;
        default: files.Add(args[i]); break;
    }
}
ours ??= Path.Combine(AppContext.BaseDirectory, "../../../../../src/Kcm/bin/Debug/net10.0/kube-controller-manager");
if (files.Count == 0 || upstream is null || kubeconfig is null || !File.Exists(upstream) || !File.Exists(ours))
{
    Console.Error.WriteLine("kcm-differ: need scenario files, an upstream binary (--upstream or $KCM_UPSTREAM), ours (--ours, default: the built src/Kcm), and --kubeconfig (or $KUBECONFIG_ADMIN)");
    return 2;
}

var differences = 0;
foreach (var file in files)
{
    Scenario scenario;
    try
    {
        scenario = Scenario.Load(file);
    }
    catch (Exception e) when (e is IOException or InvalidDataException or YamlDotNet.Core.YamlException)
    {
        Console.Error.WriteLine($"kcm-differ: {file}: {e.Message}");
        return 2;
    }
    Console.WriteLine($"=== {scenario.Name} (--controllers={scenario.Controllers})");
    var runner = new Runner(kubeconfig);
    Runner.Result a, b;
    try
    {
        a = await runner.RunAsync(scenario, "upstream", upstream);
        b = await runner.RunAsync(scenario, "ours", Path.GetFullPath(ours));
    }
    catch (InvalidOperationException e)
    {
        // A step's kubectl failed (the message names the command and kubectl's error).
        Console.Error.WriteLine($"kcm-differ: {file}: {e.Message}");
        return 2;
    }
    var report = ObjectDiff.Compare(a.Objects, b.Objects);
    foreach (var known in scenario.Known)
    {
        if (!a.LabelValues[known.Label].SetEquals(b.LabelValues[known.Label]))
        {
            Console.WriteLine($"known difference: label {known.Label}: upstream [{string.Join(" ", a.LabelValues[known.Label])}], ours [{string.Join(" ", b.LabelValues[known.Label])}]: {known.Reason}");
        }
    }
    Console.WriteLine($"objects: upstream {a.Objects.Count}, ours {b.Objects.Count}; error log lines: upstream {a.ErrorLines.Own}, ours {b.ErrorLines.Own}"
        + $" (lines about earlier runs' namespaces, not counted: upstream {a.ErrorLines.Foreign}, ours {b.ErrorLines.Foreign})");
    Console.WriteLine(report.Count == 0 ? "no differences" : string.Join('\n', report));
    var onlyUpstream = a.LogMessages.Except(b.LogMessages, StringComparer.Ordinal).ToList();
    var onlyOurs = b.LogMessages.Except(a.LogMessages, StringComparer.Ordinal).ToList();
    Console.WriteLine($"log messages only upstream wrote: {onlyUpstream.Count}, only ours: {onlyOurs.Count}{(showLogs ? "" : " (--logs lists them)")}");
    if (showLogs)
    {
        foreach (var message in onlyUpstream) Console.WriteLine($"  - {message}");
        foreach (var message in onlyOurs) Console.WriteLine($"  + {message}");
    }
    differences += report.Count;
}
return differences == 0 ? 0 : 1;

/// <summary>One run: a fresh namespace, the steps, the controller manager for the settle time, then the snapshot.</summary>
internal sealed partial class Runner(string kubeconfig)
{
    public sealed record Result(Dictionary<string, JsonObject> Objects, Dictionary<string, SortedSet<string>> LabelValues, ErrorLines ErrorLines, SortedSet<string> LogMessages);

    public async Task<Result> RunAsync(Scenario scenario, string who, string binary)
    {
        var ns = $"differ-{Sanitize(scenario.Name)}-{who}-{Guid.NewGuid().ToString("N")[..5]}";
        await KubectlAsync(["create", "namespace", ns]);
        var log = Path.Combine(Path.GetTempPath(), $"{ns}.log");
        Process? manager = null;
        try
        {
            foreach (var step in scenario.Steps)
            {
                if (step.Start) manager = Start(scenario, binary, log);
                if (step.Apply is { } yaml) await KubectlAsync(["apply", "-n", ns, "-f", "-"], await SubstituteAsync(yaml, ns));
                if (step.Kubectl is { } command)
                {
                    var arguments = await Task.WhenAll(command.Select(c => SubstituteAsync(c, ns)));
                    if (step.Each is { } each)
                    {
                        var listed = await KubectlAsync(["get", .. (await SubstituteAsync(each, ns)).Split(' ', StringSplitOptions.RemoveEmptyEntries), "-n", ns, "-o", "name"]);
                        foreach (var name in listed.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
                        {
                            await KubectlAsync(["-n", ns, .. arguments.Select(a => a == "{}" ? name : a)]);
                        }
                    }
                    else
                    {
                        await KubectlAsync(["-n", ns, .. arguments]);
                    }
                }
                if (step.Wait is { } wait) await Task.Delay(Duration(wait));
            }
            manager ??= Start(scenario, binary, log);
            await Task.Delay(Duration(scenario.Settle));
            var observed = new List<(Observation Observation, JsonObject Object)>();
            foreach (var observation in scenario.Observe)
            {
                var list = JsonNode.Parse(await KubectlAsync(observation.ClusterScoped ? ["get", observation.Resource, "-o", "json"] : ["get", observation.Resource, "-n", ns, "-o", "json"]))!;
                observed.AddRange(list["items"]!.AsArray().OfType<JsonObject>()
                    .Where(o => !observation.ClusterScoped || ((string?)o["metadata"]?["name"] ?? "").Contains(ns, StringComparison.Ordinal))
                    .Select(o => (observation, o)));
            }
            var objects = observed.Select(o => o.Object).ToList();
            var normalizer = new Normalizer(ns, objects, scenario.Known.Select(k => k.Label));
            var index = ObjectDiff.Index(observed.Select(o => (KeyOf(normalizer, o.Object), Normalizer.SortLists(normalizer.Normalize(o.Object), o.Observation.Unordered))));
            var labels = scenario.Known.ToDictionary(k => k.Label, k => Normalizer.LabelValues(objects, k.Label));
            Stop(manager);
            var errors = ErrorLines.Count(File.ReadLines(log), ns);
            var messages = LogMessages.Of(File.ReadLines(log), ns, normalizer.Text);
            Console.WriteLine($"  {who}: namespace {ns}, log {log}");
            return new Result(index, labels, errors, messages);
        }
        finally
        {
            if (manager is not null) Stop(manager);
        }
    }

    private static string KeyOf(Normalizer normalizer, JsonObject o)
        => (string?)o["kind"] == "Event"
            ? $"Event/{o["involvedObject"]?["kind"]}/{normalizer.Text((string?)o["involvedObject"]?["name"] ?? "")}/{o["reason"]}"
            : normalizer.KeyOf(o);

    private Process Start(Scenario scenario, string binary, string log)
    {
        var info = new ProcessStartInfo(binary) { RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var arg in new[] { $"--kubeconfig={kubeconfig}", $"--controllers={scenario.Controllers}", "--leader-elect=false", "--secure-port=0" }
                     .Concat(scenario.Flags.Select(f => Environment.ExpandEnvironmentVariables(EnvVar().Replace(f, "%$1%")))))
        {
            info.ArgumentList.Add(arg);
        }
        var process = Process.Start(info)!;
        var writer = new StreamWriter(log) { AutoFlush = true };
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (writer) writer.WriteLine(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (writer) writer.WriteLine(e.Data); };
        process.Exited += (_, _) => { lock (writer) writer.Flush(); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
    }

    private static void Stop(Process process)
    {
        if (process.HasExited) return;
        process.Kill(entireProcessTree: true);
        process.WaitForExit();
    }

    private readonly Dictionary<string, string> _newUids = [];

    // ${NS}, ${newuid:KEY} (a fresh uid per run and key: owners nobody else refers to), ${uid:RESOURCE/NAME} (looked
    // up now, in the run's namespace), ${ENV}.
    private async Task<string> SubstituteAsync(string text, string ns)
    {
        text = text.Replace("${NS}", ns, StringComparison.Ordinal);
        text = NewUid().Replace(text, m => _newUids.TryGetValue(ns + m.Groups[1].Value, out var u) ? u : _newUids[ns + m.Groups[1].Value] = Guid.NewGuid().ToString());
        foreach (Match m in UidRef().Matches(text))
        {
            var uid = await KubectlAsync(["get", m.Groups[1].Value, "-n", ns, "-o", "jsonpath={.metadata.uid}"]);
            text = text.Replace(m.Value, uid.Trim(), StringComparison.Ordinal);
        }
        return Environment.ExpandEnvironmentVariables(EnvVar().Replace(text, "%$1%"));
    }

    private async Task<string> KubectlAsync(IEnumerable<string> arguments, string? input = null)
    {
        var info = new ProcessStartInfo("kubectl") { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true };
        info.ArgumentList.Add($"--kubeconfig={kubeconfig}");
        foreach (var a in arguments) info.ArgumentList.Add(a);
        using var process = Process.Start(info)!;
        if (input is not null) await process.StandardInput.WriteAsync(input);
        process.StandardInput.Close();
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        if (process.ExitCode != 0) throw new InvalidOperationException($"kubectl {string.Join(" ", info.ArgumentList.Skip(1))}: {(await error).Trim()}");
        return await output;
    }

    internal static TimeSpan Duration(string text)
    {
        var m = GoDuration().Match(text);
        if (!m.Success) throw new InvalidDataException($"not a duration: {text}");
        var value = double.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
        return m.Groups[2].Value switch { "ms" => TimeSpan.FromMilliseconds(value), "s" => TimeSpan.FromSeconds(value), _ => TimeSpan.FromMinutes(value) };
    }

    private static string Sanitize(string name) => NotDns().Replace(name.ToLowerInvariant(), "-").Trim('-');

    [GeneratedRegex(@"^(\d+(?:\.\d+)?)(ms|s|m)$")]
    private static partial Regex GoDuration();

    [GeneratedRegex(@"\$\{newuid:([^}]+)\}")]
    private static partial Regex NewUid();

    [GeneratedRegex(@"\$\{uid:([^}]+)\}")]
    private static partial Regex UidRef();

    [GeneratedRegex(@"\$\{([A-Z_][A-Z0-9_]*)\}")]
    private static partial Regex EnvVar();

    [GeneratedRegex(@"[^a-z0-9-]+")]
    private static partial Regex NotDns();
}

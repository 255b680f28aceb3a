using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using Kcm.Api.Coordination.V1;
using Kcm.Client;
using Kcm.Client.Config;
using Kcm.Client.Errors;
using Kcm.Client.Transport;
using Kcm.Commands;
using Kcm.Options;

namespace Kcm.Status;

/// <summary>
/// `kube-controller-manager status`: the election as the API server holds it (the Lease: holder, transitions, ages)
/// and every controller-manager instance that answers on its secure port, with the leader's queues from its /metrics.
/// Instances are the --instances URLs plus, when the holder's host name (holderIdentity is "HOST_UUID") is not among
/// them, https://HOST:--secure-port. Requests to them carry the kubeconfig's credentials and trust its CA.
/// </summary>
public sealed class StatusCommand(TimeProvider? time = null) : ICommand
{
    private readonly TimeProvider _time = time ?? TimeProvider.System;

    public async Task<int> RunAsync(IReadOnlyList<string> args, TextWriter stdout, TextWriter stderr)
    {
        var flags = new FlagSet("kube-controller-manager status");
        var kubeconfig = flags.String("kubeconfig", Environment.GetEnvironmentVariable("KUBECONFIG") ?? "", "Kubeconfig with read access to the lease and to the instances' /metrics (an admin's).");
        var instances = new List<string>();
        flags.StringSliceVar("instances", [], "Secure-port URLs of the controller managers, e.g. https://10.0.0.1:10257 (comma-separated or repeated).", v => instances = [.. v]);
        var leaseNamespace = flags.String("leader-elect-resource-namespace", "kube-system", "Namespace of the lease (as the controller manager's flag).");
        var leaseName = flags.String("leader-elect-resource-name", "kube-controller-manager", "Name of the lease (as the controller manager's flag).");
        var securePort = flags.Int("secure-port", 10257, "Port tried on the lease holder's host when it is not in --instances.");
        var watch = flags.Bool("watch", false, "Refresh until interrupted.");
        var interval = flags.Duration("interval", TimeSpan.FromSeconds(2), "Time between refreshes with --watch; adds/s is measured over it (over --rate-window for one report).");
        var rateWindow = flags.Duration("rate-window", TimeSpan.FromSeconds(1), "Without --watch: the leader's /metrics is read twice this far apart for adds/s (0: no rate).");
        var insecure = flags.Bool("insecure-skip-tls-verify", false, "Do not verify the instances' serving certificates (e.g. self-signed ones, without --tls-cert-file).");
        try
        {
            flags.Parse(args);
            if (flags.HelpRequested)
            {
                await stdout.WriteAsync(flags.Usage());
                return 0;
            }
            if (kubeconfig().Length == 0) throw new FlagException("--kubeconfig is required (or KUBECONFIG)");
            if (interval() <= TimeSpan.Zero) throw new FlagException($"--interval must be positive, got {interval()}");
            var urls = instances.Select(ParseInstance).ToList();

            ClientConfig config;
            try
            {
                config = KubeconfigLoader.LoadFromFile(kubeconfig());
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                throw new FlagException($"--kubeconfig {kubeconfig()}: {e.Message}");
            }
            using var client = new KubeApiClient(config);
            using var signal = new ShutdownSignal();
            var scraper = new InstanceScraper(config, insecure());
            IReadOnlyDictionary<Uri, Scrape>? previous = null;
            while (true)
            {
                var report = await CollectAsync(client, scraper, urls, leaseNamespace(), leaseName(), securePort(), previous, signal.Token);
                if (!watch() && rateWindow() > TimeSpan.Zero && report.Leader is not null)
                {
                    // One report: a second read of the leader gives the add rate.
                    previous = report.ByUrl;
                    await Task.Delay(rateWindow(), _time, signal.Token);
                    report = await CollectAsync(client, scraper, urls, leaseNamespace(), leaseName(), securePort(), previous, signal.Token);
                }
                if (watch()) await stdout.WriteAsync("\u001b[H\u001b[2J");
                await stdout.WriteAsync(StatusReport.Render(report, _time.GetUtcNow()));
                await stdout.FlushAsync();
                if (!watch()) return report.Lease is null ? 1 : 0;
                previous = report.ByUrl;
                await Task.Delay(interval(), _time, signal.Token);
            }
        }
        catch (OperationCanceledException)
        {
            return 0;
        }
        catch (FlagException e)
        {
            await stderr.WriteLineAsync($"Error: {e.Message}");
            return 1;
        }
    }

    private async Task<StatusData> CollectAsync(KubeApiClient client, InstanceScraper scraper, List<Uri> given, string ns, string name, int port,
        IReadOnlyDictionary<Uri, Scrape>? previous, CancellationToken cancellationToken)
    {
        Lease? lease = null;
        string? leaseError = null;
        try
        {
            lease = await client.GetAsync<Lease>(ns, name, cancellationToken);
        }
        catch (NotFoundException)
        {
            leaseError = $"lease {ns}/{name} not found: no controller manager has led yet (or another --leader-elect-resource-name is used)";
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            leaseError = $"cannot read lease {ns}/{name}: {e.Message}";
        }
        var urls = new List<Uri>(given);
        var holder = lease?.Spec?.HolderIdentity ?? "";
        var holderHost = HolderHost(holder);
        // Without --instances: the holder's host name, as the lease shows it (reachable only where that name resolves).
        if (given.Count == 0 && holderHost.Length > 0 && Uri.TryCreate($"https://{holderHost}:{port.ToString(CultureInfo.InvariantCulture)}", UriKind.Absolute, out var guess))
        {
            urls.Add(guess);
        }
        var scrapes = await Task.WhenAll(urls.Select(u => scraper.ScrapeAsync(u, name, _time, cancellationToken)));
        var byUrl = scrapes.ToDictionary(s => s.Url);
        var leader = scrapes.FirstOrDefault(s => s.Leading(name) == true);
        Scrape? before = leader is not null && previous is not null && previous.TryGetValue(leader.Url, out var p) && p.Metrics is not null ? p : null;
        return new StatusData(ns, name, lease, leaseError, scrapes, byUrl, leader, before);
    }

    internal static string HolderHost(string holderIdentity)
    {
        var underscore = holderIdentity.LastIndexOf('_');
        return underscore > 0 ? holderIdentity[..underscore] : holderIdentity;
    }

    private static Uri ParseInstance(string text)
    {
        if (!Uri.TryCreate(text.Trim(), UriKind.Absolute, out var uri) || uri.Scheme != "https" || uri.Host.Length == 0)
        {
            throw new FlagException($"--instances: \"{text}\" is not an https URL (e.g. https://10.0.0.1:10257)");
        }
        return new Uri(uri.GetLeftPart(UriPartial.Authority));
    }
}

/// <summary>Everything one refresh read.</summary>
public sealed record StatusData(string LeaseNamespace, string LeaseName, Lease? Lease, string? LeaseError, IReadOnlyList<Scrape> Scrapes,
    IReadOnlyDictionary<Uri, Scrape> ByUrl, Scrape? Leader, Scrape? LeaderBefore);

/// <summary>What one instance answered: /healthz (text or error) and /metrics (samples or error).</summary>
public sealed record Scrape(Uri Url, DateTimeOffset At, string Healthz, IReadOnlyList<Sample>? Metrics, string? Error)
{
    /// <summary>leader_election_master_status of the lease; null when unknown.</summary>
    public bool? Leading(string lease)
        => Metrics?.FirstOrDefault(s => s.Name == "leader_election_master_status" && s.Label("name") == lease) is { } s ? s.Value == 1 : null;

    public double? Value(string name) => Metrics?.FirstOrDefault(s => s.Name == name)?.Value;
}

/// <summary>Reads /healthz?verbose and /metrics of one instance with the kubeconfig's credentials.</summary>
internal sealed class InstanceScraper(ClientConfig config, bool insecure)
{
    public async Task<Scrape> ScrapeAsync(Uri url, string lease, TimeProvider time, CancellationToken cancellationToken)
    {
        using var http = new HttpClient(KubeHttpHandlerFactory.Create(config with { Server = url, TlsServerName = null, InsecureSkipTlsVerify = insecure || config.InsecureSkipTlsVerify }))
        {
            BaseAddress = url,
            Timeout = TimeSpan.FromSeconds(5),
        };
        if (config.BearerToken is { Length: > 0 } token) http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        var at = time.GetUtcNow();
        string healthz;
        try
        {
            using var response = await http.GetAsync("/healthz?verbose", cancellationToken);
            var body = await response.Content.ReadAsStringAsync(cancellationToken);
            healthz = response.IsSuccessStatusCode ? "ok" : $"{(int)response.StatusCode}: {FailedChecks(body)}";
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException && !cancellationToken.IsCancellationRequested)
        {
            return new Scrape(url, at, "unreachable", null, Describe(e));
        }
        try
        {
            using var response = await http.GetAsync("/metrics", cancellationToken);
            if (response.StatusCode is HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden)
            {
                return new Scrape(url, at, healthz, null, $"/metrics: {(int)response.StatusCode} {response.StatusCode} (the kubeconfig's user may not read /metrics)");
            }
            response.EnsureSuccessStatusCode();
            var samples = PrometheusText.Parse(await response.Content.ReadAsStringAsync(cancellationToken));
            return new Scrape(url, at, healthz, samples, null);
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException && !cancellationToken.IsCancellationRequested)
        {
            return new Scrape(url, at, healthz, null, "/metrics: " + Describe(e));
        }
    }

    private static string FailedChecks(string body)
        => string.Join(", ", body.Split('\n').Where(l => l.StartsWith("[-]", StringComparison.Ordinal)).Select(l => l[3..].Trim())) is { Length: > 0 } failed ? failed : body.Trim();

    private static string Describe(Exception e) => e is TaskCanceledException ? "timed out after 5s" : (e.InnerException?.Message ?? e.Message);
}

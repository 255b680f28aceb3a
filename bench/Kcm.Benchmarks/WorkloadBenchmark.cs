using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using Kcm.Api;
using Kcm.Api.Apps.V1;
using Kcm.Api.Core.V1;
using Kcm.Api.Meta.V1;
using Kcm.ApiServer.Hosting;
using Kcm.Client;
using Kcm.Client.Config;
using Kcm.Client.Transport;
using Kcm.Client.Watch;
using Kcm.Commands;
using Microsoft.Extensions.Logging.Abstractions;

namespace Kcm.Benchmarks;

/// <summary>
/// The workload throughput benchmark: the controller manager (a child process, flags as the seeds set them) turns
/// N Deployments × R replicas into ReplicaSets and Pods on the embedded API server (in this process). Timed from
/// the first Deployment create until every Deployment reports R replicas and N·R Pods exist. The floor then replays
/// exactly the writes the controller manager issued in that run (counted by the server's request log) with a raw
/// client at the same QPS budget over 16 connections.
/// </summary>
internal static partial class WorkloadBenchmark
{
    private const int FloorConnections = 16;
    private const int KcmQps = 1000;
    private const int KcmBurst = 2000;

    public static async Task<int> RunAsync(int deployments, int replicas, TimeSpan timeout, bool floor = true)
    {
        var stateDir = Path.Combine(Path.GetTempPath(), "kcm-workload-" + Guid.NewGuid().ToString("N")[..8]);
        await using var server = await EmbeddedApiServer.StartAsync(
            new EmbeddedApiServerOptions { StateDirectory = stateDir, SecurePort = 0, WatchCacheSize = 200_000 }, NullLoggerFactory.Instance, CancellationToken.None);
        var adminConfig = KubeconfigLoader.LoadFromFile(server.AdminKubeconfigPath) with { Qps = -1, UserAgent = "workload-benchmark/1.0" };
        using var admin = new KubeApiClient(adminConfig);
        Console.WriteLine($"workload: {deployments} deployments x {replicas} replicas, {Environment.ProcessorCount} cores, " +
            "--kube-api-qps=1000 --kube-api-burst=2000 --concurrent-deployment-syncs=10");

        var kcm = StartControllerManager(server.AdminKubeconfigPath);
        try
        {
            await kcm.WaitForStartedAsync(TimeSpan.FromSeconds(60));
            var ns = "workload";
            await admin.CreateAsync(new Namespace { Metadata = new ObjectMeta { Name = ns } });
            using var progress = await Progress.StartAsync(admin, ns, replicas);
            server.Requests.Reset();

            var stopwatch = Stopwatch.StartNew();
            await ParallelForAsync(deployments, FloorConnections, i => admin.CreateAsync(NewDeployment($"web-{i}", replicas), ns));
            var created = stopwatch.Elapsed;
            var done = await progress.WaitAsync(deployments, deployments * replicas, timeout);
            var elapsed = stopwatch.Elapsed;
            var cpu = kcm.CpuSeconds();
            var rss = kcm.PeakRssMiB();
            var writes = server.Requests.Snapshot()
                .Where(r => r.Component == "kube-controller-manager" && r.Verb is "POST" or "PUT" or "PATCH" or "DELETE")
                .OrderByDescending(r => r.Count).ToList();
            if (!done)
            {
                Console.WriteLine($"  TIMED OUT after {timeout}: {progress.Describe()}");
                return 1;
            }
            Console.WriteLine($"  deployments created in {created.TotalSeconds:F2} s by the benchmark client");
            Console.WriteLine($"  controller manager: {elapsed.TotalSeconds:F2} s to {deployments} ready deployments and {deployments * replicas} pods");
            Console.WriteLine($"  controller manager peak RSS {rss:F0} MiB, CPU {cpu:F1} s");
            Console.WriteLine("  writes it issued (verb resource[/subresource] code: count):");
            foreach (var w in writes.GroupBy(w => (w.Verb, w.Resource, w.Subresource, w.Code)).OrderByDescending(g => g.Sum(w => w.Count)))
            {
                Console.WriteLine($"    {w.Key.Verb} {w.Key.Resource}{(w.Key.Subresource.Length > 0 ? "/" + w.Key.Subresource : "")} {w.Key.Code}: {w.Sum(x => x.Count)}");
            }
            // As upstream, each controller has its own client and QPS budget; the busiest one bounds the run from below.
            var busiest = writes.GroupBy(w => w.Client.Length > 0 ? w.Client : "(shared client: events, leases)")
                .Select(g => (Client: g.Key, Count: g.Sum(w => w.Count))).MaxBy(c => c.Count);
            var busiestBound = TimeSpan.FromSeconds(Math.Max(0, busiest.Count - KcmBurst) / (double)KcmQps);
            Console.WriteLine($"  busiest controller client {busiest.Client}: {busiest.Count} writes, >= {busiestBound.TotalSeconds:F2} s at its own qps {KcmQps} after a burst of {KcmBurst}" +
                (busiestBound > TimeSpan.Zero ? $"; controller manager / that bound: {elapsed / busiestBound:F2}x" : ""));
            var reads = server.Requests.Snapshot().Where(r => r.Component == "kube-controller-manager" && r.Verb is "GET" or "LIST" or "WATCH")
                .OrderByDescending(r => r.Count).ToList();
            Console.WriteLine(reads.Count == 0
                ? "  reads it issued: none (its informers listed and started watching before the clock started)"
                : $"  reads it issued: {string.Join(", ", reads.Select(r => $"{r.Verb} {r.Resource}{(r.Subresource.Length > 0 ? "/" + r.Subresource : "")} {r.Code}: {r.Count}"))}");
            // Measured: stop it at once so it neither competes with the floor nor writes into its namespace.
            kcm.Kill();

            if (!floor) return 0;
            var floorTime = await FloorAsync(server, writes, deployments, replicas);
            Console.WriteLine($"  floor (same {writes.Sum(w => w.Count)} writes, raw client, qps 1000 burst 2000, {FloorConnections} connections): {floorTime.TotalSeconds:F2} s");
            Console.WriteLine($"  ratio controller manager / floor: {elapsed / floorTime:F2}x (target <= 1.3x)");

            return 0;
        }
        finally
        {
            await kcm.StopAsync();
            try
            {
                Directory.Delete(stateDir, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }

    private static Deployment NewDeployment(string name, int replicas) => new()
    {
        Metadata = new ObjectMeta { Name = name },
        Spec = new DeploymentSpec
        {
            Replicas = replicas,
            Selector = new LabelSelector { MatchLabels = new Dictionary<string, string> { ["app"] = name } },
            Template = new PodTemplateSpec
            {
                Metadata = new ObjectMeta { Labels = new Dictionary<string, string> { ["app"] = name } },
                Spec = new PodSpec { Containers = [new Container { Name = "nginx", Image = "nginx:1.25", Ports = [new ContainerPort { ContainerPortValue = 80 }] }] },
            },
        },
    };

    private static async Task ParallelForAsync(int count, int workers, Func<int, Task> body)
    {
        var next = -1;
        await Task.WhenAll(Enumerable.Range(0, workers).Select(_ => Task.Run(async () =>
        {
            int i;
            while ((i = Interlocked.Increment(ref next)) < count) await body(i);
        })));
    }

    // ---- the floor ----

    /// <summary>Replays the counted writes in a fresh namespace: creates first (so later updates have objects), then updates, patches, deletes.</summary>
    private static async Task<TimeSpan> FloorAsync(EmbeddedApiServer server, IReadOnlyList<RequestCount> writes, int deployments, int replicas)
    {
        var config = KubeconfigLoader.LoadFromFile(server.AdminKubeconfigPath) with { Qps = KcmQps, Burst = KcmBurst, UserAgent = "workload-floor/1.0" };
        var handler = KubeHttpHandlerFactory.Create(config);
        handler.MaxConnectionsPerServer = FloorConnections;
        using var client = new KubeApiClient(config, new KubeClientOptions { Handler = handler });
        var ns = "floor";
        await client.CreateAsync(new Namespace { Metadata = new ObjectMeta { Name = ns } });
        // Deployments exist before the clock starts: in the measured run the benchmark, not the controller manager, created them.
        var deploymentPool = new ConcurrentDictionary<int, Deployment>();
        await ParallelForAsync(deployments, FloorConnections, async i => deploymentPool[i] = await client.CreateAsync(NewDeployment($"web-{i}", replicas), ns));

        var replicaSets = new ConcurrentDictionary<int, ReplicaSet>();
        var pods = new ConcurrentDictionary<int, Pod>();
        var events = new ConcurrentDictionary<int, Event>();
        long Count(string verb, string resource, string sub = "") => writes.Where(w => w.Verb == verb && w.Resource == resource && w.Subresource == sub).Sum(w => w.Count);
        var replayed = new[] { ("POST", "replicasets", ""), ("POST", "pods", ""), ("POST", "events", ""), ("PUT", "replicasets", ""), ("PUT", "replicasets", "status"),
            ("PUT", "deployments", "status"), ("PATCH", "events", ""), ("PATCH", "pods", ""), ("PATCH", "replicasets", ""), ("DELETE", "pods", ""), ("DELETE", "replicasets", "") };
        var other = writes.Where(w => !replayed.Contains((w.Verb, w.Resource, w.Subresource))).Sum(w => w.Count);

        var stopwatch = Stopwatch.StartNew();
        var rsCount = (int)Count("POST", "replicasets");
        await ParallelForAsync(rsCount, FloorConnections, async i => replicaSets[i] = await client.CreateAsync(NewReplicaSet($"web-{i}-floor", replicas), ns));
        var podCount = (int)Count("POST", "pods");
        await ParallelForAsync(podCount, FloorConnections, async i =>
            pods[i] = await client.CreateAsync(NewPod(replicaSets.Count == 0 ? null : replicaSets[i % replicaSets.Count]), ns));
        var eventCount = (int)Count("POST", "events");
        await ParallelForAsync(eventCount, FloorConnections, async i => events[i] = await client.CreateAsync(NewEvent(i, ns), ns));
        // Other small writes (leases, service accounts, config maps...): replayed as ConfigMap creates of similar size.
        await ParallelForAsync((int)other, FloorConnections, i => client.CreateAsync(new ConfigMap
        {
            Metadata = new ObjectMeta { Name = $"other-{i}" },
            Data = new Dictionary<string, string> { ["k"] = new('x', 512) },
        }, ns));

        // Updates of one object are serialised on one worker (each PUT carries the resourceVersion of the last).
        await PerObjectAsync((int)Count("PUT", "replicasets"), replicaSets, async rs =>
        {
            rs.Spec!.MinReadySeconds = (rs.Spec.MinReadySeconds ?? 0) + 1;
            return await client.UpdateAsync(rs);
        });
        await PerObjectAsync((int)Count("PUT", "replicasets", "status"), replicaSets, async rs =>
        {
            rs.Status = new ReplicaSetStatus { Replicas = replicas, FullyLabeledReplicas = replicas, ObservedGeneration = rs.Metadata!.Generation };
            return await client.UpdateStatusAsync(rs);
        });
        await PerObjectAsync((int)Count("PUT", "deployments", "status"), deploymentPool, async d =>
        {
            d.Status = new DeploymentStatus { Replicas = replicas, UpdatedReplicas = replicas, ObservedGeneration = d.Metadata!.Generation };
            return await client.UpdateStatusAsync(d);
        });
        await PerObjectAsync((int)Count("PATCH", "events"), events, async e =>
            await client.PatchAsync<Event>(ns, e.Metadata!.Name!, PatchType.StrategicMerge, $"{{\"count\":{(e.Count ?? 1) + 1}}}"));
        await PerObjectAsync((int)Count("PATCH", "pods"), pods, async p =>
            await client.PatchAsync<Pod>(ns, p.Metadata!.Name!, PatchType.StrategicMerge, "{\"metadata\":{\"labels\":{\"floor\":\"patched\"}}}"));
        await PerObjectAsync((int)Count("PATCH", "replicasets"), replicaSets, async rs =>
            await client.PatchAsync<ReplicaSet>(ns, rs.Metadata!.Name!, PatchType.StrategicMerge, "{\"metadata\":{\"annotations\":{\"floor\":\"patched\"}}}"));
        var podDeletes = (int)Math.Min(Count("DELETE", "pods"), pods.Count);
        await ParallelForAsync(podDeletes, FloorConnections, i => client.DeleteAsync<Pod>(ns, pods[i].Metadata!.Name!));
        var rsDeletes = (int)Math.Min(Count("DELETE", "replicasets"), replicaSets.Count);
        await ParallelForAsync(rsDeletes, FloorConnections, i => client.DeleteAsync<ReplicaSet>(ns, replicaSets[i].Metadata!.Name!));
        return stopwatch.Elapsed;
    }

    /// <summary>Runs <paramref name="count"/> updates round-robin over the pool, each object's updates in order on one worker.</summary>
    private static async Task PerObjectAsync<T>(int count, ConcurrentDictionary<int, T> pool, Func<T, Task<T>> update)
    {
        if (count == 0 || pool.IsEmpty) return;
        var size = pool.Count;
        await Task.WhenAll(Enumerable.Range(0, FloorConnections).Select(worker => Task.Run(async () =>
        {
            for (var j = 0; j < count; j++)
            {
                var index = j % size;
                if (index % FloorConnections != worker) continue;
                pool[index] = await update(pool[index]);
            }
        })));
    }

    private static ReplicaSet NewReplicaSet(string name, int replicas) => new()
    {
        Metadata = new ObjectMeta { Name = name, Labels = new Dictionary<string, string> { ["app"] = name, ["pod-template-hash"] = "5d9c7b6f4" } },
        Spec = new ReplicaSetSpec
        {
            Replicas = replicas,
            Selector = new LabelSelector { MatchLabels = new Dictionary<string, string> { ["app"] = name, ["pod-template-hash"] = "5d9c7b6f4" } },
            Template = new PodTemplateSpec
            {
                Metadata = new ObjectMeta { Labels = new Dictionary<string, string> { ["app"] = name, ["pod-template-hash"] = "5d9c7b6f4" } },
                Spec = new PodSpec { Containers = [new Container { Name = "nginx", Image = "nginx:1.25", Ports = [new ContainerPort { ContainerPortValue = 80 }] }] },
            },
        },
    };

    private static Pod NewPod(ReplicaSet? owner)
    {
        var labels = owner?.Spec?.Template?.Metadata?.Labels ?? new Dictionary<string, string> { ["app"] = "floor" };
        return new Pod
        {
            Metadata = new ObjectMeta
            {
                GenerateName = (owner?.Metadata?.Name ?? "floor") + "-",
                Labels = new Dictionary<string, string>(labels),
                OwnerReferences = owner == null ? null :
                [
                    new OwnerReference { ApiVersion = "apps/v1", Kind = "ReplicaSet", Name = owner.Metadata!.Name!, Uid = owner.Metadata.Uid!, Controller = true, BlockOwnerDeletion = true },
                ],
            },
            Spec = new PodSpec { Containers = [new Container { Name = "nginx", Image = "nginx:1.25", Ports = [new ContainerPort { ContainerPortValue = 80 }] }] },
        };
    }

    private static Event NewEvent(int i, string ns)
    {
        var now = DateTimeOffset.UtcNow;
        return new Event
        {
            Metadata = new ObjectMeta { Name = $"web-{i}.{now.UtcTicks:x}", Namespace = ns },
            InvolvedObject = new ObjectReference { Kind = "ReplicaSet", Namespace = ns, Name = $"web-{i}", ApiVersion = "apps/v1", Uid = Guid.NewGuid().ToString() },
            Reason = "SuccessfulCreate",
            Message = $"Created pod: web-{i}-abcde",
            Type = "Normal",
            Source = new EventSource { Component = "replicaset-controller" },
            FirstTimestamp = now,
            LastTimestamp = now,
            Count = 1,
        };
    }

    // ---- the controller manager process ----

    /// <summary>Our build (through dotnet) unless <paramref name="binary"/> names an executable: the published file or upstream's.</summary>
    private static ManagedProcess StartControllerManager(string kubeconfig, string? binary = null, IEnumerable<string>? extraFlags = null, string? logPath = null)
    {
        ProcessStartInfo info;
        if (binary == null)
        {
            info = new ProcessStartInfo("dotnet") { RedirectStandardError = true, RedirectStandardOutput = true };
            info.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "kube-controller-manager.dll"));
        }
        else
        {
            info = new ProcessStartInfo(binary) { RedirectStandardError = true, RedirectStandardOutput = true };
        }
        foreach (var a in new[]
        {
            $"--kubeconfig={kubeconfig}", "--secure-port=0", "--leader-elect=false", "--controllers=*",
            $"--kube-api-qps={KcmQps}", $"--kube-api-burst={KcmBurst}", "--concurrent-deployment-syncs=10",
        }.Concat(extraFlags ?? []))
        {
            info.ArgumentList.Add(a);
        }
        return new ManagedProcess(info, logPath);
    }

    private sealed class ManagedProcess
    {
        /// <summary>The controller manager's log of the last run, for looking into a slow or failed run.</summary>
        public static readonly string LogPath = Path.Combine(Path.GetTempPath(), "kcm-workload-benchmark.log");

        private readonly Process _process;
        private readonly StreamWriter _log;
        private readonly TaskCompletionSource _started = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private double _cpuSeconds;
        private double _peakRssMiB;

        public ManagedProcess(ProcessStartInfo info, string? logPath = null)
        {
            _process = new Process { StartInfo = info };
            _log = new StreamWriter(logPath ?? LogPath) { AutoFlush = true };
            _process.ErrorDataReceived += (_, e) =>
            {
                if (e.Data is null) return;
                lock (_log) _log.WriteLine(e.Data);
                if (e.Data.Contains("Started \"replicaset\"", StringComparison.Ordinal)) _started.TrySetResult();
            };
            _process.Start();
            _process.BeginErrorReadLine();
            _process.BeginOutputReadLine();
        }

        public async Task WaitForStartedAsync(TimeSpan timeout)
        {
            await _started.Task.WaitAsync(timeout);
            await Task.Delay(1000); // informers list the (empty) cluster
        }

        public double CpuSeconds()
        {
            if (!_process.HasExited)
            {
                _process.Refresh();
                _cpuSeconds = _process.TotalProcessorTime.TotalSeconds;
            }
            return _cpuSeconds;
        }

        /// <summary>The current VmRSS split (anonymous memory vs. mapped files), to tell heap growth from code pages.</summary>
        public string RssBreakdown()
        {
            if (_process.HasExited) return "";
            var fields = new[] { "VmRSS:", "RssAnon:", "RssFile:", "RssShmem:" };
            return string.Join(", ", File.ReadLines($"/proc/{_process.Id}/status")
                .Where(l => fields.Any(f => l.StartsWith(f, StringComparison.Ordinal)))
                .Select(l => l.Split(':')[0] + " " + (long.Parse(l.Split(':')[1].Trim().Split(' ')[0], CultureInfo.InvariantCulture) / 1024) + " MiB"));
        }

        /// <summary>VmHWM: the kernel's record of the process's peak resident set.</summary>
        public double PeakRssMiB()
        {
            if (_process.HasExited) return _peakRssMiB;
            foreach (var line in File.ReadLines($"/proc/{_process.Id}/status"))
            {
                if (!line.StartsWith("VmHWM:", StringComparison.Ordinal)) continue;
                var kb = double.Parse(line["VmHWM:".Length..].Trim().Split(' ')[0], CultureInfo.InvariantCulture);
                _peakRssMiB = kb / 1024;
            }
            return _peakRssMiB;
        }

        public void Kill()
        {
            if (!_process.HasExited) _process.Kill();
        }

        public async Task StopAsync()
        {
            if (_process.HasExited) return;
            ProcessSignals.Send(_process.Id, ProcessSignals.SigTerm);
            try
            {
                await _process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30));
            }
            catch (TimeoutException)
            {
                Console.WriteLine($"  controller manager did not stop within 30 s of SIGTERM (log: {LogPath}); killing it");
                _process.Kill();
            }
        }
    }

    // ---- progress ----

    /// <summary>Watches Deployments and Pods in the namespace and says when every Deployment reports the replicas and all Pods exist.</summary>
    private sealed class Progress : IDisposable
    {
        private readonly CancellationTokenSource _stop = new();
        private readonly ConcurrentDictionary<string, int> _deploymentReplicas = new();
        private readonly ConcurrentDictionary<string, int> _pods = new();
        private readonly int _replicas;

        private Progress(int replicas) => _replicas = replicas;

        public static async Task<Progress> StartAsync(KubeApiClient client, string ns, int replicas)
        {
            var progress = new Progress(replicas);
            var deployments = await client.ListAsync<Deployment>(ns);
            var pods = await client.ListAsync<Pod>(ns);
            _ = Task.Run(() => progress.WatchAsync<Deployment>(client, ns, deployments.Metadata?.ResourceVersion, progress._deploymentReplicas,
                d => d.Metadata!.Name!, d => d.Status?.Replicas ?? 0));
            _ = Task.Run(() => progress.WatchAsync<Pod>(client, ns, pods.Metadata?.ResourceVersion, progress._pods, p => p.Metadata!.Uid!, _ => 0));
            return progress;
        }

        /// <summary>Keeps <paramref name="state"/> current; a watch that ends or fails is resumed from a fresh list.</summary>
        private async Task WatchAsync<T>(KubeApiClient client, string ns, string? resourceVersion, ConcurrentDictionary<string, int> state,
            Func<T, string> key, Func<T, int> value)
            where T : class, IListableResource
        {
            while (!_stop.IsCancellationRequested)
            {
                try
                {
                    if (resourceVersion == null)
                    {
                        var list = await client.ListAsync<T>(ns, cancellationToken: _stop.Token);
                        state.Clear();
                        foreach (var item in list.Items ?? []) state[key(item)] = value(item);
                        resourceVersion = list.Metadata?.ResourceVersion;
                    }
                    await foreach (var e in client.WatchAsync<T>(ns, new ListOptions { ResourceVersion = resourceVersion, TimeoutSeconds = 3600 }, _stop.Token))
                    {
                        if (e.Object is not { } obj) continue;
                        if (e.Type == WatchEventType.Deleted) state.TryRemove(key(obj), out _);
                        else if (e.Type is WatchEventType.Added or WatchEventType.Modified) state[key(obj)] = value(obj);
                    }
                }
                catch (OperationCanceledException) when (_stop.IsCancellationRequested)
                {
                    return;
                }
                catch (Exception e)
                {
                    Console.Error.WriteLine($"  progress: watch of {typeof(T).Name} failed ({e.GetType().Name}: {e.Message}); listing again");
                }
                resourceVersion = null;
            }
        }

        public async Task<bool> WaitAsync(int deployments, int pods, TimeSpan timeout)
        {
            var deadline = Stopwatch.StartNew();
            while (deadline.Elapsed < timeout)
            {
                if (_pods.Count >= pods && _deploymentReplicas.Count(d => d.Value == _replicas) >= deployments) return true;
                await Task.Delay(20);
            }
            return false;
        }

        public string Describe() => $"{_deploymentReplicas.Count(d => d.Value == _replicas)} deployments at {_replicas} replicas, {_pods.Count} pods";

        public void Dispose()
        {
            _stop.Cancel();
            _stop.Dispose();
        }
    }
}

using System.Collections.Concurrent;
using Kcm.Api;
using Kcm.Api.Batch.V1;
using Kcm.Api.Meta.V1;
using Kcm.Client.Errors;
using Kcm.Controllers.TtlAfterFinished;
using Kcm.Runtime.Controllers;
using Kcm.Runtime.Informers;
using Kcm.Runtime.Metrics;
using Kcm.Runtime.Queues;
using Kcm.Testing;
using Microsoft.Extensions.Logging.Abstractions;

namespace Kcm.Controllers.Tests.TtlAfterFinished;

public sealed class TtlAfterFinishedControllerTests : IDisposable
{
    private static readonly DateTimeOffset Finished = new(2026, 11, 22, 12, 0, 0, TimeSpan.Zero);
    private static readonly ObjectKey Key = new("default", "pi");

    private readonly FakeTimeProvider _time = new(Finished);
    private readonly ThreadSafeStore<Job> _jobs = new(ObjectKey.Of);
    private readonly FakeTtlJobClient _client = new();
    private readonly RateLimitingQueue<ObjectKey> _queue;
    private readonly MetricsRegistry _metrics = new();
    private readonly TtlAfterFinishedController _controller;

    public TtlAfterFinishedControllerTests()
    {
        _queue = RateLimitingQueue<ObjectKey>.WithDefaultControllerRateLimiter(new WorkQueueOptions { Name = "ttl_jobs_to_delete", TimeProvider = _time });
        _controller = new TtlAfterFinishedController(_jobs, _client, _queue, NullLogger.Instance, _time, _metrics);
    }

    public void Dispose() => _queue.Dispose();

    private static Job FinishedJob(int? ttl, string type = "Complete", string uid = "uid-1") => new()
    {
        Metadata = new ObjectMeta { Name = "pi", Namespace = "default", Uid = uid },
        Spec = new JobSpec { TtlSecondsAfterFinished = ttl },
        Status = new JobStatus { Conditions = [new JobCondition { Type = type, Status = "True", LastTransitionTime = Finished }] },
    };

    [Fact]
    public async Task SyncAsync_TtlNotYetExpired_LooksAgainWhenItExpires()
    {
        _jobs.Upsert(FinishedJob(ttl: 100));
        _time.Advance(TimeSpan.FromSeconds(40));

        var result = await _controller.SyncAsync(Key, CancellationToken.None);

        Assert.Equal(TimeSpan.FromSeconds(60), result.RequeueAfter);
        Assert.Empty(_client.Deleted);
    }

    [Fact]
    public async Task SyncAsync_Expired_DeletesForegroundWithUidPrecondition()
    {
        var job = FinishedJob(ttl: 10, type: "Failed");
        _jobs.Upsert(job);
        _client.Fresh = job;
        _time.Advance(TimeSpan.FromSeconds(12));

        var result = await _controller.SyncAsync(Key, CancellationToken.None);

        Assert.Equal(ReconcileAction.Done, result.Action);
        var (name, options) = Assert.Single(_client.Deleted);
        Assert.Equal(("pi", "Foreground", "uid-1"), (name, options.PropagationPolicy, options.Preconditions!.Uid));
        Assert.Equal(1, _controller.DeletionDuration.Count());
        Assert.Contains("ttl_after_finished_controller_job_deletion_duration_seconds_bucket{le=\"3.2\"} 1", _metrics.Render());
    }

    [Fact]
    public void Metrics_BeforeAnyDeletion_ExportsTheEmptyHistogram()
    {
        var text = _metrics.Render();

        Assert.Contains("# HELP ttl_after_finished_controller_job_deletion_duration_seconds [ALPHA] The time it took to delete the job since it became eligible for deletion", text);
        Assert.Contains("ttl_after_finished_controller_job_deletion_duration_seconds_count 0", text);
    }

    [Fact]
    public async Task SyncAsync_FreshCopyHasLongerTtl_NotDeleted()
    {
        _jobs.Upsert(FinishedJob(ttl: 10));
        _client.Fresh = FinishedJob(ttl: 300);
        _time.Advance(TimeSpan.FromSeconds(20));

        var result = await _controller.SyncAsync(Key, CancellationToken.None);

        Assert.Empty(_client.Deleted);
        Assert.Equal(TimeSpan.FromSeconds(280), result.RequeueAfter);
    }

    [Fact]
    public async Task SyncAsync_FreshCopyGone_Done()
    {
        _jobs.Upsert(FinishedJob(ttl: 0));
        _client.Fresh = null;

        var result = await _controller.SyncAsync(Key, CancellationToken.None);

        Assert.Equal(ReconcileAction.Done, result.Action);
        Assert.Empty(_client.Deleted);
    }

    [Theory]
    [InlineData(null, "Complete", "True", false)]
    [InlineData(5, "Complete", "False", false)]
    [InlineData(5, "Suspended", "True", false)]
    [InlineData(5, "Failed", "True", true)]
    public void OnJob_OnlyFinishedJobsWithTtl_AreQueued(int? ttl, string type, string status, bool queued)
    {
        var job = FinishedJob(ttl, type);
        job.Status!.Conditions![0].Status = status;

        _controller.OnJob(job);

        Assert.Equal(queued ? 1 : 0, _queue.Count);
    }

    [Fact]
    public async Task SyncAsync_FinishedWithoutTransitionTime_Throws()
    {
        var job = FinishedJob(ttl: 1);
        job.Status!.Conditions![0].LastTransitionTime = null;
        _jobs.Upsert(job);

        await Assert.ThrowsAsync<JobFinishTimeUnknownException>(() => _controller.SyncAsync(Key, CancellationToken.None));
    }

    private sealed class FakeTtlJobClient : ITtlJobClient
    {
        public Job? Fresh { get; set; }

        public ConcurrentQueue<(string Name, DeleteOptions Options)> Deleted { get; } = new();

        public Task<Job> GetAsync(string @namespace, string name, CancellationToken cancellationToken)
            => Fresh is { } job ? Task.FromResult(job) : throw new NotFoundException(404, new Status { Reason = "NotFound" });

        public Task DeleteAsync(string @namespace, string name, DeleteOptions options, CancellationToken cancellationToken)
        {
            Deleted.Enqueue((name, options));
            return Task.CompletedTask;
        }
    }
}

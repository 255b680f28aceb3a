using Kcm.Api.Core.V1;
using Kcm.Controllers.Jobs;
using static Kcm.Controllers.Tests.Jobs.JobHarness;

namespace Kcm.Controllers.Tests.Jobs;

public sealed class IndexedJobTests : IDisposable
{
    private readonly JobHarness _h = new();

    public void Dispose() => _h.Dispose();

    [Fact]
    public async Task SyncAsync_IndexedJob_CreatesLowestPendingIndexesWithHostnameAndEnv()
    {
        _h.Add(NewJob(completions: 3, parallelism: 2, configure: s => s.CompletionMode = "Indexed"));

        await _h.SyncAsync();

        var created = _h.PodControl.Created.OrderBy(c => c.GenerateName).ToList();
        Assert.Equal(["pi-0-", "pi-1-"], created.Select(c => c.GenerateName));
        for (var i = 0; i < 2; i++)
        {
            var pod = created[i].Pod;
            Assert.Equal(i.ToString(), pod.Metadata!.Annotations!["batch.kubernetes.io/job-completion-index"]);
            Assert.Equal($"pi-{i}", pod.Spec!.Hostname);
            var env = Assert.Single(pod.Spec.Containers![0].Env!);
            Assert.Equal(("JOB_COMPLETION_INDEX", "metadata.annotations['batch.kubernetes.io/job-completion-index']"), (env.Name, env.ValueFrom!.FieldRef!.FieldPath));
        }

        _h.Finish(_h.PodsOf().Single(p => p.Metadata!.Annotations![JobConditions.CompletionIndexAnnotation] == "1"), "Succeeded");
        await _h.SyncAsync();

        Assert.Equal("1", _h.Job().Status!.CompletedIndexes);
        Assert.Equal(1, _h.Job().Status!.Succeeded);
        Assert.Equal("pi-2-", _h.PodControl.Created.Last().GenerateName);
    }

    [Fact]
    public async Task SyncAsync_AllIndexesSucceeded_Completes()
    {
        _h.Add(NewJob(completions: 3, parallelism: 3, configure: s => s.CompletionMode = "Indexed"));
        await _h.SyncAsync();
        foreach (var pod in _h.PodsOf()) _h.Finish(pod, "Succeeded");

        await _h.SyncAsync();

        var status = _h.Job().Status!;
        Assert.Equal(("0-2", 3), (status.CompletedIndexes, status.Succeeded));
        Assert.Equal("Complete", Assert.Single(status.Conditions!).Type);
        Assert.Contains("job_controller_job_pods_finished_total{completion_mode=\"Indexed\",result=\"succeeded\"} 3", _h.Metrics.Render());
    }

    [Fact]
    public async Task SyncAsync_DuplicateIndex_DeletesTheExtraPod()
    {
        _h.Add(NewJob(completions: 2, parallelism: 2, configure: s => s.CompletionMode = "Indexed"));
        await _h.SyncAsync();
        var zero = _h.PodsOf().Single(p => p.Metadata!.Annotations![JobConditions.CompletionIndexAnnotation] == "0");
        var duplicate = Kcm.Controllers.Common.KubeObjects.Clone(zero);
        duplicate.Metadata!.Name = "pi-0-dup";
        duplicate.Metadata.Uid = "dup";
        duplicate.Metadata.CreationTimestamp = Start.AddSeconds(5);
        _h.Pods.Upsert(duplicate);

        await _h.SyncAsync();

        Assert.Equal(["pi-0-dup"], _h.PodControl.Deleted);
    }

    [Theory]
    [InlineData("", 5, "", 0)]
    [InlineData("0-2,4", 5, "0-2,4", 4)]
    [InlineData("0,1,2", 5, "0-2", 3)]
    [InlineData("3-9", 6, "3-5", 3)]
    [InlineData("0,x,2", 5, "0,2", 2)]
    [InlineData("1,2-3,5", 5, "1-3", 3)]
    public void Parse_CompletedIndexes_NormalizesAndCapsAtCompletions(string text, int completions, string expected, int total)
    {
        var parsed = CompletedIndexes.Parse(text, completions);

        Assert.Equal((expected, total), (parsed.ToString(), parsed.Total));
    }

    [Fact]
    public void With_NewIndexes_MergesAdjacentIntervals()
    {
        var merged = CompletedIndexes.Parse("0,3-4,8", 10).With([1, 2, 6, 9]);

        Assert.Equal("0-4,6,8,9", merged.ToString());
        Assert.True(merged.Has(6));
        Assert.False(merged.Has(7));
    }

    [Fact]
    public void FirstPending_SkipsSucceededAndActiveIndexes()
    {
        var active = new[] { PodWithIndex(1), PodWithIndex(4) };

        var pending = CompletedIndexes.FirstPending(active, CompletedIndexes.Parse("0,2", 10), 3, 10);

        Assert.Equal([3, 5, 6], pending);
    }

    [Theory]
    [InlineData("pi", 3, "pi-3-")]
    [InlineData("a-very-long-job-name-that-goes-on-and-on-and-on-until-it-is-too-long", 12, "a-very-long-job-name-that-goes-on-and-on-and-on-until--12-")]
    public void GenerateNameWithIndex_LongName_IsCut(string job, int index, string expected)
    {
        Assert.Equal(expected, CompletedIndexes.GenerateNameWithIndex(job, index));
    }

    private static Pod PodWithIndex(int index) => new()
    {
        Metadata = new Kcm.Api.Meta.V1.ObjectMeta { Annotations = new() { [JobConditions.CompletionIndexAnnotation] = index.ToString() } },
    };
}

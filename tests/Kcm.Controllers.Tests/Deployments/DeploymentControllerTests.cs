using Kcm.Api.Apps.V1;
using Kcm.Api.Core.V1;
using Kcm.Api.Meta.V1;
using Kcm.Controllers.Deployments;
using Kcm.Testing;
using static Kcm.Controllers.Tests.Deployments.DeploymentHarness;

namespace Kcm.Controllers.Tests.Deployments;

public sealed class DeploymentControllerTests(EmbeddedServerFixture server) : IClassFixture<EmbeddedServerFixture>
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(15);

    [Fact(Timeout = 60_000)]
    public async Task Sync_NewDeployment_CreatesHashNamedReplicaSetWithRevision1()
    {
        await using var h = await StartAsync(server, run: true);
        var d = await h.CreateAsync(NewDeployment("web", 3, "nginx:1"));

        var rs = Assert.Single(await Eventually.GetAsync("the new ReplicaSet", async () => (await h.ReplicaSetsAsync()) is { Count: > 0 } l ? l : null, Wait));
        var hash = rs.Metadata!.Labels![DeploymentNames.DefaultUniqueLabelKey];
        Assert.Equal($"web-{hash}", rs.Metadata.Name);
        Assert.All(hash, c => Assert.Contains(c, PodTemplates.SafeAlphabet));
        Assert.Equal(3, rs.Spec!.Replicas);
        Assert.Equal(hash, rs.Spec.Selector!.MatchLabels![DeploymentNames.DefaultUniqueLabelKey]);
        Assert.Equal("web", rs.Spec.Selector.MatchLabels["app"]);
        Assert.Equal(hash, rs.Spec.Template!.Metadata!.Labels![DeploymentNames.DefaultUniqueLabelKey]);
        Assert.Equal("1", rs.Metadata.Annotations![DeploymentNames.RevisionAnnotation]);
        Assert.Equal("3", rs.Metadata.Annotations[DeploymentNames.DesiredReplicasAnnotation]);
        Assert.Equal("4", rs.Metadata.Annotations[DeploymentNames.MaxReplicasAnnotation]); // 3 + 25% rounded up
        var owner = Assert.Single(rs.Metadata.OwnerReferences!);
        Assert.Equal(("Deployment", "web", d.Metadata!.Uid, true, true), (owner.Kind, owner.Name, owner.Uid, owner.Controller, owner.BlockOwnerDeletion));

        var status = await Eventually.GetAsync("the deployment status", async () =>
        {
            var current = await h.GetAsync("web");
            return current.Metadata?.Annotations?.GetValueOrDefault(DeploymentNames.RevisionAnnotation) == "1"
                   && DeploymentUtil.GetCondition(current.Status, "Progressing")?.Reason == DeploymentNames.NewReplicaSetReason
                   && current.Status?.ObservedGeneration == current.Metadata?.Generation ? current.Status : null;
        }, Wait);
        Assert.Equal(3, status.UnavailableReplicas ?? 0); // the spec counts, no pods are available yet
        Assert.Equal(DeploymentNames.MinimumReplicasUnavailable, DeploymentUtil.GetCondition(status, "Available")?.Reason);

        await Eventually.TrueAsync("the ScalingReplicaSet event", async () => (await h.EventsAsync()).Any(e =>
            e.Reason == "ScalingReplicaSet" && e.Message == $"Scaled up replica set {rs.Metadata.Name} to 3" && e.Source?.Component == "deployment-controller"), Wait);

        // The ReplicaSet controller's part: all pods available; the deployment then reports itself complete.
        await h.SetStatusAsync(rs.Metadata.Name!, 3, 3);
        await Eventually.TrueAsync("the rollout to complete", async () =>
        {
            var current = await h.GetAsync("web");
            return current.Status is { AvailableReplicas: 3, UpdatedReplicas: 3, ReadyReplicas: 3, Replicas: 3 }
                   && DeploymentUtil.GetCondition(current.Status, "Progressing")?.Reason == DeploymentNames.NewRSAvailableReason
                   && DeploymentUtil.GetCondition(current.Status, "Available")?.Status == "True";
        }, Wait);
    }

    [Fact(Timeout = 60_000)]
    public async Task Sync_ReplicasChanged_ScalesReplicaSetUpAndDown()
    {
        await using var h = await StartAsync(server, run: true);
        await h.CreateAsync(NewDeployment("api", 3, "app:1"));
        var rs = await Eventually.GetAsync("the ReplicaSet", async () => (await h.ReplicaSetsAsync()).FirstOrDefault(), Wait);
        await h.SetStatusAsync(rs.Metadata!.Name!, 3, 3);

        await h.UpdateAsync("api", d => d.Spec!.Replicas = 5);
        await Eventually.TrueAsync("scale up to 5", async () => (await h.ReplicaSetsAsync()) is [{ Spec.Replicas: 5 } one]
            && one.Metadata!.Annotations![DeploymentNames.DesiredReplicasAnnotation] == "5", Wait);

        await h.UpdateAsync("api", d => d.Spec!.Replicas = 1);
        await Eventually.TrueAsync("scale down to 1", async () => (await h.ReplicaSetsAsync()) is [{ Spec.Replicas: 1 }], Wait);
        await Eventually.TrueAsync("the scale-down event", async () => (await h.EventsAsync()).Any(e =>
            e.Reason == "ScalingReplicaSet" && e.Message == $"Scaled down replica set {rs.Metadata.Name} to 1 from 5"), Wait);
    }

    [Fact(Timeout = 60_000)]
    public async Task Sync_RollingUpdate_RespectsMaxSurgeAndMaxUnavailableAtEveryStep()
    {
        await using var h = await StartAsync(server, run: false);
        await h.CreateAsync(NewDeployment("roll", 4, "v1", maxSurge: 1, maxUnavailable: 1));
        await h.SyncAsync("roll");
        var first = Assert.Single(await h.ReplicaSetsAsync());
        Assert.Equal(4, SpecReplicas(first));
        await h.MakeAllAvailableAsync();
        await h.SyncAsync("roll");

        await h.UpdateAsync("roll", d => d.Spec!.Template!.Spec!.Containers![0].Image = "v2");
        var steps = new List<(int Old, int New)>();
        for (var i = 0; i < 20; i++)
        {
            var before = await h.ReplicaSetsAsync();
            await h.SyncAsync("roll");
            var after = await h.ReplicaSetsAsync();
            var oldRS = after.Single(rs => ImageOf(rs) == "v1");
            var newRS = after.Single(rs => ImageOf(rs) == "v2");
            steps.Add((SpecReplicas(oldRS), SpecReplicas(newRS)));

            // Never more than replicas + maxSurge pods asked for ...
            Assert.True(after.Sum(SpecReplicas) <= 4 + 1, $"surge exceeded at step {i}: {string.Join(",", steps)}");
            // ... and never fewer than replicas - maxUnavailable of the pods that were available still wanted.
            var stillAvailable = after.Sum(rs => Math.Min(SpecReplicas(rs), before.FirstOrDefault(b => b.Metadata!.Uid == rs.Metadata!.Uid)?.Status?.AvailableReplicas ?? 0));
            Assert.True(stillAvailable >= 4 - 1, $"availability dropped to {stillAvailable} at step {i}: {string.Join(",", steps)}");

            if (SpecReplicas(oldRS) == 0 && SpecReplicas(newRS) == 4)
            {
                break;
            }
            await h.MakeAllAvailableAsync();
        }

        // Exactly upstream's sequence for 4 replicas, surge 1, unavailable 1, pods ready at once.
        Assert.Equal([(3, 1), (3, 2), (1, 2), (1, 4), (0, 4)], steps);
        var final = await h.ReplicaSetsAsync();
        Assert.Equal("2", final.Single(rs => ImageOf(rs) == "v2").Metadata!.Annotations![DeploymentNames.RevisionAnnotation]);
        Assert.Equal("1", final.Single(rs => ImageOf(rs) == "v1").Metadata!.Annotations![DeploymentNames.RevisionAnnotation]);

        await h.MakeAllAvailableAsync();
        await h.SyncAsync("roll");
        var d = await h.GetAsync("roll");
        Assert.Equal("2", d.Metadata!.Annotations![DeploymentNames.RevisionAnnotation]);
        Assert.Equal((4, 4, 4, 0), (d.Status!.Replicas, d.Status.UpdatedReplicas, d.Status.AvailableReplicas, d.Status.UnavailableReplicas ?? 0));
        Assert.Equal(DeploymentNames.NewRSAvailableReason, DeploymentUtil.GetCondition(d.Status, "Progressing")?.Reason);
    }

    [Fact(Timeout = 60_000)]
    public async Task Sync_ScaledDuringRollout_ScalesReplicaSetsProportionally()
    {
        await using var h = await StartAsync(server, run: false);
        await h.CreateAsync(NewDeployment("prop", 10, "v1", maxSurge: 3, maxUnavailable: 2));
        await h.SyncAsync("prop");
        await h.MakeAllAvailableAsync();
        await h.SyncAsync("prop");
        await h.UpdateAsync("prop", d => d.Spec!.Template!.Spec!.Containers![0].Image = "v2");
        await h.SyncAsync("prop");
        var mid = await h.ReplicaSetsAsync();
        Assert.Equal((8, 3), (SpecReplicas(mid.Single(rs => ImageOf(rs) == "v1")), SpecReplicas(mid.Single(rs => ImageOf(rs) == "v2"))));

        await h.UpdateAsync("prop", d => d.Spec!.Replicas = 20);
        await h.SyncAsync("prop");

        // 12 more within 20 + surge 3, split by each ReplicaSet's share of its max-replicas (13); leftover to the largest.
        var after = await h.ReplicaSetsAsync();
        Assert.Equal((18, 5), (SpecReplicas(after.Single(rs => ImageOf(rs) == "v1")), SpecReplicas(after.Single(rs => ImageOf(rs) == "v2"))));
        Assert.All(after, rs => Assert.Equal(("20", "23"), (rs.Metadata!.Annotations![DeploymentNames.DesiredReplicasAnnotation], rs.Metadata.Annotations[DeploymentNames.MaxReplicasAnnotation])));
    }

    [Fact(Timeout = 60_000)]
    public async Task Sync_Recreate_ScalesOldToZeroAndWaitsForOldPodsBeforeCreatingNew()
    {
        await using var h = await StartAsync(server, run: false);
        await h.CreateAsync(NewDeployment("rec", 2, "v1", strategy: "Recreate"));
        await h.SyncAsync("rec");
        var old = Assert.Single(await h.ReplicaSetsAsync());
        await h.SetStatusAsync(old.Metadata!.Name!, 2, 2);
        // One of the old pods, as the ReplicaSet controller would have made it.
        var pod = await h.Client.CreateAsync(new Pod
        {
            Metadata = new ObjectMeta
            {
                Name = "rec-old-pod",
                Labels = new(old.Spec!.Template!.Metadata!.Labels!),
                OwnerReferences = [new OwnerReference { ApiVersion = "apps/v1", Kind = "ReplicaSet", Name = old.Metadata.Name, Uid = old.Metadata.Uid, Controller = true }],
            },
            Spec = new PodSpec { Containers = [new Container { Name = "main", Image = "v1" }] },
        }, h.Namespace);

        await h.UpdateAsync("rec", d => d.Spec!.Template!.Spec!.Containers![0].Image = "v2");
        await h.SyncAsync("rec");
        var afterScaleDown = Assert.Single(await h.ReplicaSetsAsync());
        Assert.Equal(0, SpecReplicas(afterScaleDown));

        await h.SyncAsync("rec"); // old ReplicaSet still reports 2 pods
        Assert.Single(await h.ReplicaSetsAsync());

        await h.SetStatusAsync(old.Metadata.Name!, 0, 0);
        await h.SyncAsync("rec"); // status says 0, but a pod of it is still running
        Assert.Single(await h.ReplicaSetsAsync());

        pod.Status = new PodStatus { Phase = "Succeeded" };
        await h.Client.UpdateStatusAsync(pod);
        await h.SyncAsync("rec");
        var all = await h.ReplicaSetsAsync();
        Assert.Equal(2, all.Count);
        var newRS = all.Single(rs => ImageOf(rs) == "v2");
        Assert.Equal(2, SpecReplicas(newRS));
        Assert.Equal("2", newRS.Metadata!.Annotations![DeploymentNames.RevisionAnnotation]);
    }

    [Fact(Timeout = 60_000)]
    public async Task Sync_OldTemplateReapplied_ReusesItsReplicaSetWithNextRevision()
    {
        await using var h = await StartAsync(server, run: false);
        await RollOutAsync(h, "back", "v1", "v2");
        Assert.Equal(2, (await h.ReplicaSetsAsync()).Count);

        // kubectl rollout undo today: the old template is written back into the Deployment.
        await h.UpdateAsync("back", d => d.Spec!.Template!.Spec!.Containers![0].Image = "v1");
        await h.SyncAsync("back");

        var all = await h.ReplicaSetsAsync();
        Assert.Equal(2, all.Count); // no third ReplicaSet
        var v1 = all.Single(rs => ImageOf(rs) == "v1");
        Assert.Equal("3", v1.Metadata!.Annotations![DeploymentNames.RevisionAnnotation]);
        Assert.Equal("1", v1.Metadata.Annotations[DeploymentNames.RevisionHistoryAnnotation]);
        await StepUntilAsync(h, "back", rss => SpecReplicas(rss.Single(rs => ImageOf(rs) == "v1")) == 2 && SpecReplicas(rss.Single(rs => ImageOf(rs) == "v2")) == 0);
        await h.SyncAsync("back");
        Assert.Equal("3", (await h.GetAsync("back")).Metadata!.Annotations![DeploymentNames.RevisionAnnotation]);
    }

    [Fact(Timeout = 60_000)]
    public async Task Sync_RollbackAnnotation_RestoresTemplateOfRequestedRevision()
    {
        await using var h = await StartAsync(server, run: false);
        await RollOutAsync(h, "undo", "v1", "v2");

        await h.UpdateAsync("undo", d => d.Metadata!.Annotations![DeploymentNames.DeprecatedRollbackToAnnotation] = "1");
        await h.SyncAsync("undo");

        var d = await h.GetAsync("undo");
        Assert.Equal("v1", d.Spec!.Template!.Spec!.Containers![0].Image);
        Assert.False(d.Metadata!.Annotations!.ContainsKey(DeploymentNames.DeprecatedRollbackToAnnotation));
        Assert.False(d.Spec.Template.Metadata!.Labels!.ContainsKey(DeploymentNames.DefaultUniqueLabelKey));
        await Eventually.TrueAsync("the DeploymentRollback event", async () => (await h.EventsAsync()).Any(e =>
            e.Reason == DeploymentNames.RollbackDone && e.Message == "Rolled back deployment \"undo\" to revision 1"), Wait);

        await h.UpdateAsync("undo", x => x.Metadata!.Annotations![DeploymentNames.DeprecatedRollbackToAnnotation] = "7");
        await h.SyncAsync("undo");
        Assert.False((await h.GetAsync("undo")).Metadata!.Annotations!.ContainsKey(DeploymentNames.DeprecatedRollbackToAnnotation));
        await Eventually.TrueAsync("the revision-not-found event", async () => (await h.EventsAsync()).Any(e =>
            e.Reason == DeploymentNames.RollbackRevisionNotFound && e.Type == "Warning"), Wait);
    }

    [Fact(Timeout = 60_000)]
    public async Task Sync_Paused_ScalesButDoesNotRollOut()
    {
        await using var h = await StartAsync(server, run: false);
        await h.CreateAsync(NewDeployment("pause", 2, "v1"));
        await h.SyncAsync("pause");
        await h.MakeAllAvailableAsync();
        await h.SyncAsync("pause");

        await h.UpdateAsync("pause", d =>
        {
            d.Spec!.Paused = true;
            d.Spec.Template!.Spec!.Containers![0].Image = "v2";
            d.Spec.Replicas = 3;
        });
        await h.SyncAsync("pause");

        var rs = Assert.Single(await h.ReplicaSetsAsync());
        Assert.Equal(("v1", 3), (ImageOf(rs), SpecReplicas(rs)));
        var paused = await h.GetAsync("pause");
        var progressing = DeploymentUtil.GetCondition(paused.Status, "Progressing");
        Assert.Equal(("Unknown", DeploymentNames.PausedDeployReason, "Deployment is paused"), (progressing?.Status, progressing?.Reason, progressing?.Message));
        Assert.Equal(paused.Metadata!.Generation, paused.Status!.ObservedGeneration);

        await h.UpdateAsync("pause", d => d.Spec!.Paused = false);
        await h.SyncAsync("pause");
        var all = await h.ReplicaSetsAsync();
        Assert.Equal(2, all.Count);
        Assert.Contains(all, r => ImageOf(r) == "v2");
        Assert.Equal(DeploymentNames.NewReplicaSetReason, DeploymentUtil.GetCondition((await h.GetAsync("pause")).Status, "Progressing")?.Reason);
    }

    [Fact(Timeout = 60_000)]
    public async Task Sync_PausedThenResumed_SetsPausedThenResumedProgressingCondition()
    {
        await using var h = await StartAsync(server, run: false);
        await h.CreateAsync(NewDeployment("resume", 2, "v1"));
        await h.SyncAsync("resume");
        var rs = Assert.Single(await h.ReplicaSetsAsync());
        await h.SetStatusAsync(rs.Metadata!.Name!, 2, 1); // one pod still starting: the rollout is not complete
        await h.SyncAsync("resume");

        await h.UpdateAsync("resume", d => d.Spec!.Paused = true);
        await h.SyncAsync("resume");
        Assert.Equal(DeploymentNames.PausedDeployReason, DeploymentUtil.GetCondition((await h.GetAsync("resume")).Status, "Progressing")?.Reason);

        await h.UpdateAsync("resume", d => d.Spec!.Paused = false);
        await h.SyncAsync("resume");
        var progressing = DeploymentUtil.GetCondition((await h.GetAsync("resume")).Status, "Progressing");
        Assert.Equal(("Unknown", DeploymentNames.ResumedDeployReason, "Deployment is resumed"), (progressing?.Status, progressing?.Reason, progressing?.Message));
        Assert.Single(await h.ReplicaSetsAsync());
    }

    [Fact(Timeout = 60_000)]
    public async Task Sync_RevisionHistoryLimit_DeletesOldestScaledDownReplicaSets()
    {
        await using var h = await StartAsync(server, run: false);
        var d = NewDeployment("hist", 1, "v1");
        d.Spec!.RevisionHistoryLimit = 1;
        await h.CreateAsync(d);
        await h.SyncAsync("hist");
        foreach (var image in new[] { "v2", "v3" })
        {
            await h.MakeAllAvailableAsync();
            await h.SyncAsync("hist");
            await h.UpdateAsync("hist", x => x.Spec!.Template!.Spec!.Containers![0].Image = image);
            await StepUntilAsync(h, "hist", rss => rss.Where(rs => ImageOf(rs) != image).All(rs => SpecReplicas(rs) == 0) && SpecReplicas(rss.Single(rs => ImageOf(rs) == image)) == 1);
        }
        await h.MakeAllAvailableAsync();
        await h.SyncAsync("hist"); // records the completed rollout
        Assert.Equal(3, (await h.ReplicaSetsAsync()).Count);
        await h.SyncAsync("hist"); // a complete rollout trims the history

        var remaining = await h.ReplicaSetsAsync();
        Assert.Equal(["v2", "v3"], remaining.Select(ImageOf).Order());
    }

    [Fact(Timeout = 60_000)]
    public async Task Sync_OrphanWithEqualTemplateAndOtherHash_IsAdoptedNotDuplicated()
    {
        await using var h = await StartAsync(server, run: true);
        // As another controller manager (upstream's own hash function) would have left it.
        var template = Template("adopt", "v1");
        template.Metadata!.Labels![DeploymentNames.DefaultUniqueLabelKey] = "5d4f8c7b9";
        await h.Client.CreateAsync(new ReplicaSet
        {
            Metadata = new ObjectMeta
            {
                Name = "adopt-5d4f8c7b9",
                Labels = new(template.Metadata.Labels),
                Annotations = new() { [DeploymentNames.RevisionAnnotation] = "4" },
            },
            Spec = new ReplicaSetSpec
            {
                Replicas = 2,
                Selector = new LabelSelector { MatchLabels = new(template.Metadata.Labels) },
                Template = template,
            },
        }, h.Namespace);
        await h.WaitForCachesAsync(); // the controller must know the orphan before it sees the Deployment

        var d = await h.CreateAsync(NewDeployment("adopt", 2, "v1"));

        var adopted = await Eventually.GetAsync("the adoption", async () =>
            (await h.ReplicaSetsAsync()).SingleOrDefault(rs => rs.Metadata?.OwnerReferences?.Any(o => o.Uid == d.Metadata!.Uid && o.Controller == true) == true), Wait);
        Assert.Equal("adopt-5d4f8c7b9", adopted.Metadata!.Name);
        await Eventually.TrueAsync("the deployment to take the adopted revision", async () =>
            (await h.GetAsync("adopt")).Metadata?.Annotations?.GetValueOrDefault(DeploymentNames.RevisionAnnotation) == "4", Wait);
        var found = DeploymentUtil.GetCondition((await h.GetAsync("adopt")).Status, "Progressing");
        Assert.Equal(DeploymentNames.FoundNewRSReason, found?.Reason);
        Assert.Equal("Found new replica set \"adopt-5d4f8c7b9\"", found?.Message);
        var only = Assert.Single(await h.ReplicaSetsAsync());
        Assert.Equal(2, SpecReplicas(only));
    }

    [Fact(Timeout = 60_000)]
    public async Task Sync_NameTakenByForeignReplicaSet_BumpsCollisionCountAndUsesAnotherHash()
    {
        await using var h = await StartAsync(server, run: false);
        var paused = NewDeployment("clash", 1, "v1");
        paused.Spec!.Paused = true; // nothing is created while paused: we take the name first
        var d = await h.CreateAsync(paused);
        var hash = PodTemplates.ComputeHash(d.Spec!.Template!, null);
        await h.Client.CreateAsync(new ReplicaSet
        {
            Metadata = new ObjectMeta { Name = $"clash-{hash}", Labels = new() { ["other"] = "x" } },
            Spec = new ReplicaSetSpec
            {
                Replicas = 0,
                Selector = new LabelSelector { MatchLabels = new() { ["other"] = "x" } },
                Template = new PodTemplateSpec
                {
                    Metadata = new ObjectMeta { Labels = new() { ["other"] = "x" } },
                    Spec = new PodSpec { Containers = [new Container { Name = "main", Image = "other" }] },
                },
            },
        }, h.Namespace);
        await h.UpdateAsync("clash", x => x.Spec!.Paused = false);

        await Assert.ThrowsAsync<Kcm.Client.Errors.AlreadyExistsException>(() => h.SyncAsync("clash"));
        Assert.Equal(1, (await h.GetAsync("clash")).Status?.CollisionCount);

        await h.SyncAsync("clash");
        var ours = Assert.Single(await h.ReplicaSetsAsync(), rs => rs.Metadata!.Name != $"clash-{hash}");
        Assert.Equal($"clash-{PodTemplates.ComputeHash(d.Spec.Template!, 1)}", ours.Metadata!.Name);
        Assert.Equal(1, SpecReplicas(ours));
    }

    [Fact(Timeout = 60_000)]
    public async Task Sync_OwnedReplicaSetNoLongerMatching_IsReleasedAndReplaced()
    {
        await using var h = await StartAsync(server, run: true);
        var d = await h.CreateAsync(NewDeployment("rel", 1, "v1"));
        var rs = await Eventually.GetAsync("the ReplicaSet", async () => (await h.ReplicaSetsAsync()).FirstOrDefault(), Wait);

        rs.Metadata!.Labels!["app"] = "elsewhere";
        await h.Client.UpdateAsync(rs);

        var released = await Eventually.GetAsync("the release", async () =>
            await h.Client.GetAsync<ReplicaSet>(h.Namespace, rs.Metadata.Name!) is { Metadata.OwnerReferences: null or [] } r ? r : null, Wait);
        Assert.Equal("elsewhere", released.Metadata!.Labels!["app"]);
        // Its name is taken by a ReplicaSet that is no longer ours: a collision, so the replacement gets another hash.
        var replacement = await Eventually.GetAsync("the replacement", async () =>
            (await h.ReplicaSetsAsync()).FirstOrDefault(x => x.Metadata!.OwnerReferences?.Any(o => o.Uid == d.Metadata!.Uid) == true), Wait);
        Assert.NotEqual(rs.Metadata.Name, replacement.Metadata!.Name);
        Assert.Equal(1, (await h.GetAsync("rel")).Status?.CollisionCount);
    }

    [Fact(Timeout = 60_000)]
    public async Task Sync_NoProgressWithinDeadline_ReportsProgressDeadlineExceeded()
    {
        await using var h = await StartAsync(server, run: true);
        var d = NewDeployment("slow", 1, "v1");
        d.Spec!.ProgressDeadlineSeconds = 1;
        await h.CreateAsync(d);

        var condition = await Eventually.GetAsync("the Progressing condition to time out", async () =>
            DeploymentUtil.GetCondition((await h.GetAsync("slow")).Status, "Progressing") is { Reason: DeploymentNames.TimedOutReason } c ? c : null, Wait);
        var rs = Assert.Single(await h.ReplicaSetsAsync());
        Assert.Equal("False", condition.Status);
        Assert.Equal($"ReplicaSet \"{rs.Metadata!.Name}\" has timed out progressing.", condition.Message);
    }

    [Fact(Timeout = 60_000)]
    public async Task Sync_EmptySelector_WarnsSelectingAllAndCreatesNothing()
    {
        await using var h = await StartAsync(server, run: false);
        var d = NewDeployment("all", 1, "v1");
        d.Spec!.Selector = new LabelSelector();
        try
        {
            await h.CreateAsync(d);
        }
        catch (Kcm.Client.Errors.InvalidException)
        {
            return; // A real API server refuses the empty selector before the controller sees it.
        }
        await h.SyncAsync("all");

        Assert.Empty(await h.ReplicaSetsAsync());
        var stored = await h.GetAsync("all");
        Assert.Equal(stored.Metadata!.Generation, stored.Status?.ObservedGeneration);
        await Eventually.TrueAsync("the SelectingAll event", async () => (await h.EventsAsync()).Any(e =>
            e.Reason == "SelectingAll" && e.Type == "Warning" && e.Message == "This deployment is selecting all pods. A non-empty selector is required."), Wait);
    }

    /// <summary>Creates a 2-replica Deployment at <paramref name="from"/> and rolls it out completely to <paramref name="to"/>.</summary>
    private static async Task RollOutAsync(DeploymentHarness h, string name, string from, string to)
    {
        await h.CreateAsync(NewDeployment(name, 2, from));
        await h.SyncAsync(name);
        await h.MakeAllAvailableAsync();
        await h.SyncAsync(name);
        await h.UpdateAsync(name, d => d.Spec!.Template!.Spec!.Containers![0].Image = to);
        await StepUntilAsync(h, name, rss => SpecReplicas(rss.Single(rs => ImageOf(rs) == from)) == 0 && SpecReplicas(rss.Single(rs => ImageOf(rs) == to)) == 2);
        await h.MakeAllAvailableAsync();
        await h.SyncAsync(name);
    }

    /// <summary>Syncs, making every pod available between syncs, until the ReplicaSets satisfy <paramref name="done"/>.</summary>
    private static async Task StepUntilAsync(DeploymentHarness h, string name, Func<List<ReplicaSet>, bool> done)
    {
        for (var i = 0; i < 20; i++)
        {
            await h.SyncAsync(name);
            if (await h.ReplicaSetsAsync() is var rss && rss.Count > 0 && SafeDone(done, rss))
            {
                return;
            }
            await h.MakeAllAvailableAsync();
        }
        throw new TimeoutException($"the rollout of {name} did not finish in 20 steps");
    }

    private static bool SafeDone(Func<List<ReplicaSet>, bool> done, List<ReplicaSet> rss)
    {
        try
        {
            return done(rss);
        }
        catch (InvalidOperationException)
        {
            return false; // The ReplicaSet the predicate looks for does not exist yet.
        }
    }
}

using Kcm.Api.Apps.V1;
using Kcm.Api.Core.V1;
using Kcm.Api.Meta.V1;
using Kcm.Client.Errors;
using Kcm.Controllers.Common;
using Kcm.Controllers.Deployments;
using Kcm.Runtime.Informers;
using static Kcm.Controllers.Tests.Deployments.DeploymentHarness;

namespace Kcm.Controllers.Tests.Deployments;

/// <summary>The sync logic without a server: caches seeded by hand, writes through the in-memory API, a fake clock.</summary>
public sealed class DeploymentControllerTests : IDisposable
{
    private readonly DeploymentHarness _h = new();

    public void Dispose() => _h.Dispose();

    [Fact]
    public async Task Sync_NewDeployment_CreatesHashNamedReplicaSetWithRevision1()
    {
        var d = _h.Create(NewDeployment("web", 3, "nginx:1"));
        await SettleAsync("web");

        var rs = Assert.Single(_h.ReplicaSetsNow());
        var hash = rs.Metadata!.Labels![DeploymentNames.DefaultUniqueLabelKey];
        Assert.Equal($"web-{hash}", rs.Metadata.Name);
        Assert.All(hash, c => Assert.Contains(c, SafeEncoding.Alphabet));
        Assert.Equal(3, rs.Spec!.Replicas);
        Assert.Equal(hash, rs.Spec.Selector!.MatchLabels![DeploymentNames.DefaultUniqueLabelKey]);
        Assert.Equal("web", rs.Spec.Selector.MatchLabels["app"]);
        Assert.Equal(hash, rs.Spec.Template!.Metadata!.Labels![DeploymentNames.DefaultUniqueLabelKey]);
        Assert.Equal("1", rs.Metadata.Annotations![DeploymentNames.RevisionAnnotation]);
        Assert.Equal("3", rs.Metadata.Annotations[DeploymentNames.DesiredReplicasAnnotation]);
        Assert.Equal("4", rs.Metadata.Annotations[DeploymentNames.MaxReplicasAnnotation]); // 3 + 25% rounded up
        var owner = Assert.Single(rs.Metadata.OwnerReferences!);
        Assert.Equal(("Deployment", "web", d.Metadata!.Uid, true, true), (owner.Kind, owner.Name, owner.Uid, owner.Controller, owner.BlockOwnerDeletion));

        var current = _h.Get("web");
        Assert.Equal("1", current.Metadata!.Annotations![DeploymentNames.RevisionAnnotation]);
        Assert.Equal(DeploymentNames.NewReplicaSetReason, DeploymentUtil.GetCondition(current.Status, "Progressing")?.Reason);
        Assert.Equal(current.Metadata.Generation, current.Status!.ObservedGeneration);
        Assert.Equal(3, current.Status.UnavailableReplicas ?? 0); // the spec counts, no pods are available yet
        Assert.Equal(DeploymentNames.MinimumReplicasUnavailable, DeploymentUtil.GetCondition(current.Status, "Available")?.Reason);
        Assert.Contains(("Normal", "ScalingReplicaSet", $"Scaled up replica set {rs.Metadata.Name} to 3", "web"), _h.Recorder.Events);
        Assert.Equal("deployment-controller", DeploymentDescriptor.Value.ClientName);

        // The ReplicaSet controller's part: all pods available; the deployment then reports itself complete.
        _h.SetStatus(rs.Metadata.Name!, 3, 3);
        await SettleAsync("web");
        current = _h.Get("web");
        Assert.True(current.Status is { AvailableReplicas: 3, UpdatedReplicas: 3, ReadyReplicas: 3, Replicas: 3 });
        Assert.Equal(DeploymentNames.NewRSAvailableReason, DeploymentUtil.GetCondition(current.Status, "Progressing")?.Reason);
        Assert.Equal("True", DeploymentUtil.GetCondition(current.Status, "Available")?.Status);
    }

    [Fact]
    public async Task Sync_ReplicasChanged_ScalesReplicaSetUpAndDown()
    {
        _h.Create(NewDeployment("api", 3, "app:1"));
        await SettleAsync("api");
        var rs = Assert.Single(_h.ReplicaSetsNow());
        _h.SetStatus(rs.Metadata!.Name!, 3, 3);

        _h.Update("api", d => d.Spec!.Replicas = 5);
        await SettleAsync("api");
        var up = Assert.Single(_h.ReplicaSetsNow());
        Assert.Equal((5, "5"), (SpecReplicas(up), up.Metadata!.Annotations![DeploymentNames.DesiredReplicasAnnotation]));

        _h.Update("api", d => d.Spec!.Replicas = 1);
        await SettleAsync("api");
        Assert.Equal(1, SpecReplicas(Assert.Single(_h.ReplicaSetsNow())));
        Assert.Contains(("Normal", "ScalingReplicaSet", $"Scaled down replica set {rs.Metadata.Name} to 1 from 5", "api"), _h.Recorder.Events);
    }

    [Fact]
    public async Task Sync_RollingUpdate_RespectsMaxSurgeAndMaxUnavailableAtEveryStep()
    {
        _h.Create(NewDeployment("roll", 4, "v1", maxSurge: 1, maxUnavailable: 1));
        await _h.SyncAsync("roll");
        var first = Assert.Single(_h.ReplicaSetsNow());
        Assert.Equal(4, SpecReplicas(first));
        _h.MakeAllAvailable();
        await _h.SyncAsync("roll");

        _h.Update("roll", d => d.Spec!.Template!.Spec!.Containers![0].Image = "v2");
        var steps = new List<(int Old, int New)>();
        for (var i = 0; i < 20; i++)
        {
            var before = _h.ReplicaSetsNow();
            await _h.SyncAsync("roll");
            var after = _h.ReplicaSetsNow();
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
            _h.MakeAllAvailable();
        }

        // Exactly upstream's sequence for 4 replicas, surge 1, unavailable 1, pods ready at once.
        Assert.Equal([(3, 1), (3, 2), (1, 2), (1, 4), (0, 4)], steps);
        var final = _h.ReplicaSetsNow();
        Assert.Equal("2", final.Single(rs => ImageOf(rs) == "v2").Metadata!.Annotations![DeploymentNames.RevisionAnnotation]);
        Assert.Equal("1", final.Single(rs => ImageOf(rs) == "v1").Metadata!.Annotations![DeploymentNames.RevisionAnnotation]);

        _h.MakeAllAvailable();
        await _h.SyncAsync("roll");
        var d = _h.Get("roll");
        Assert.Equal("2", d.Metadata!.Annotations![DeploymentNames.RevisionAnnotation]);
        Assert.Equal((4, 4, 4, 0), (d.Status!.Replicas, d.Status.UpdatedReplicas, d.Status.AvailableReplicas, d.Status.UnavailableReplicas ?? 0));
        Assert.Equal(DeploymentNames.NewRSAvailableReason, DeploymentUtil.GetCondition(d.Status, "Progressing")?.Reason);
    }

    [Fact]
    public async Task Sync_ScaledDuringRollout_ScalesReplicaSetsProportionally()
    {
        _h.Create(NewDeployment("prop", 10, "v1", maxSurge: 3, maxUnavailable: 2));
        await _h.SyncAsync("prop");
        _h.MakeAllAvailable();
        await _h.SyncAsync("prop");
        _h.Update("prop", d => d.Spec!.Template!.Spec!.Containers![0].Image = "v2");
        await _h.SyncAsync("prop");
        var mid = _h.ReplicaSetsNow();
        Assert.Equal((8, 3), (SpecReplicas(mid.Single(rs => ImageOf(rs) == "v1")), SpecReplicas(mid.Single(rs => ImageOf(rs) == "v2"))));

        _h.Update("prop", d => d.Spec!.Replicas = 20);
        await _h.SyncAsync("prop");

        // 12 more within 20 + surge 3, split by each ReplicaSet's share of its max-replicas (13); leftover to the largest.
        var after = _h.ReplicaSetsNow();
        Assert.Equal((18, 5), (SpecReplicas(after.Single(rs => ImageOf(rs) == "v1")), SpecReplicas(after.Single(rs => ImageOf(rs) == "v2"))));
        Assert.All(after, rs => Assert.Equal(("20", "23"), (rs.Metadata!.Annotations![DeploymentNames.DesiredReplicasAnnotation], rs.Metadata.Annotations[DeploymentNames.MaxReplicasAnnotation])));
    }

    [Fact]
    public async Task Sync_Recreate_ScalesOldToZeroAndWaitsForOldPodsBeforeCreatingNew()
    {
        _h.Create(NewDeployment("rec", 2, "v1", strategy: "Recreate"));
        await _h.SyncAsync("rec");
        var old = Assert.Single(_h.ReplicaSetsNow());
        _h.SetStatus(old.Metadata!.Name!, 2, 2);
        // One of the old pods, as the ReplicaSet controller would have made it.
        var pod = _h.AddPod(new Pod
        {
            Metadata = new ObjectMeta
            {
                Name = "rec-old-pod",
                Labels = new(old.Spec!.Template!.Metadata!.Labels!),
                OwnerReferences = [new OwnerReference { ApiVersion = "apps/v1", Kind = "ReplicaSet", Name = old.Metadata.Name, Uid = old.Metadata.Uid, Controller = true }],
            },
            Spec = new PodSpec { Containers = [new Container { Name = "main", Image = "v1" }] },
        });

        _h.Update("rec", d => d.Spec!.Template!.Spec!.Containers![0].Image = "v2");
        await _h.SyncAsync("rec");
        Assert.Equal(0, SpecReplicas(Assert.Single(_h.ReplicaSetsNow())));

        await _h.SyncAsync("rec"); // old ReplicaSet still reports 2 pods
        Assert.Single(_h.ReplicaSetsNow());

        _h.SetStatus(old.Metadata.Name!, 0, 0);
        await _h.SyncAsync("rec"); // status says 0, but a pod of it is still running
        Assert.Single(_h.ReplicaSetsNow());

        pod.Status = new PodStatus { Phase = "Succeeded" };
        _h.UpdatePod(pod);
        await _h.SyncAsync("rec");
        var all = _h.ReplicaSetsNow();
        Assert.Equal(2, all.Count);
        var newRS = all.Single(rs => ImageOf(rs) == "v2");
        Assert.Equal(2, SpecReplicas(newRS));
        Assert.Equal("2", newRS.Metadata!.Annotations![DeploymentNames.RevisionAnnotation]);
    }

    [Fact]
    public async Task Sync_OldTemplateReapplied_ReusesItsReplicaSetWithNextRevision()
    {
        await RollOutAsync("back", "v1", "v2");
        Assert.Equal(2, _h.ReplicaSetsNow().Count);

        // kubectl rollout undo today: the old template is written back into the Deployment.
        _h.Update("back", d => d.Spec!.Template!.Spec!.Containers![0].Image = "v1");
        await _h.SyncAsync("back");

        var all = _h.ReplicaSetsNow();
        Assert.Equal(2, all.Count); // no third ReplicaSet
        var v1 = all.Single(rs => ImageOf(rs) == "v1");
        Assert.Equal("3", v1.Metadata!.Annotations![DeploymentNames.RevisionAnnotation]);
        Assert.Equal("1", v1.Metadata.Annotations[DeploymentNames.RevisionHistoryAnnotation]);
        await StepUntilAsync("back", rss => SpecReplicas(rss.Single(rs => ImageOf(rs) == "v1")) == 2 && SpecReplicas(rss.Single(rs => ImageOf(rs) == "v2")) == 0);
        await _h.SyncAsync("back");
        Assert.Equal("3", _h.Get("back").Metadata!.Annotations![DeploymentNames.RevisionAnnotation]);
    }

    [Fact]
    public async Task Sync_RollbackAnnotation_RestoresTemplateOfRequestedRevision()
    {
        await RollOutAsync("undo", "v1", "v2");

        _h.Update("undo", d => d.Metadata!.Annotations![DeploymentNames.DeprecatedRollbackToAnnotation] = "1");
        await _h.SyncAsync("undo");

        var d = _h.Get("undo");
        Assert.Equal("v1", d.Spec!.Template!.Spec!.Containers![0].Image);
        Assert.False(d.Metadata!.Annotations!.ContainsKey(DeploymentNames.DeprecatedRollbackToAnnotation));
        Assert.False(d.Spec.Template.Metadata!.Labels!.ContainsKey(DeploymentNames.DefaultUniqueLabelKey));
        Assert.Contains(("Normal", DeploymentNames.RollbackDone, "Rolled back deployment \"undo\" to revision 1", "undo"), _h.Recorder.Events);

        _h.Update("undo", x => x.Metadata!.Annotations![DeploymentNames.DeprecatedRollbackToAnnotation] = "7");
        await _h.SyncAsync("undo");
        Assert.False(_h.Get("undo").Metadata!.Annotations!.ContainsKey(DeploymentNames.DeprecatedRollbackToAnnotation));
        Assert.Contains(_h.Recorder.Events, e => e.Reason == DeploymentNames.RollbackRevisionNotFound && e.Type == "Warning");
    }

    [Fact]
    public async Task Sync_Paused_ScalesButDoesNotRollOut()
    {
        _h.Create(NewDeployment("pause", 2, "v1"));
        await _h.SyncAsync("pause");
        _h.MakeAllAvailable();
        await _h.SyncAsync("pause");

        _h.Update("pause", d =>
        {
            d.Spec!.Paused = true;
            d.Spec.Template!.Spec!.Containers![0].Image = "v2";
            d.Spec.Replicas = 3;
        });
        await SettleAsync("pause"); // the paused condition's write makes the sync's later status write conflict

        var rs = Assert.Single(_h.ReplicaSetsNow());
        Assert.Equal(("v1", 3), (ImageOf(rs), SpecReplicas(rs)));
        var paused = _h.Get("pause");
        var progressing = DeploymentUtil.GetCondition(paused.Status, "Progressing");
        Assert.Equal(("Unknown", DeploymentNames.PausedDeployReason, "Deployment is paused"), (progressing?.Status, progressing?.Reason, progressing?.Message));
        Assert.Equal(paused.Metadata!.Generation, paused.Status!.ObservedGeneration);

        _h.Update("pause", d => d.Spec!.Paused = false);
        await SettleAsync("pause"); // the resumed condition's write makes the rest of the first sync's writes conflict
        var all = _h.ReplicaSetsNow();
        Assert.Equal(2, all.Count);
        Assert.Contains(all, r => ImageOf(r) == "v2");
        // As upstream: the "NewReplicaSetCreated" write follows the resumed condition's write in the same sync and
        // conflicts; the next sync finds the ReplicaSet existing and a condition present, so "DeploymentResumed" stays.
        Assert.Equal(DeploymentNames.ResumedDeployReason, DeploymentUtil.GetCondition(_h.Get("pause").Status, "Progressing")?.Reason);
    }

    [Fact]
    public async Task Sync_PausedThenResumed_SetsPausedThenResumedProgressingCondition()
    {
        _h.Create(NewDeployment("resume", 2, "v1"));
        await _h.SyncAsync("resume");
        var rs = Assert.Single(_h.ReplicaSetsNow());
        _h.SetStatus(rs.Metadata!.Name!, 2, 1); // one pod still starting: the rollout is not complete
        await _h.SyncAsync("resume");

        _h.Update("resume", d => d.Spec!.Paused = true);
        await _h.SyncAsync("resume");
        Assert.Equal(DeploymentNames.PausedDeployReason, DeploymentUtil.GetCondition(_h.Get("resume").Status, "Progressing")?.Reason);

        _h.Update("resume", d => d.Spec!.Paused = false);
        await _h.SyncAsync("resume");
        var progressing = DeploymentUtil.GetCondition(_h.Get("resume").Status, "Progressing");
        Assert.Equal(("Unknown", DeploymentNames.ResumedDeployReason, "Deployment is resumed"), (progressing?.Status, progressing?.Reason, progressing?.Message));
        Assert.Single(_h.ReplicaSetsNow());
    }

    [Fact]
    public async Task Sync_RevisionHistoryLimit_DeletesOldestScaledDownReplicaSets()
    {
        var d = NewDeployment("hist", 1, "v1");
        d.Spec!.RevisionHistoryLimit = 1;
        _h.Create(d);
        await _h.SyncAsync("hist");
        foreach (var image in new[] { "v2", "v3" })
        {
            _h.MakeAllAvailable();
            await _h.SyncAsync("hist");
            _h.Update("hist", x => x.Spec!.Template!.Spec!.Containers![0].Image = image);
            await StepUntilAsync("hist", rss => rss.Where(rs => ImageOf(rs) != image).All(rs => SpecReplicas(rs) == 0) && SpecReplicas(rss.Single(rs => ImageOf(rs) == image)) == 1);
        }
        _h.MakeAllAvailable();
        await _h.SyncAsync("hist"); // records the completed rollout
        Assert.Equal(3, _h.ReplicaSetsNow().Count);
        await _h.SyncAsync("hist"); // a complete rollout trims the history

        Assert.Equal(["v2", "v3"], _h.ReplicaSetsNow().Select(ImageOf).Order());
        Assert.Contains(_h.Api.Calls, c => c.StartsWith("delete-rs hist-", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Sync_OrphanWithEqualTemplateAndOtherHash_IsAdoptedNotDuplicated()
    {
        // As another controller manager (upstream's own hash function) would have left it.
        var template = Template("adopt", "v1");
        template.Metadata!.Labels![DeploymentNames.DefaultUniqueLabelKey] = "5d4f8c7b9";
        _h.AddReplicaSet(new ReplicaSet
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
        });

        var d = _h.Create(NewDeployment("adopt", 2, "v1"));
        await SettleAsync("adopt");

        var adopted = Assert.Single(_h.ReplicaSetsNow());
        Assert.Equal("adopt-5d4f8c7b9", adopted.Metadata!.Name);
        Assert.Contains(adopted.Metadata.OwnerReferences!, o => o.Uid == d.Metadata!.Uid && o.Controller == true);
        Assert.Contains("patch-rs adopt-5d4f8c7b9", _h.Api.Calls);
        Assert.DoesNotContain(_h.Api.Calls, c => c.StartsWith("create-rs", StringComparison.Ordinal));
        var current = _h.Get("adopt");
        Assert.Equal("4", current.Metadata!.Annotations![DeploymentNames.RevisionAnnotation]);
        var found = DeploymentUtil.GetCondition(current.Status, "Progressing");
        Assert.Equal(DeploymentNames.FoundNewRSReason, found?.Reason);
        Assert.Equal("Found new replica set \"adopt-5d4f8c7b9\"", found?.Message);
        Assert.Equal(2, SpecReplicas(adopted));
    }

    [Fact]
    public async Task Sync_NameTakenByForeignReplicaSet_BumpsCollisionCountAndUsesAnotherHash()
    {
        var paused = NewDeployment("clash", 1, "v1");
        paused.Spec!.Paused = true; // nothing is created while paused: we take the name first
        var d = _h.Create(paused);
        var hash = PodTemplates.ComputeHash(d.Spec!.Template!, null);
        _h.AddReplicaSet(new ReplicaSet
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
        });
        _h.Update("clash", x => x.Spec!.Paused = false);

        await Assert.ThrowsAsync<AlreadyExistsException>(() => _h.SyncAsync("clash"));
        Assert.Equal(1, _h.Get("clash").Status?.CollisionCount);

        await _h.SyncAsync("clash");
        var ours = Assert.Single(_h.ReplicaSetsNow(), rs => rs.Metadata!.Name != $"clash-{hash}");
        Assert.Equal($"clash-{PodTemplates.ComputeHash(d.Spec.Template!, 1)}", ours.Metadata!.Name);
        Assert.Equal(1, SpecReplicas(ours));
    }

    [Fact]
    public async Task Sync_OwnedReplicaSetNoLongerMatching_IsReleasedAndReplaced()
    {
        var d = _h.Create(NewDeployment("rel", 1, "v1"));
        await SettleAsync("rel");
        var rs = Assert.Single(_h.ReplicaSetsNow());

        rs.Metadata!.Labels!["app"] = "elsewhere";
        _h.Api.Store(_h.ReplicaSets, rs, create: false);
        await Assert.ThrowsAsync<AlreadyExistsException>(() => _h.SyncAsync("rel")); // released; its name is now taken
        await SettleAsync("rel");

        var released = _h.ReplicaSets.Get(new ObjectKey(Ns, rs.Metadata.Name!))!;
        Assert.Empty(released.Metadata!.OwnerReferences ?? []);
        Assert.Equal("elsewhere", released.Metadata.Labels!["app"]);
        // Its name is taken by a ReplicaSet that is no longer ours: a collision, so the replacement gets another hash.
        var replacement = Assert.Single(_h.ReplicaSetsNow(), x => x.Metadata!.OwnerReferences?.Any(o => o.Uid == d.Metadata!.Uid) == true);
        Assert.NotEqual(rs.Metadata.Name, replacement.Metadata!.Name);
        Assert.Equal(1, _h.Get("rel").Status?.CollisionCount);
    }

    // Issue 20: as upstream, the sync that creates the new ReplicaSet stores "NewReplicaSetCreated" and its later
    // rollout-status write conflicts (stale resourceVersion); progress is then judged against the stored status, so
    // a new ReplicaSet whose replica already shows up (pods never Ready) is no progress and the reason stays.
    [Fact]
    public async Task Sync_RolloutWithoutProgress_KeepsNewReplicaSetCreated()
    {
        _h.Create(NewDeployment("stuck", 3, "v1"));
        await SettleAsync("stuck");
        var old = Assert.Single(_h.ReplicaSetsNow());
        _h.SetStatus(old.Metadata!.Name!, 3, 0);
        await SettleAsync("stuck");

        _h.Update("stuck", d => d.Spec!.Template = Template("stuck", "v2"));
        await Assert.ThrowsAsync<Kcm.Client.Errors.ConflictException>(() => _h.Controller.SyncAsync(new ObjectKey(Ns, "stuck"), CancellationToken.None));
        var created = _h.ReplicaSetsNow().Single(rs => ImageOf(rs) == "v2");
        Assert.Equal(DeploymentNames.NewReplicaSetReason, DeploymentUtil.GetCondition(_h.Get("stuck").Status, "Progressing")?.Reason);
        _h.SetStatus(created.Metadata!.Name!, SpecReplicas(created), 0);
        await SettleAsync("stuck");

        var status = _h.Get("stuck").Status!;
        Assert.Equal((4, 1), (status.Replicas ?? 0, status.UpdatedReplicas ?? 0));
        var condition = DeploymentUtil.GetCondition(status, "Progressing");
        Assert.Equal(("True", DeploymentNames.NewReplicaSetReason), (condition?.Status, condition?.Reason));
        Assert.Equal($"Created new replica set \"{created.Metadata.Name}\"", condition?.Message);
    }

    [Fact]
    public async Task Sync_NoProgressWithinDeadline_ReportsProgressDeadlineExceeded()
    {
        var d = NewDeployment("slow", 1, "v1");
        d.Spec!.ProgressDeadlineSeconds = 1;
        _h.Create(d);
        await SettleAsync("slow");
        Assert.NotEqual(DeploymentNames.TimedOutReason, DeploymentUtil.GetCondition(_h.Get("slow").Status, "Progressing")?.Reason);

        _h.Time.Advance(TimeSpan.FromSeconds(2)); // the progress check the sync queued comes due
        Assert.Equal([new ObjectKey(Ns, "slow")], Drain());
        await _h.SyncAsync("slow");

        var condition = DeploymentUtil.GetCondition(_h.Get("slow").Status, "Progressing");
        var rs = Assert.Single(_h.ReplicaSetsNow());
        Assert.Equal(("False", DeploymentNames.TimedOutReason), (condition?.Status, condition?.Reason));
        Assert.Equal($"ReplicaSet \"{rs.Metadata!.Name}\" has timed out progressing.", condition?.Message);
    }

    [Fact]
    public async Task Sync_EmptySelector_WarnsSelectingAllAndCreatesNothing()
    {
        var d = NewDeployment("all", 1, "v1");
        d.Spec!.Selector = new LabelSelector();
        _h.Create(d);

        await _h.SyncAsync("all");

        Assert.Empty(_h.ReplicaSetsNow());
        var stored = _h.Get("all");
        Assert.Equal(stored.Metadata!.Generation, stored.Status?.ObservedGeneration);
        Assert.Contains(("Warning", "SelectingAll", "This deployment is selecting all pods. A non-empty selector is required.", "all"), _h.Recorder.Events);
    }

    [Fact]
    public void Handlers_ReplicaSetEvents_QueueItsDeploymentOrTheMatchingOnes()
    {
        var d = _h.Create(NewDeployment("ev", 1, "v1"));
        _h.Create(NewDeployment("other", 1, "v1"));
        var owned = new ReplicaSet
        {
            Metadata = new ObjectMeta
            {
                Name = "ev-1", Namespace = Ns, Labels = new() { ["app"] = "ev" },
                OwnerReferences = [new OwnerReference { ApiVersion = "apps/v1", Kind = "Deployment", Name = "ev", Uid = d.Metadata!.Uid, Controller = true }],
            },
        };
        _h.Controller.OnReplicaSetAdded(owned);
        Assert.Equal([new ObjectKey(Ns, "ev")], Drain());

        // A controller reference to a Deployment that is gone (another uid) wakes nobody.
        owned.Metadata.OwnerReferences[0].Uid = "stale";
        _h.Controller.OnReplicaSetAdded(owned);
        Assert.Empty(Drain());

        // An orphan wakes every Deployment selecting it.
        var orphan = new ReplicaSet { Metadata = new ObjectMeta { Name = "o", Namespace = Ns, Labels = new() { ["app"] = "other" } } };
        _h.Controller.OnReplicaSetAdded(orphan);
        Assert.Equal([new ObjectKey(Ns, "other")], Drain());
    }

    [Fact]
    public void Descriptor_RetryPolicy_DropsAfterUpstreamMaxRetries()
    {
        Assert.Equal(15, DeploymentDescriptor.Value.RetryPolicy.MaxRetries);
        Assert.Equal("deployment", DeploymentDescriptor.Value.Name);
    }

    [Fact]
    public async Task WorkerLoop_CreateFailsEveryTime_KeyDroppedAfter15Retries()
    {
        _h.Create(NewDeployment("fail", 1, "v1"));
        _h.Api.Fail = call => call == "create-rs" ? new InvalidOperationException("quota exceeded") : null;
        var key = new ObjectKey(Ns, "fail");
        _h.Queue.Add(key);

        for (var i = 0; i < 16; i++)
        {
            Assert.Equal(1, _h.Queue.Count);
            await _h.Controller.WorkerLoop.ProcessNextAsync(CancellationToken.None);
            _h.Time.Advance(TimeSpan.FromSeconds(1000)); // past any backoff
        }

        Assert.Equal(16, _h.Api.Calls.Count(c => c == "create-rs fail-" + PodTemplates.ComputeHash(_h.Get("fail").Spec!.Template!, null)));
        Assert.Equal((0, 0, 0), (_h.Queue.Count, _h.Queue.WaitingCount, _h.Queue.NumRequeues(key)));
    }

    [Fact]
    public async Task WorkerLoop_NamespaceTerminating_ForgetsKeyWithoutRetry()
    {
        _h.Create(NewDeployment("term", 1, "v1"));
        _h.Api.Fail = call => call == "create-rs"
            ? new ForbiddenException(403, new Status { Reason = "Forbidden", Details = new StatusDetails { Causes = [new StatusCause { Reason = "NamespaceTerminating" }] } })
            : null;
        var key = new ObjectKey(Ns, "term");
        _h.Queue.Add(key);

        await _h.Controller.WorkerLoop.ProcessNextAsync(CancellationToken.None);

        Assert.Equal((0, 0, 0), (_h.Queue.Count, _h.Queue.WaitingCount, _h.Queue.NumRequeues(key)));
    }

    private List<ObjectKey> Drain()
    {
        var keys = new List<ObjectKey>();
        while (_h.Queue.TryTake(out var key))
        {
            keys.Add(key);
            _h.Queue.Done(key);
        }
        return keys;
    }

    /// <summary>Syncs until a sync writes nothing, as the running controller would on the events its own writes cause.</summary>
    private async Task SettleAsync(string name)
    {
        for (var i = 0; i < 10; i++)
        {
            var calls = _h.Api.Calls.Count;
            await _h.SyncAsync(name);
            if (_h.Api.Calls.Count == calls)
            {
                return;
            }
        }
        throw new TimeoutException($"{name} kept writing after 10 syncs");
    }

    /// <summary>Creates a 2-replica Deployment at <paramref name="from"/> and rolls it out completely to <paramref name="to"/>.</summary>
    private async Task RollOutAsync(string name, string from, string to)
    {
        _h.Create(NewDeployment(name, 2, from));
        await _h.SyncAsync(name);
        _h.MakeAllAvailable();
        await _h.SyncAsync(name);
        _h.Update(name, d => d.Spec!.Template!.Spec!.Containers![0].Image = to);
        await StepUntilAsync(name, rss => SpecReplicas(rss.Single(rs => ImageOf(rs) == from)) == 0 && SpecReplicas(rss.Single(rs => ImageOf(rs) == to)) == 2);
        _h.MakeAllAvailable();
        await _h.SyncAsync(name);
    }

    /// <summary>Syncs, making every pod available between syncs, until the ReplicaSets satisfy <paramref name="done"/>.</summary>
    private async Task StepUntilAsync(string name, Func<List<ReplicaSet>, bool> done)
    {
        for (var i = 0; i < 20; i++)
        {
            await _h.SyncAsync(name);
            if (_h.ReplicaSetsNow() is var rss && rss.Count > 0 && SafeDone(done, rss))
            {
                return;
            }
            _h.MakeAllAvailable();
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

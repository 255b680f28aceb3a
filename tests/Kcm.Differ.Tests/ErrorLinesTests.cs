namespace Kcm.Differ.Tests;

public class ErrorLinesTests
{
    [Fact]
    public void Count_LinesAboutAnEarlierRunsNamespace_AreCountedApart()
    {
        string[] log =
        [
            "I1206 10:20:25.000000   19113 main.go:1] Starting replicaset",
            """E1206 10:20:25.344366   19113 ControllerWorkers.cs:126] "error syncing" err="pods \"no-sa-65477c86-\" is forbidden: error looking up service account differ-deployment-upstream-5b2fb/missing" key="differ-deployment-upstream-5b2fb/no-sa-65477c86" """,
            """E1206 10:20:26.924937   19113 ControllerWorkers.cs:126] "error syncing" err="forbidden" key="differ-deployment-ours-dc8e8/no-sa-57d97f4b84" """,
            "E1206 10:20:27.000000   19113 reflector.go:1] failed to list *v1.Pod: connection refused",
        ];

        var counted = ErrorLines.Count(log, "differ-deployment-ours-dc8e8");

        Assert.Equal(new ErrorLines(Own: 2, Foreign: 1), counted);
    }
}

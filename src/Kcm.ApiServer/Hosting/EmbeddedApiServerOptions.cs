namespace Kcm.ApiServer.Hosting;

public sealed class EmbeddedApiServerOptions
{
    /// <summary>Where certificates, keys and admin.kubeconfig live (created when missing).</summary>
    public string StateDirectory { get; set; } = "";

    /// <summary>HTTPS port; 0 picks a free one.</summary>
    public int SecurePort { get; set; } = 6443;

    public string BindAddress { get; set; } = "127.0.0.1";

    /// <summary>Events retained per resource for resuming watches and continuing paged lists.</summary>
    public int WatchCacheSize { get; set; } = 10000;

    /// <summary>How often a watch that allows bookmarks gets one (upstream: about a minute).</summary>
    public TimeSpan WatchBookmarkInterval { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>Events a single watcher may lag behind before it is closed.</summary>
    public int WatcherBufferSize { get; set; } = 1000;

    public TimeProvider Time { get; set; } = TimeProvider.System;
}

using Kcm.ApiServer.Hosting;
using Kcm.Testing;

namespace Kcm.ApiServer.Tests;

/// <summary>The shared server: a small watch window and fast bookmarks so expiry and bookmark tests stay quick.</summary>
public sealed class ApiServerFixture : EmbeddedServerFixture
{
    protected override void Configure(EmbeddedApiServerOptions options)
    {
        options.WatchCacheSize = 50;
        options.WatchBookmarkInterval = TimeSpan.FromMilliseconds(200);
    }
}

[CollectionDefinition(Name)]
public sealed class ServerCollection : ICollectionFixture<ApiServerFixture>
{
    public const string Name = "embedded api server";
}

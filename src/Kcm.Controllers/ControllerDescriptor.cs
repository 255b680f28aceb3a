using Kcm.Runtime.Controllers;

namespace Kcm.Controllers;

/// <summary>
/// A controller as data, as upstream's controller_descriptor.go: the name `--controllers` knows it by (v1.26's
/// names, which never change; later versions' renamed names live on as aliases), whether `*` turns it on, and the
/// ServiceAccount whose credentials it uses with --use-service-account-credentials.
/// </summary>
/// <param name="ClientName">Its ServiceAccount (e.g. "deployment-controller").</param>
public record ControllerDescriptor(string Name, string? ClientName = null)
{
    /// <summary>Other names for the same controller. v1.26 registers none (the "-controller" names came in v1.28).</summary>
    public IReadOnlyList<string> Aliases { get; init; } = [];

    /// <summary>False for the ones `*` leaves off (bootstrapsigner, tokencleaner).</summary>
    public bool EnabledByDefault { get; init; } = true;

    /// <summary>service, route and cloud-node-lifecycle only do work with a cloud provider.</summary>
    public bool NeedsCloudProvider { get; init; }
}

/// <summary>
/// An implemented controller: its descriptor plus how to build it from the shared context and its settings (the
/// values of its flag group). <see cref="Start"/> wires handlers and does no I/O; it returns null when the
/// controller decides not to run (e.g. csrsigning without a signing key), after logging why.
/// </summary>
public sealed record ControllerDescriptor<TSettings>(string Name, string ClientName, Func<ControllerContext, TSettings, RunController?> Start)
    : ControllerDescriptor(Name, ClientName)
{
    /// <summary>How its workers treat failures (upstream's handleErr); most retry forever.</summary>
    public RetryPolicy RetryPolicy { get; init; } = RetryPolicy.Forever;
}

/// <summary>The settings of a controller that has no flags of its own.</summary>
public sealed record NoSettings
{
    public static NoSettings Value { get; } = new();
}

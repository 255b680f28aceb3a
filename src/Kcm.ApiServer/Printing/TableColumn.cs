namespace Kcm.ApiServer.Printing;

/// <summary>A metav1.TableColumnDefinition. Priority 1 columns are shown only with -o wide.</summary>
public sealed record TableColumn(string Name, string Type, int Priority = 0, string Format = "");

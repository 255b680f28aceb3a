using System.Buffers;
using System.Text;
using System.Text.Json;
using Kcm.Api;

namespace Kcm.Runtime.LeaderElection;

/// <summary>
/// client-go's resourcelock.LeaderElectionRecord. Times are null where upstream has the zero time.
/// An empty <see cref="HolderIdentity"/> means nobody holds the lock (a voluntary release).
/// </summary>
public sealed record LeaderElectionRecord
{
    public string HolderIdentity { get; init; } = "";

    public int LeaseDurationSeconds { get; init; }

    public DateTimeOffset? AcquireTime { get; init; }

    public DateTimeOffset? RenewTime { get; init; }

    public int LeaderTransitions { get; init; }
}

/// <summary>What a lock read: the record plus an opaque rendering used only to notice that the record changed.</summary>
public sealed record ObservedLeaderElectionRecord(LeaderElectionRecord Record, string Raw);

/// <summary>Thrown when a lock annotation holds something that is not a leader election record.</summary>
public sealed class LeaderElectionRecordFormatException(string message, Exception? inner = null) : FormatException(message, inner);

/// <summary>
/// The JSON form upstream stores in the control-plane.alpha.kubernetes.io/leader annotation: Go's encoding of the
/// struct, so fields in declaration order, times as metav1.Time (RFC 3339, whole seconds, UTC; zero time as null).
/// </summary>
public static class LeaderElectionRecordJson
{
    public static string Serialize(LeaderElectionRecord record) => Write(record, KubeTime.Format);

    /// <summary>Like <see cref="Serialize"/> but with sub-second times, so a change of a Lease's MicroTime is noticed.</summary>
    internal static string SerializePrecise(LeaderElectionRecord record) => Write(record, KubeTime.FormatMicro);

    public static LeaderElectionRecord Deserialize(string json)
    {
        try
        {
            using var document = JsonDocument.Parse(json);
            if (document.RootElement.ValueKind != JsonValueKind.Object)
            {
                throw new LeaderElectionRecordFormatException($"leader election record must be a JSON object, not {document.RootElement.ValueKind}");
            }
            var record = new LeaderElectionRecord();
            // Go's decoder matches names case-insensitively and ignores unknown fields (e.g. newer "strategy").
            foreach (var property in document.RootElement.EnumerateObject())
            {
                record = property.Name.ToLowerInvariant() switch
                {
                    "holderidentity" => record with { HolderIdentity = ReadString(property) },
                    "leasedurationseconds" => record with { LeaseDurationSeconds = ReadInt(property) },
                    "acquiretime" => record with { AcquireTime = ReadTime(property) },
                    "renewtime" => record with { RenewTime = ReadTime(property) },
                    "leadertransitions" => record with { LeaderTransitions = ReadInt(property) },
                    _ => record,
                };
            }
            return record;
        }
        catch (JsonException ex)
        {
            throw new LeaderElectionRecordFormatException($"leader election record is not valid JSON: {ex.Message}", ex);
        }
    }

    private static string Write(LeaderElectionRecord record, Func<DateTimeOffset, string> formatTime)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteString("holderIdentity", record.HolderIdentity);
            writer.WriteNumber("leaseDurationSeconds", record.LeaseDurationSeconds);
            WriteTime(writer, "acquireTime", record.AcquireTime, formatTime);
            WriteTime(writer, "renewTime", record.RenewTime, formatTime);
            writer.WriteNumber("leaderTransitions", record.LeaderTransitions);
            writer.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    private static void WriteTime(Utf8JsonWriter writer, string name, DateTimeOffset? value, Func<DateTimeOffset, string> formatTime)
    {
        if (value is { } time && time != default)
        {
            writer.WriteString(name, formatTime(time));
        }
        else
        {
            writer.WriteNull(name);
        }
    }

    private static string ReadString(JsonProperty property) => property.Value.ValueKind switch
    {
        JsonValueKind.String => property.Value.GetString() ?? "",
        JsonValueKind.Null => "",
        _ => throw new LeaderElectionRecordFormatException($"leader election record field {property.Name} must be a string"),
    };

    private static int ReadInt(JsonProperty property)
    {
        if (property.Value.ValueKind == JsonValueKind.Null)
        {
            return 0;
        }
        if (property.Value.ValueKind == JsonValueKind.Number && property.Value.TryGetInt32(out var value))
        {
            return value;
        }
        throw new LeaderElectionRecordFormatException($"leader election record field {property.Name} must be an integer, not {property.Value.GetRawText()}");
    }

    private static DateTimeOffset? ReadTime(JsonProperty property)
    {
        if (property.Value.ValueKind == JsonValueKind.Null)
        {
            return null;
        }
        var text = property.Value.ValueKind == JsonValueKind.String ? property.Value.GetString() : null;
        if (KubeTime.TryParse(text, out var time))
        {
            return time;
        }
        throw new LeaderElectionRecordFormatException(
            $"leader election record field {property.Name} must be an RFC 3339 time, not {property.Value.GetRawText()}");
    }
}

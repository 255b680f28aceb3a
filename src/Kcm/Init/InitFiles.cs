namespace Kcm.Init;

/// <summary>Files `init` writes: atomically (temporary file, then rename), keys created 0600, untouched when unchanged.</summary>
public static class InitFiles
{
    /// <summary>Writes <paramref name="content"/> unless the file already holds it; true when it wrote.</summary>
    public static bool WriteIfChanged(string path, string content, bool secret)
    {
        if (File.Exists(path))
        {
            string current;
            try
            {
                current = File.ReadAllText(path);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new InitException($"{path}: cannot read: {e.Message}");
            }
            if (current == content)
            {
                if (secret) InitCertificates.CheckKeyPermissions(path, null);
                return false;
            }
        }
        Write(path, content, secret);
        return true;
    }

    public static void Write(string path, string content, bool secret)
    {
        var tmp = path + ".tmp";
        try
        {
            Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
            var options = new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.Write };
            if (!OperatingSystem.IsWindows())
            {
                options.UnixCreateMode = secret
                    ? UnixFileMode.UserRead | UnixFileMode.UserWrite
                    : UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead;
            }
            File.Delete(tmp);
            using (var stream = new FileStream(tmp, options))
            using (var writer = new StreamWriter(stream))
            {
                writer.Write(content);
            }
            File.Move(tmp, path, overwrite: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new InitException($"{path}: cannot write: {e.Message}");
        }
    }
}

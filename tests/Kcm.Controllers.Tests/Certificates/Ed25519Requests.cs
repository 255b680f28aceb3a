namespace Kcm.Controllers.Tests.Certificates;

/// <summary>Ed25519 requests made with openssl (genpkey -algorithm ed25519; req -new): the BCL cannot create them.</summary>
internal static class Ed25519Requests
{
    // CN=alice, O=devs
    public const string Client = """
        -----BEGIN CERTIFICATE REQUEST-----
        MIGeMFICAQAwHzEOMAwGA1UEAwwFYWxpY2UxDTALBgNVBAoMBGRldnMwKjAFBgMr
        ZXADIQByl3ayWJo96rA/wISx/Paqgs3PXYSCn+HFVnknWEcFRqAAMAUGAytlcANB
        AKhsHnhr67cqPQcgQfdz5q4NzMPEFW36U+2BsJlMJsHWkLCmRI8FlkUbfKgQ1MM4
        r2388XyGu4NaZ6sNIQY02As=
        -----END CERTIFICATE REQUEST-----
        """;

    // CN=system:node:n1, O=system:nodes
    public const string KubeletClient = """
        -----BEGIN CERTIFICATE REQUEST-----
        MIGvMGMCAQAwMDEXMBUGA1UEAwwOc3lzdGVtOm5vZGU6bjExFTATBgNVBAoMDHN5
        c3RlbTpub2RlczAqMAUGAytlcAMhAHKXdrJYmj3qsD/AhLH89qqCzc9dhIKf4cVW
        eSdYRwVGoAAwBQYDK2VwA0EAEwyg8wl5MCVL9BEzThOIkhPs8B7guCpUWvd84261
        dTXemaB2XF1M6G4oEo39vE36fnLNzq7xyfZspDE9x97/Dg==
        -----END CERTIFICATE REQUEST-----
        """;

    // CN=system:node:n1, O=system:nodes; SANs DNS:n1.example, IP:10.0.0.1
    public const string KubeletServing = """
        -----BEGIN CERTIFICATE REQUEST-----
        MIHeMIGRAgEAMDAxFzAVBgNVBAMMDnN5c3RlbTpub2RlOm4xMRUwEwYDVQQKDAxz
        eXN0ZW06bm9kZXMwKjAFBgMrZXADIQByl3ayWJo96rA/wISx/Paqgs3PXYSCn+HF
        VnknWEcFRqAuMCwGCSqGSIb3DQEJDjEfMB0wGwYDVR0RBBQwEoIKbjEuZXhhbXBs
        ZYcECgAAATAFBgMrZXADQQAi3bVoceelAgbUsR7D6hKGQClVXxWDZFWEcZ6INnKt
        QmcmQjjg6qNa0S3mtObRs/xkCqTze+5AkcIaAyUOcBAH
        -----END CERTIFICATE REQUEST-----
        """;

    // CN=bob
    public const string NotNode = """
        -----BEGIN CERTIFICATE REQUEST-----
        MIGNMEECAQAwDjEMMAoGA1UEAwwDYm9iMCowBQYDK2VwAyEAcpd2sliaPeqwP8CE
        sfz2qoLNz12Egp/hxVZ5J1hHBUagADAFBgMrZXADQQCdQnf6X1wbYRBU+mHSHNYO
        0cstHUXPwyFpJLMu5SvVLcs0CxJ2DFPgkw7JUmqT36cCIK48Li1+2nB9tv/FOLgL
        -----END CERTIFICATE REQUEST-----
        """;

    // CN=dave; SANs email:dave@example.com, URI:spiffe://example.com/dave
    public const string WithEmailAndUri = """
        -----BEGIN CERTIFICATE REQUEST-----
        MIHYMIGLAgEAMA8xDTALBgNVBAMMBGRhdmUwKjAFBgMrZXADIQByl3ayWJo96rA/
        wISx/Paqgs3PXYSCn+HFVnknWEcFRqBJMEcGCSqGSIb3DQEJDjE6MDgwNgYDVR0R
        BC8wLYEQZGF2ZUBleGFtcGxlLmNvbYYZc3BpZmZlOi8vZXhhbXBsZS5jb20vZGF2
        ZTAFBgMrZXADQQAz4FBFoyFjo02AJ9n1sYY3aOoNAMKt+Pu6X/5ObiaWAQcmXptI
        6XhpzqVOh2mZplqUuQkppiuX4rpktQLt17gF
        -----END CERTIFICATE REQUEST-----
        """;

    public static byte[] Bytes(string pem) => System.Text.Encoding.ASCII.GetBytes(pem + "\n");
}

package io.tokenmeter.server.http;

import io.tokenmeter.server.TokenmeterServer;
import io.tokenmeter.server.config.SettingsException;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.TrustManagerFactory;
import java.io.InputStream;
import java.io.OutputStream;
import java.math.BigInteger;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.http.HttpClient;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.KeyStore;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.util.Base64;
import java.util.Date;
import java.util.LinkedHashMap;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** HTTPS with a self-signed certificate made here: real TLS handshakes over loopback. */
class TlsTest
{
    @TempDir
    Path dir;

    private final KeyFixture keys = new KeyFixture().add("gateway", "ingest", "acme").add("finance", "read", "*");
    private TokenmeterServer server;
    private X509Certificate certificate;

    @AfterEach
    void stop()
    {
        if (server != null)
        {
            server.close();
        }
    }

    /** Writes a self-signed certificate for localhost and 127.0.0.1 and its PKCS#8 key, both PEM. */
    private Map<String, String> tlsSettings() throws Exception
    {
        final KeyPairGenerator generator = KeyPairGenerator.getInstance("EC");
        generator.initialize(256);
        final KeyPair pair = generator.generateKeyPair();
        final X500Name subject = new X500Name("CN=localhost");
        final Instant now = Instant.now();
        final JcaX509v3CertificateBuilder builder = new JcaX509v3CertificateBuilder(subject, BigInteger.valueOf(now.toEpochMilli()),
            Date.from(now.minus(Duration.ofDays(1))), Date.from(now.plus(Duration.ofDays(30))), subject, pair.getPublic());
        builder.addExtension(Extension.subjectAlternativeName, false, new GeneralNames(new GeneralName[] {
            new GeneralName(GeneralName.dNSName, "localhost"), new GeneralName(GeneralName.iPAddress, "127.0.0.1")}));
        certificate = new JcaX509CertificateConverter()
            .getCertificate(builder.build(new JcaContentSignerBuilder("SHA256withECDSA").build(pair.getPrivate())));
        final Path cert = Files.writeString(dir.resolve("chain.pem"), pem("CERTIFICATE", certificate.getEncoded()));
        final Path key = Files.writeString(dir.resolve("key.pem"), pem("PRIVATE KEY", pair.getPrivate().getEncoded()));
        final Map<String, String> settings = new LinkedHashMap<>();
        settings.put("data-dir", dir.resolve("data").toString());
        settings.put("keys", keys.write(dir.resolve("keys.yaml")).toString());
        settings.put("tls-cert", cert.toString());
        settings.put("tls-key", key.toString());
        return settings;
    }

    private static String pem(final String type, final byte[] der)
    {
        return "-----BEGIN " + type + "-----\n"
            + Base64.getMimeEncoder(64, new byte[] {'\n'}).encodeToString(der)
            + "\n-----END " + type + "-----\n";
    }

    /** @return a client that trusts only the test certificate, limited to the given protocols. */
    private Client https(final String... protocols) throws Exception
    {
        final KeyStore trust = KeyStore.getInstance(KeyStore.getDefaultType());
        trust.load(null, null);
        trust.setCertificateEntry("tokenmeter-test", certificate);
        final TrustManagerFactory factory = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        factory.init(trust);
        final SSLContext context = SSLContext.getInstance("TLS");
        context.init(null, factory.getTrustManagers(), null);
        final HttpClient.Builder http = HttpClient.newBuilder().sslContext(context).connectTimeout(Duration.ofSeconds(5));
        if (protocols.length > 0)
        {
            final SSLParameters parameters = context.getDefaultSSLParameters();
            parameters.setProtocols(protocols);
            http.sslParameters(parameters);
        }
        return new Client("https://localhost:" + server.port(), http.build(), null);
    }

    @Test
    void ingestAndReadsWorkOverHttps() throws Exception
    {
        server = TestServer.start(dir, tlsSettings());
        final Client client = https();
        final Client.Answer posted = client.withKey(keys.secret("gateway")).post("/v1/events", "application/json",
            "{\"id\":\"tls-1\",\"tenant\":\"acme\",\"model\":\"m\",\"output_tokens\":42}");
        assertEquals(202, posted.status(), posted.body());
        assertEquals("TLSv1.3", posted.response().sslSession().orElseThrow().getProtocol());
        final Client.Answer usage = client.withKey(keys.secret("finance"))
            .get("/v1/usage?tenant=acme&from=2000-01-01T00:00:00Z&to=2100-01-01T00:00:00Z&consistent=true");
        assertEquals(42, usage.json().get("rows").get(0).get("output_tokens").asInt(), usage.body());
        assertEquals(401, client.get("/v1/prices").status(), "keys are checked over HTTPS as over HTTP");
    }

    @Test
    void tls12ClientsAreServed() throws Exception
    {
        server = TestServer.start(dir, tlsSettings());
        final Client.Answer live = https("TLSv1.2").get("/health/live");
        assertEquals(200, live.status());
        assertEquals("TLSv1.2", live.response().sslSession().orElseThrow().getProtocol());
    }

    @Test
    void theServerOffersOnlyTls13And12() throws Exception
    {
        final Map<String, String> settings = tlsSettings();
        final var context = HttpServer.tlsContext(Path.of(settings.get("tls-cert")), Path.of(settings.get("tls-key")));
        final var engine = context.newEngine(io.netty.buffer.ByteBufAllocator.DEFAULT);
        assertEquals(java.util.Set.of("TLSv1.3", "TLSv1.2"), java.util.Set.of(engine.getEnabledProtocols()));
    }

    @Test
    void plainHttpOnTheHttpsPortGetsNoHttpAnswer() throws Exception
    {
        server = TestServer.start(dir, tlsSettings());
        try (Socket socket = new Socket())
        {
            socket.connect(new InetSocketAddress("127.0.0.1", server.port()), 5000);
            socket.setSoTimeout(10_000);
            final OutputStream out = socket.getOutputStream();
            out.write(("GET /health/live HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " + keys.secret("finance")
                + "\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
            out.flush();
            final InputStream in = socket.getInputStream();
            final byte[] answer = in.readNBytes(5);
            assertFalse(new String(answer, StandardCharsets.US_ASCII).startsWith("HTTP/"), "no plain HTTP answer");
        }
        catch (final java.net.SocketException closed)
        {
            // the server closed the connection (reset): no HTTP answer either
        }
        assertEquals(200, https().get("/health/live").status(), "the server is still up");
    }

    @Test
    void aKeyThatIsNotPemStopsTheStartWithAClearMessage() throws Exception
    {
        final Map<String, String> settings = tlsSettings();
        Files.writeString(Path.of(settings.get("tls-key")), "not a key\n");
        final SettingsException failure = assertThrows(SettingsException.class, () -> TestServer.start(dir, settings));
        assertTrue(failure.getMessage().contains("tls-key " + settings.get("tls-key")), failure.getMessage());
        assertTrue(failure.getMessage().contains("PKCS#8"), failure.getMessage());

        settings.remove("tls-key");
        final SettingsException half = assertThrows(SettingsException.class, () -> TestServer.start(dir, settings));
        assertTrue(half.getMessage().contains("needs tls-key too"), half.getMessage());
    }
}

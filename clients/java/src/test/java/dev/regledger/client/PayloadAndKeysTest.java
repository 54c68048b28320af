package dev.regledger.client;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.regledger.client.NoteKeys.SignerKey;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Payload bytes, request_id, key files and the strict codecs. */
class PayloadAndKeysTest {
    @Test
    void payloadBytesAreSignedExactly() {
        String text = "{ \"id\" : \"P-1\",\n  \"reason\":\"整改\\u0041\", \"effective_on\":\"2025-04-01\" }";
        Payload p = Payload.ofJson(text);
        assertArrayEquals(text.getBytes(StandardCharsets.UTF_8), p.bytes());
        Envelope e = Envelope.sign("product-suspended", p, TestLog.party("gx-operator", 4));
        assertArrayEquals(text.getBytes(StandardCharsets.UTF_8), e.payload());
        assertArrayEquals(text.getBytes(StandardCharsets.UTF_8), Envelope.fromJson(Json.parse(Codec.utf8(Json.write(e.toJson())), 1 << 20)).payload());
        assertThrows(IllegalArgumentException.class, () -> Payload.ofJson("[1]"));
        assertThrows(IllegalArgumentException.class, () -> Payload.ofJson("{\"a\":1,\"a\":2}"));
        assertThrows(IllegalArgumentException.class, () -> Payload.ofJson("{\"a\":\"" + "x".repeat(61440) + "\"}"));
    }

    @Test
    void requestIdIsInsertedAndEverythingElseKept() {
        Payload p = Payload.ofJson("  {\"id\":\"P-1\"}");
        Payload q = p.withRequestId("9f1c0c2e-7b1e-4d8e-9a57-1b2c3d4e5f60");
        assertEquals("  {\"request_id\":\"9f1c0c2e-7b1e-4d8e-9a57-1b2c3d4e5f60\",\"id\":\"P-1\"}", q.toString());
        assertEquals("9f1c0c2e-7b1e-4d8e-9a57-1b2c3d4e5f60", q.requestId());
        assertEquals("{\"request_id\":\"a\\\"b\"}", Payload.ofJson("{}").withRequestId("a\"b").toString());
        assertThrows(IllegalArgumentException.class, () -> q.withRequestId("again"));
        for (String bad : new String[] {"", "has space", "x".repeat(65), "非ASCII"}) {
            assertThrows(IllegalArgumentException.class, () -> p.withRequestId(bad), bad);
        }
        assertTrue(Payload.validRequestId(Payload.randomRequestId()));
    }

    @Test
    void participantKeyFiles(@TempDir Path dir) throws IOException {
        SignerKey k = SignerKey.generate("gx-operator", NoteKeys.TYPE_ED25519);
        Path f = dir.resolve("operator.key");
        Files.writeString(f, k.skey() + "\n");
        ParticipantKey p = ParticipantKey.load(f);
        assertEquals("gx-operator", p.participantId());
        assertTrue(p.keyId().matches("gx-operator/[0-9a-f]{8}"));
        assertEquals(p.keyId(), ParticipantKey.keyIdOf("gx-operator", k.publicKey()));
        assertTrue(!p.toString().contains(k.skey().substring(30)), "toString never shows the secret");
        Files.writeString(f, k.skey().replace(String.format("+%08x+", k.keyId()), String.format("+%08x+", k.keyId() ^ 1)));
        assertThrows(IOException.class, () -> ParticipantKey.load(f));
        assertThrows(IOException.class, () -> ParticipantKey.load(dir));
        Files.write(f, new byte[ParticipantKey.MAX_KEY_FILE_BYTES + 1]);
        assertThrows(IOException.class, () -> ParticipantKey.load(f));
        SignerKey w = SignerKey.generate("w.example", NoteKeys.TYPE_COSIGNATURE_V1);
        assertThrows(IllegalArgumentException.class, () -> ParticipantKey.of(w));
        assertThrows(IllegalArgumentException.class, () -> ParticipantKey.generate("名字"));
        assertThrows(IllegalArgumentException.class, () -> ParticipantKey.generate("x".repeat(120)));
    }

    @Test
    void strictCodecs() {
        assertArrayEquals(new byte[] {(byte) 0xfb}, Codec.unb64("+w=="));
        for (String bad : new String[] {"+w", "+x==", "+w==\n", "-w==", "+w=a"}) {
            assertThrows(IllegalArgumentException.class, () -> Codec.unb64(bad), bad);
        }
        assertEquals(-1L, Codec.parseU64("18446744073709551615"));
        for (String bad : new String[] {"", "01", "-1", "+1", "18446744073709551616", "1e3"}) {
            assertThrows(IllegalArgumentException.class, () -> Codec.parseU64(bad), bad);
        }
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("名", "a\"\\\u0001</>");
        m.put("n", 18446744073709551615.0 > 0 ? new java.math.BigInteger("18446744073709551615") : null);
        assertEquals("{\"名\":\"a\\\"\\\\\\u0001</>\",\"n\":18446744073709551615}", Json.write(m));
        assertThrows(IllegalArgumentException.class, () -> Json.write(Map.of("f", 1.5)));
        assertEquals(-1L, Json.u64(Json.object(Json.parse(Codec.utf8("{\"i\":18446744073709551615}"), 64), "x"), "i"));
        assertThrows(IllegalArgumentException.class, () -> Json.u64(Json.object(Json.parse(Codec.utf8("{\"i\":1.5}"), 64), "x"), "i"));
        assertThrows(IllegalArgumentException.class, () -> Json.parse(Codec.utf8("{}"), 1));
    }

    @Test
    void problemsAreTyped() {
        ProblemException p = ProblemException.parse(409, Codec.utf8("{\"type\":\"https://regledger.dev/problems/replayed-envelope\","
                + "\"title\":\"Envelope already logged\",\"status\":409,\"detail\":\"this signed content is already entry 17; to repeat\"}"), null);
        assertTrue(p.isReplay());
        assertEquals(17, p.replayedIndex().getAsLong());
        ProblemException q = ProblemException.parse(409, Codec.utf8("{\"type\":\"https://regledger.dev/problems/replayed-envelope\","
                + "\"index\":5,\"detail\":\"entry 17\"}"), null);
        assertEquals(5, q.replayedIndex().getAsLong(), "a structured index wins over the text");
        ProblemException h = ProblemException.parse(502, Codec.utf8("<html>bad gateway</html>"), null);
        assertEquals("about:blank", h.code());
        assertTrue(h.isRetryable());
        ProblemException r = ProblemException.parse(403, Codec.utf8("{\"type\":\"https://regledger.dev/problems/wrong-party\",\"detail\":\"x\"}"), "Guangxi Art. 12");
        assertEquals("wrong-party", r.code());
        assertTrue(!r.isRetryable() && r.getMessage().contains("Guangxi Art. 12"));
    }
}

package dev.regledger.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.ServerSocket;
import java.net.URI;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** RegledgerClient against a fake node on loopback that behaves, then lies. */
class ClientTest {
    static RegledgerClient client(FakeNode n) {
        return RegledgerClient.builder(n.url(), n.log.descriptor()).maxAttempts(4)
                .backoff(Duration.ofMillis(10), Duration.ofMillis(50)).inclusionTimeout(Duration.ofSeconds(5)).build();
    }

    static FakeNode node() throws Exception {
        return new FakeNode(new TestLog(HashSuite.BLAKE3, 2, 2).setup());
    }

    static Map<String, Object> suspend(String id) {
        return TestLog.status(id);
    }

    @Test
    void submitReturnsAVerifiedReceipt() throws Exception {
        try (FakeNode n = node()) {
            RegledgerClient c = client(n);
            Receipt r = c.submit("product-registered", Payload.of(TestLog.registration("GXDP-2025-000001")), n.log.operator);
            assertEquals(4, r.index());
            assertFalse(r.replayed());
            assertEquals("product-registered", r.kind());
            assertEquals(BlockchainNo.of(n.log.origin, 4, n.log.hashes.get(4)), r.blockchainNo().orElseThrow());
            assertEquals(5, r.checkpoint().size());
            assertEquals(2, r.checkpoint().witnesses().size());
            assertEquals(r.checkpoint().note(), c.latestCheckpoint());
            Receipt s = c.submit("product-suspended", Payload.of(suspend("P-1")), n.log.operator);
            assertEquals(5, s.index());
            assertTrue(s.blockchainNo().isEmpty());
        }
    }

    @Test
    void aLostAnswerIsRetriedAndTheReplayIsTheReceipt() throws Exception {
        try (FakeNode n = node()) {
            n.lostAnswers = 1;
            Receipt r = client(n).submit("product-suspended", Payload.of(suspend("P-1")), n.log.operator);
            assertEquals(2, n.posts.get());
            assertEquals(5, n.log.leaves.size(), "the retry added nothing");
            assertEquals(4, r.index());
            assertTrue(r.replayed());
        }
    }

    @Test
    void overloadIsRetriedThenRulesAreNot() throws Exception {
        try (FakeNode n = node()) {
            n.overloaded = 2;
            assertEquals(4, client(n).submit("product-suspended", Payload.of(suspend("P-1")), n.log.operator).index());
            assertEquals(3, n.posts.get());
            n.posts.set(0);
            n.problemFor = Map.of("status", 409, "code", "invalid-transition", "detail", "product P-1 is suspended");
            ProblemException p = assertThrows(ProblemException.class,
                    () -> client(n).submit("product-suspended", Payload.of(suspend("P-2")), n.log.operator));
            assertEquals("invalid-transition", p.code());
            assertEquals(409, p.status());
            assertEquals("Guangxi Art. 12", p.citation().orElseThrow());
            assertEquals(1, n.posts.get(), "a rule refusal is not retried");
        }
    }

    @Test
    void aRequestIdMakesADeliberateRepeatANewEntry() throws Exception {
        try (FakeNode n = node()) {
            RegledgerClient c = client(n);
            Payload p = Payload.of(suspend("P-1"));
            Receipt a = c.submit("product-suspended", p.withRequestId("req-1"), n.log.operator);
            Receipt b = c.submit("product-suspended", p.withRequestId("req-2"), n.log.operator);
            Receipt again = c.submit("product-suspended", p.withRequestId("req-1"), n.log.operator);
            assertNotEquals(a.index(), b.index());
            assertFalse(b.replayed());
            assertEquals(a.index(), again.index());
            assertTrue(again.replayed());
        }
    }

    @Test
    void aNodeThatLiesIsCaught() throws Exception {
        // The replay names an entry that holds other content.
        try (FakeNode n = node()) {
            n.lostAnswers = 1;
            n.replayIndexLie = 1L;
            VerificationException e = assertThrows(VerificationException.class,
                    () -> client(n).submit("product-suspended", Payload.of(suspend("P-1")), n.log.operator));
            assertEquals("entry", e.part());
        }
        // A receipt whose leaf hash is not the leaf's.
        try (FakeNode n = node()) {
            n.receiptTamper = r -> {
                Map<String, Object> m = new LinkedHashMap<>(r);
                m.put("leaf_hash", Codec.hex(new byte[32]));
                return m;
            };
            VerificationException e = assertThrows(VerificationException.class,
                    () -> client(n).submit("product-suspended", Payload.of(suspend("P-1")), n.log.operator));
            assertEquals("receipt.leaf_hash", e.part());
        }
        // An inclusion proof that leads elsewhere.
        try (FakeNode n = node()) {
            n.receiptTamper = r -> {
                Map<String, Object> m = new LinkedHashMap<>(r);
                m.put("inclusion_proof", n.log.inclusionB64(3, 5));
                return m;
            };
            VerificationException e = assertThrows(VerificationException.class,
                    () -> client(n).submit("product-suspended", Payload.of(suspend("P-1")), n.log.operator));
            assertEquals("receipt.inclusion_proof", e.part());
        }
        // A leaf served for the index that is another entry's.
        try (FakeNode n = node()) {
            n.leafOverride = Map.of(4L, n.log.leaves.get(3));
            n.log.append("product-suspended", suspend("P-9"), n.log.operator);
            assertThrows(VerificationException.class, () -> client(n).entry(4));
        }
        // A checkpoint missing one witness's cosignature (quorum 2 of 2).
        try (FakeNode n = node()) {
            n.checkpointOverride = n.log.checkpoint(4, 1);
            VerificationException e = assertThrows(VerificationException.class, () -> client(n).checkpoint());
            assertTrue(e.reason().contains("quorum"), e.reason());
        }
    }

    @Test
    void forksAndRollbacksAreRefused() throws Exception {
        try (FakeNode n = node()) {
            RegledgerClient c = client(n);
            String seen = c.checkpoint().note();
            // Same size, another root (the log key signed two histories).
            TestLog other = new TestLog(HashSuite.BLAKE3, 2, 2);
            other.setup();
            other.leaves.set(3, n.log.leaves.get(2));
            other.hashes.set(3, HashSuite.BLAKE3.leafHash(n.log.leaves.get(2)));
            n.checkpointOverride = other.checkpoint(4);
            VerificationException e = assertThrows(VerificationException.class, c::checkpoint);
            assertTrue(e.reason().contains("forked"), e.reason());
            // A larger checkpoint that does not extend the one seen.
            other.append("product-suspended", suspend("P-1"), other.operator);
            n.log.append("product-suspended", suspend("P-1"), n.log.operator);
            n.checkpointOverride = other.checkpoint(5);
            e = assertThrows(VerificationException.class, c::checkpoint);
            assertTrue(e.reason().contains("consistent"), e.reason());
            // The honest extension is accepted, and a client started from the
            // saved checkpoint demands consistency with it.
            n.checkpointOverride = null;
            assertEquals(5, c.checkpoint().size());
            RegledgerClient resumed = RegledgerClient.builder(n.url(), n.log.descriptor()).trustedCheckpoint(seen).build();
            assertEquals(5, resumed.checkpoint().size());
        }
    }

    @Test
    void noNodeIsATransportErrorThatSaysRetryingIsSafe() throws Exception {
        int port;
        try (ServerSocket s = new ServerSocket(0)) {
            port = s.getLocalPort();
        }
        TestLog log = new TestLog(HashSuite.SHA256, 0, 0).setup();
        RegledgerClient c = RegledgerClient.builder(URI.create("http://127.0.0.1:" + port), log.descriptor())
                .maxAttempts(2).backoff(Duration.ofMillis(1), Duration.ofMillis(1)).build();
        TransportException e = assertThrows(TransportException.class,
                () -> c.submit("product-suspended", Payload.of(suspend("P-1")), log.operator));
        assertTrue(e.getMessage().contains("connection refused") && e.getMessage().contains("safe"), e.getMessage());
    }
}

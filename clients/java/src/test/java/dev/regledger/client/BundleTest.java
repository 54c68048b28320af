package dev.regledger.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;

/** Certificate bundles: what verifies, what is honestly unproven, and every tamper refused by part. */
class BundleTest {
    static final String NO = "GXDP-2025-000001";

    /** A log: setup (0..3), registration by the operator (4), suspension by the operator (5). */
    static TestLog logWithSuspension() {
        TestLog l = new TestLog(HashSuite.BLAKE3, 1, 1).setup();
        l.append("product-registered", TestLog.registration(NO), l.operator);
        l.append("product-suspended", TestLog.status("P-1"), l.operator);
        return l;
    }

    static byte[] bytes(Map<String, Object> b) {
        return Codec.utf8(Json.write(b));
    }

    @Test
    void anAnchoredBundleVerifiesAndItsStatusIsNotClaimedCurrent() {
        TestLog l = logWithSuspension();
        VerifiedCertificate c = CertificateBundle.verify(bytes(l.bundle(4, 5, "suspended", List.of(0L, 2L))), l.descriptor());
        assertEquals(NO, c.registrationNo());
        assertEquals("公交客流预测服务", c.field("product_name"));
        assertEquals(BlockchainNo.of(l.origin, 4, l.hashes.get(4)), c.blockchainNo());
        assertEquals("gx-operator", c.signer());
        assertEquals("operator", c.signerRole());
        assertTrue(c.signerChainAnchored());
        assertEquals(List.of(0L, 2L), c.signerChain());
        assertEquals("suspended", c.status());
        assertEquals(5, c.statusSetByIndex());
        assertEquals("gx-operator", c.statusSigner());
        assertFalse(c.statusProvenCurrent());
        assertTrue(c.statusStatement().startsWith("状态 suspended") && c.statusStatement().contains("NOT proven current"));
        assertEquals(1, c.checkpoint().witnesses().size());
    }

    @Test
    void aForgedActiveStatusVerifiesOnlyAsWhatItIsNotProvenCurrent() {
        // Issue 12 item 9(a): anyone can swap status for {"state":"active","set_by_index":<registration>}.
        // A v1 bundle cannot show that later entry 5 exists, so this verifies; the
        // result must then never present "active" as the current status.
        TestLog l = logWithSuspension();
        VerifiedCertificate c = CertificateBundle.verify(bytes(l.bundle(4, 4, "active", List.of(0L, 2L))), l.descriptor());
        assertEquals("active", c.status());
        assertFalse(c.statusProvenCurrent());
        assertTrue(c.statusStatement().contains("未证明为当前状态"), c.statusStatement());
    }

    @Test
    void aBundleWithoutGenesisIsRefused() {
        TestLog l = logWithSuspension();
        VerificationException e = assertThrows(VerificationException.class,
                () -> CertificateBundle.verify(bytes(l.bundle(4, 5, "suspended", List.of(2L))), l.descriptor()));
        assertEquals("signer_entries[0].index", e.part());
    }

    @Test
    void aSignerRegisteredByAnUnknownKeyIsRefusedOnceAnchored() {
        // Issue 12 item 9(b): a signer "registered" by an entry whose signature is by no authority.
        TestLog l = new TestLog(HashSuite.SHA256, 0, 0).setup();
        long fake = l.append("participant-registered", TestLog.spec(l.stranger, "operator"), l.stranger);
        Map<String, Object> reg = TestLog.registration(NO);
        long r = l.append("product-registered", reg, l.stranger);
        Map<String, Object> b = l.bundle(r, r, "active", List.of(0L, fake));
        VerificationException e = assertThrows(VerificationException.class, () -> CertificateBundle.verify(bytes(b), l.descriptor()));
        assertEquals("signer_entries", e.part());
        // A business entity may not register products.
        TestLog m = new TestLog(HashSuite.SHA256, 0, 0).setup();
        long r2 = m.append("product-registered", TestLog.registration(NO), m.business);
        e = assertThrows(VerificationException.class,
                () -> CertificateBundle.verify(bytes(m.bundle(r2, r2, "active", List.of(0L, 3L))), m.descriptor()));
        assertTrue(e.reason().contains("may not submit product-registered"), e.reason());
    }

    @Test
    void aKeyRetiredBeforeTheRegistrationIsRefusedAfterItIsReported() {
        TestLog l = new TestLog(HashSuite.SHA256, 0, 0).setup();
        Map<String, Object> rot = new LinkedHashMap<>();
        rot.put("id", "gx-operator");
        rot.put("retire_key_ids", List.of(l.operator.keyId()));
        long retired = l.append("participant-key-rotated", rot, l.authority);
        long r = l.append("product-registered", TestLog.registration(NO), l.operator);
        VerificationException e = assertThrows(VerificationException.class,
                () -> CertificateBundle.verify(bytes(l.bundle(r, r, "active", List.of(0L, 2L, retired))), l.descriptor()));
        assertTrue(e.reason().contains("retired"), e.reason());

        TestLog m = new TestLog(HashSuite.SHA256, 0, 0).setup();
        long r2 = m.append("product-registered", TestLog.registration(NO), m.operator);
        long later = m.append("participant-key-rotated", rot, m.authority);
        VerifiedCertificate c = CertificateBundle.verify(bytes(m.bundle(r2, r2, "active", List.of(0L, 2L, later))), m.descriptor());
        assertEquals(later, c.signerKeyRetiredAt().getAsLong());
    }

    @Test
    void aRequireSm2LogRefusesEd25519ParticipantKeysAsTheRustVerifierDoes() {
        // D19: genesis require_sm2 makes every participant key SM2; the Rust
        // verifier's signer-history replay refuses an Ed25519 one (the
        // registry's decode_key), so must this client. The same bundles go
        // through the Rust verifier in tests/tests/java_client.rs.
        for (RequireSm2Cases.Case c : RequireSm2Cases.all()) {
            byte[] b = bytes(c.bundle);
            if (c.part == null) {
                CertificateBundle.verify(b, c.log.descriptor());
                continue;
            }
            VerificationException e = assertThrows(VerificationException.class,
                    () -> CertificateBundle.verify(b, c.log.descriptor()), c.name);
            assertEquals(c.part, e.part(), c.name + ": " + e.getMessage());
            assertTrue(e.reason().contains("require_sm2"), c.name + ": " + e.getMessage());
        }
    }

    @SuppressWarnings("unchecked")
    static Map<String, Object> mutable(Object o) {
        Map<String, Object> m = new LinkedHashMap<>((Map<String, Object>) o);
        for (Map.Entry<String, Object> e : m.entrySet()) {
            if (e.getValue() instanceof Map) {
                e.setValue(mutable(e.getValue()));
            } else if (e.getValue() instanceof List) {
                List<Object> l = new ArrayList<>();
                for (Object x : (List<Object>) e.getValue()) {
                    l.add(x instanceof Map ? mutable(x) : x);
                }
                e.setValue(l);
            }
        }
        return m;
    }

    @SuppressWarnings("unchecked")
    static void refused(TestLog l, String part, Consumer<Map<String, Object>> tamper) {
        Map<String, Object> b = mutable(l.bundle(4, 5, "suspended", List.of(0L, 2L)));
        CertificateBundle.verify(bytes(b), l.descriptor());
        tamper.accept(b);
        VerificationException e = assertThrows(VerificationException.class,
                () -> CertificateBundle.verify(bytes(b), l.descriptor()), part);
        assertTrue(e.part().startsWith(part), "want " + part + ", got " + e.getMessage());
    }

    @SuppressWarnings("unchecked")
    static Map<String, Object> at(Map<String, Object> b, String k) {
        return (Map<String, Object>) b.get(k);
    }

    @Test
    @SuppressWarnings("unchecked")
    void everyTamperIsRefusedNamingThePart() {
        TestLog l = logWithSuspension();
        refused(l, "certificate.product_name", b -> at(b, "certificate").put("product_name", "另一个产品"));
        refused(l, "certificate.update_cycle", b -> at(b, "certificate").remove("update_cycle"));
        refused(l, "blockchain_no", b -> b.put("blockchain_no", BlockchainNo.of(l.origin, 5, l.hashes.get(5))));
        refused(l, "entry", b -> {
            byte[] leaf = Codec.unb64((String) at(b, "entry").get("leaf"));
            leaf[leaf.length - 70] ^= 1;
            at(b, "entry").put("leaf", Codec.b64(leaf));
        });
        refused(l, "entry.inclusion_proof", b -> at(b, "entry").put("inclusion_proof", l.inclusionB64(3, 6)));
        refused(l, "previous", b -> b.put("previous", l.entryProof(2, 6)));
        refused(l, "status.state", b -> at(b, "status").put("state", "active"));
        refused(l, "status.entry", b -> at(b, "status").put("entry", l.entryProof(3, 6)));
        refused(l, "signer_entries", b -> b.put("signer_entries", List.of(l.entryProof(2, 6), l.entryProof(0, 6))));
        refused(l, "signer_entries", b -> b.put("signer_entries", List.of(l.entryProof(0, 6), l.entryProof(4, 6))));
        refused(l, "signer_entries", b -> b.put("signer_entries", List.of(l.entryProof(0, 6))));
        refused(l, "checkpoint", b -> b.put("checkpoint", l.checkpoint(6, 0)));
        refused(l, "origin", b -> b.put("origin", "other.example/log"));
        refused(l, "format", b -> b.put("format", "regledger-certificate-bundle/v9"));
        refused(l, "bundle", b -> b.put("status_proof", "trust me"));
        // The wrong descriptor: another hash suite cannot verify any proof.
        Map<String, Object> ok = l.bundle(4, 5, "suspended", List.of(0L, 2L));
        String d = l.descriptorJson().replace("\"blake3\"", "\"sha256\"");
        assertThrows(VerificationException.class,
                () -> CertificateBundle.verify(bytes(ok), LogDescriptor.parse(Codec.utf8(d))));
    }

    @Test
    void hostileJsonIsRefused() {
        TestLog l = logWithSuspension();
        LogDescriptor d = l.descriptor();
        String good = Json.write(l.bundle(4, 5, "suspended", List.of(0L, 2L)));
        for (String bad : new String[] {
            good.replaceFirst("\\{", "{\"format\":\"x\","), // duplicate key
            good + "x", "[".repeat(100) + "]".repeat(100), "{\"a\":\"\\ud800\"}", "{'a':1}", "{\"a\":01}",
            "{\"a\":1,}", "{\"a\":NaN}", "// c\n{}",
        }) {
            assertThrows(VerificationException.class, () -> CertificateBundle.verify(Codec.utf8(bad), d), bad.length() > 60 ? bad.substring(0, 60) : bad);
        }
        assertThrows(VerificationException.class, () -> CertificateBundle.verify(new byte[] {(byte) 0xff, '{', '}'}, d));
    }

    @Test
    void theRolesTableIsTheSchemas() throws IOException {
        for (Map.Entry<String, Set<String>> e : CertificateBundle.ROLES.entrySet()) {
            Path p = Vectors.repo().resolve("schemas/entries/" + e.getKey() + ".schema.json");
            Map<String, Object> s = Json.object(Json.parse(Files.readAllBytes(p), 1 << 20), "schema");
            Set<String> roles = new TreeSet<>();
            for (Object r : Json.array(s.get("x-allowed-roles"), "x-allowed-roles")) {
                roles.add((String) r);
            }
            assertEquals(new TreeSet<>(e.getValue()), roles, e.getKey());
        }
    }
}

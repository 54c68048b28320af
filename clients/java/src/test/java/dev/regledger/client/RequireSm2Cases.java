package dev.regledger.client;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * RequireSm2Cases are certificate bundles of {@code sm3} logs whose genesis
 * may say {@code require_sm2} (D19: every participant key, the authority's
 * included, must be SM2). A node enforcing the rule never writes the
 * hostile ones; a node that skipped it, or a forger, could serve them.
 * {@link BundleTest} checks this client's verdicts, and
 * tests/tests/java_client.rs has {@link HostileBundles} write the same
 * bundles so that the Rust verifier must reach the same verdict, naming the
 * same part.
 */
final class RequireSm2Cases {
    private RequireSm2Cases() {}

    /** Case is one bundle and the verdict expected: refused naming {@code part}, or verified (null). */
    static final class Case {
        final String name;
        final TestLog log;
        final Map<String, Object> bundle;
        final String part;

        Case(String name, TestLog log, Map<String, Object> bundle, String part) {
            this.name = name;
            this.log = log;
            this.bundle = bundle;
            this.part = part;
        }
    }

    static final String NO = BundleTest.NO;

    static TestLog sm3(boolean requireSm2) {
        TestLog l = new TestLog(HashSuite.SM3, 1, 1);
        l.requireSm2 = requireSm2;
        return l.setup();
    }

    /** registeredBy registers {@code k} as an operator (entry 4) and has it register the product (entry 5). */
    static Map<String, Object> registeredBy(TestLog l, ParticipantKey k) {
        long p = l.append("participant-registered", TestLog.spec(k, "operator"), l.authority);
        long r = l.append("product-registered", TestLog.registration(NO), k);
        return l.bundle(r, r, "active", List.of(0L, p));
    }

    static List<Case> all() {
        List<Case> out = new ArrayList<>();
        // An Ed25519 operator registered in a require_sm2 log: refused where it is registered.
        TestLog a = sm3(true);
        out.add(new Case("ed25519-participant", a, registeredBy(a, a.edOperator), "signer_entries[1]"));
        // The same log without require_sm2: an sm3 log may hold Ed25519 participant keys.
        TestLog b = sm3(false);
        out.add(new Case("ed25519-participant-allowed", b, registeredBy(b, b.edOperator), null));
        // An SM2 operator in a require_sm2 log verifies.
        TestLog c = sm3(true);
        out.add(new Case("sm2-participant", c, registeredBy(c, TestLog.party("gx-sm2-operator", 6,
                NoteKeys.KeyType.SM2)), null));
        // An Ed25519 key added by rotation to the SM2 operator, then signing the registration.
        TestLog d = sm3(true);
        ParticipantKey edKey = TestLog.party(d.operator.participantId(), 7, NoteKeys.KeyType.ED25519);
        Map<String, Object> rot = new LinkedHashMap<>();
        rot.put("id", d.operator.participantId());
        rot.put("add_keys", List.of(edKey.publicKeyBase64()));
        long rotated = d.append("participant-key-rotated", rot, d.authority);
        long r = d.append("product-registered", TestLog.registration(NO), edKey);
        out.add(new Case("ed25519-key-added", d, d.bundle(r, r, "active", List.of(0L, 2L, rotated)),
                "signer_entries[2]"));
        // A require_sm2 genesis whose own authority key is Ed25519.
        TestLog e = new TestLog(HashSuite.SM3, 1, 1, NoteKeys.KeyType.ED25519);
        e.requireSm2 = true;
        e.setup();
        long r2 = e.append("product-registered", TestLog.registration(NO), e.operator);
        out.add(new Case("ed25519-authority", e, e.bundle(r2, r2, "active", List.of(0L, 2L)), "signer_entries[0]"));
        return out;
    }
}

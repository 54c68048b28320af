package dev.regledger.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.Arrays;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The state map proofs of schemas/vectors/statemap.json (both suites), written from FORMATS.md "State
 * map", and the hostile cases: a flipped byte, a presence proof read as an
 * absence, a wrong value, another key, a wrong root, non-canonical bytes.
 */
class StateMapTest {
    static byte[] u(Map<String, Object> o, String k) {
        return Codec.utf8(Vectors.s(o, k));
    }

    @Test
    void vectorsOfBothSuites() throws Exception {
        Map<String, Object> v = Vectors.load("schemas/vectors/statemap.json");
        int n = 0;
        for (Object o : Vectors.arr(v, "suites")) {
            Map<String, Object> s = Vectors.m(o);
            HashSuite h = HashSuite.fromName(Vectors.s(s, "hash"));
            for (Object e : Vectors.arr(s, "entries")) {
                Map<String, Object> x = Vectors.m(e);
                byte[] k = StateMap.keyHash(h, u(x, "key_utf8"));
                assertEquals(Vectors.s(x, "key_hash"), Codec.hex(k));
                byte[] val = StateMap.valueHash(h, u(x, "value_utf8"));
                assertEquals(Vectors.s(x, "value_hash"), Codec.hex(val));
                assertEquals(Vectors.s(x, "leaf_hash"), Codec.hex(StateMap.leaf(h, k, val)));
            }
            Map<String, Object> pr = Vectors.obj(s, "presence");
            byte[] root = Vectors.hex(pr, "root");
            StateMap.Proof p = StateMap.Proof.parse(Vectors.hex(pr, "proof"));
            StateMap.verifyPresence(h, root, u(pr, "key_utf8"), u(pr, "value_utf8"), p);
            // Hostile: another value, the proof read as an absence, another key, another root.
            assertThrows(StateMap.ProofException.class,
                    () -> StateMap.verifyPresence(h, root, u(pr, "key_utf8"), Codec.utf8("revoked"), p));
            assertThrows(StateMap.ProofException.class, () -> StateMap.verifyAbsence(h, root, u(pr, "key_utf8"), p));
            assertThrows(StateMap.ProofException.class,
                    () -> StateMap.verifyPresence(h, root, Codec.utf8("regno/GXDP-2025-000009"), u(pr, "value_utf8"), p));
            byte[] wrongRoot = root.clone();
            wrongRoot[0] ^= 1;
            assertThrows(StateMap.ProofException.class,
                    () -> StateMap.verifyPresence(h, wrongRoot, u(pr, "key_utf8"), u(pr, "value_utf8"), p));
            byte[] raw = Vectors.hex(pr, "proof");
            for (int i = 4; i < raw.length; i++) {
                byte[] bad = raw.clone();
                bad[i] ^= 0x01;
                boolean refused;
                try {
                    StateMap.verifyPresence(h, root, u(pr, "key_utf8"), u(pr, "value_utf8"), StateMap.Proof.parse(bad));
                    refused = false;
                } catch (StateMap.ProofException x) {
                    refused = true;
                }
                assertEquals(true, refused, "flipped byte " + i);
            }
            assertThrows(StateMap.ProofException.class, () -> StateMap.Proof.parse(Arrays.copyOf(raw, raw.length + 1)));

            for (String a : new String[] {"absence_empty", "absence_other_leaf"}) {
                Map<String, Object> ab = Vectors.obj(s, a);
                StateMap.Proof q = StateMap.Proof.parse(Vectors.hex(ab, "proof"));
                StateMap.verifyAbsence(h, Vectors.hex(ab, "root"), u(ab, "key_utf8"), q);
                assertThrows(StateMap.ProofException.class,
                        () -> StateMap.verifyPresence(h, Vectors.hex(ab, "root"), u(ab, "key_utf8"), Codec.utf8("x"), q));
                // An absence proof of one key is not one of a key that is present.
                assertThrows(StateMap.ProofException.class,
                        () -> StateMap.verifyAbsence(h, Vectors.hex(ab, "root"), u(pr, "key_utf8"), q));
            }
            n++;
        }
        assertEquals(2, n);
    }
}

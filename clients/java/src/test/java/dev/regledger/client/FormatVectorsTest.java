package dev.regledger.client;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.regledger.client.NoteKeys.SignerKey;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * schemas/vectors/formats.json, re-derived with this library alone: the
 * proof that schemas/FORMATS.md is enough to write every byte.
 */
class FormatVectorsTest {
    static final Map<String, Object> V = Vectors.load("schemas/vectors/formats.json");

    @Test
    void envelopePaeSignatureBinaryAndJson() {
        Map<String, Object> e = Vectors.obj(V, "envelope");
        byte[] seed = Vectors.hex(e, "signer_seed");
        assertArrayEquals(Vectors.hex(e, "public_key"), Ed25519.publicKey(seed));
        ParticipantKey k = ParticipantKey.of(SignerKey.of(Vectors.s(e, "participant_id"), NoteKeys.TYPE_ED25519, seed));
        assertEquals(Vectors.s(e, "key_id"), k.keyId());
        Payload p = Payload.ofJson(Vectors.s(e, "payload_utf8"));
        String kind = "product-registered";
        assertEquals(Vectors.s(e, "payload_type"), Envelope.payloadTypeFor(kind));
        assertEquals(Vectors.s(e, "pae"), Codec.hex(Envelope.pae(Envelope.payloadTypeFor(kind), p.bytes())));
        Envelope env = Envelope.sign(kind, p, k);
        assertEquals(Vectors.s(e, "signature"), Codec.hex(env.signatures().get(0).sig()));
        assertEquals(Vectors.s(e, "binary"), Codec.hex(env.toBinary()));
        // The API form: same members, same values.
        assertTrue(Json.jsonEquals(Vectors.obj(e, "json"), Json.parse(Codec.utf8(Json.write(env.toJson())), 1 << 20)));
        Envelope back = Envelope.fromJson(Vectors.obj(e, "json"));
        assertArrayEquals(env.toBinary(), back.toBinary());
        assertArrayEquals(env.toBinary(), Envelope.fromBinary(env.toBinary()).toBinary());
        assertTrue(env.verifySignature(k.keyId(), Vectors.hex(e, "public_key")));
        // Replay identity: the signed content (SHA-256 of the PAE) once the
        // envelope change lands; before it, SHA-256 of the binary form.
        if (e.containsKey("content_id_sha256")) {
            assertEquals(Vectors.s(e, "content_id_sha256"), Codec.hex(env.contentId()));
        }
        if (e.containsKey("replay_identity_sha256")) {
            assertEquals(Vectors.s(e, "replay_identity_sha256"), Codec.hex(Codec.sha256(env.toBinary())));
        }
        assertEquals(Codec.hex(Codec.sha256(Envelope.pae(env.payloadType(), p.bytes()))), Codec.hex(env.contentId()));
        // One flipped payload byte: the signature no longer verifies.
        byte[] bin = env.toBinary();
        bin[60] ^= 1;
        assertFalse(Envelope.fromBinary(bin).verifySignature(k.keyId(), Vectors.hex(e, "public_key")));
    }

    @Test
    void leafHashesAndBlockchainNumber() {
        Map<String, Object> l = Vectors.obj(V, "leaf");
        Map<String, Object> e = Vectors.obj(V, "envelope");
        Envelope env = Envelope.fromBinary(Vectors.hex(e, "binary"));
        long index = Json.u64(l, "index");
        byte[] built = Leaf.build(index, Json.u64(l, "integrated_time_ms"), Vectors.hex(l, "prev_leaf_hash"), env);
        assertEquals(Vectors.s(l, "bytes"), Codec.hex(built));
        Leaf leaf = Leaf.parse(built);
        assertEquals(index, leaf.index());
        assertEquals(Vectors.s(l, "leaf_hash_sha256"), Codec.hex(leaf.leafHash(HashSuite.SHA256)));
        assertEquals(Vectors.s(l, "leaf_hash_blake3"), Codec.hex(leaf.leafHash(HashSuite.BLAKE3)));
        Map<String, Object> b = Vectors.obj(V, "blockchain_no");
        String no = BlockchainNo.of(Vectors.s(b, "origin"), Json.u64(b, "index"), Vectors.hex(b, "leaf_hash"));
        assertEquals(Vectors.s(b, "text"), no);
        assertTrue(BlockchainNo.matches(no, Vectors.s(b, "origin"), index, leaf.leafHash(HashSuite.BLAKE3)));
        assertFalse(BlockchainNo.matches(no, Vectors.s(b, "origin"), index + 1, leaf.leafHash(HashSuite.BLAKE3)));
        assertFalse(BlockchainNo.matches(no.toUpperCase(), Vectors.s(b, "origin"), index, leaf.leafHash(HashSuite.BLAKE3)));
        // Trailing bytes after the envelope are refused.
        byte[] longer = java.util.Arrays.copyOf(built, built.length + 1);
        assertThrows(VerificationException.class, () -> Leaf.parse(longer));
    }

    @Test
    void treesInBothSuites() {
        for (Object t : Vectors.arr(V, "trees")) {
            Map<String, Object> tree = Vectors.m(t);
            HashSuite suite = HashSuite.fromName(Vectors.s(tree, "hash"));
            List<byte[]> leaves = new ArrayList<>();
            List<byte[]> roots = Vectors.hexList(tree.get("roots_by_size"));
            for (int n = 0; n < roots.size(); n++) {
                assertArrayEquals(roots.get(n), Merkle.root(suite, leaves), suite + " size " + n);
                leaves.add(suite.leafHash(("leaf " + n).getBytes(StandardCharsets.UTF_8)));
            }
            Map<String, Object> inc = Vectors.obj(tree, "inclusion");
            long i = Json.u64(inc, "index");
            long size = Json.u64(inc, "size");
            List<byte[]> proof = Vectors.hexList(inc.get("proof"));
            Merkle.verifyInclusion(suite, i, size, leaves.get((int) i), proof, roots.get((int) size));
            assertEquals(Codec.hex(Merkle.root(suite, leaves.subList(0, (int) size))),
                    Codec.hex(roots.get((int) size)));
            for (int j = 0; j < proof.size(); j++) {
                assertArrayEquals(proof.get(j), Merkle.inclusionProof(suite, leaves.subList(0, (int) size), (int) i).get(j));
            }
            assertThrows(Merkle.ProofException.class,
                    () -> Merkle.verifyInclusion(suite, i + 1, size, leaves.get((int) i), proof, roots.get((int) size)));
            Map<String, Object> con = Vectors.obj(tree, "consistency");
            long a = Json.u64(con, "old_size");
            long b = Json.u64(con, "new_size");
            List<byte[]> cp = Vectors.hexList(con.get("proof"));
            Merkle.verifyConsistency(suite, a, b, cp, roots.get((int) a), roots.get((int) b));
            HashSuite other = suite == HashSuite.SHA256 ? HashSuite.BLAKE3 : HashSuite.SHA256;
            Merkle.ProofException x = assertThrows(Merkle.ProofException.class,
                    () -> Merkle.verifyConsistency(other, a, b, cp, roots.get((int) a), roots.get((int) b)));
            assertTrue(x.getMessage().contains(other.wireName()) || x.getMessage().contains("old root"), x.getMessage());
        }
    }

    @Test
    void checkpointSignedAndCosignatureMessage() {
        Map<String, Object> c = Vectors.obj(V, "checkpoint");
        SignerKey log = SignerKey.parse(Vectors.s(c, "log_signer_key"));
        assertEquals(Vectors.s(c, "log_vkey"), log.verifier().vkey());
        assertEquals(Vectors.s(c, "log_signer_key"), log.skey());
        String note = Vectors.s(c, "note");
        SignedNote n = SignedNote.parse(Codec.utf8(note));
        assertEquals(note, SignedNote.sign(n.text(), List.of(log)));
        String logJson = "{\"origin\":\"" + log.name() + "\",\"log_vkey\":\"" + log.verifier().vkey()
                + "\",\"hash\":\"blake3\",\"profile\":\"guangxi\"}";
        LogDescriptor d = LogDescriptor.parse(Codec.utf8(logJson));
        Checkpoint.Verified v = d.verifyCheckpoint(note);
        assertEquals(17, v.size());
        // The root is the BLAKE3 tree of "leaf 0".."leaf 16" above.
        Map<String, Object> blake = null;
        for (Object t : Vectors.arr(V, "trees")) {
            if ("blake3".equals(Vectors.m(t).get("hash"))) {
                blake = Vectors.m(t);
            }
        }
        assertEquals(Codec.hex(v.root()), Codec.hex(Vectors.hexList(blake.get("roots_by_size")).get(17)));
        assertEquals(Vectors.s(c, "cosignature_message_ts_1700000000"),
                new String(NoteKeys.cosignatureMessage(n.text(), 1700000000L), StandardCharsets.UTF_8));
        assertThrows(VerificationException.class, () -> d.verifyCheckpoint(note.replace("\n17\n", "\n18\n")));
    }
}

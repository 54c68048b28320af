package dev.regledger.client;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.regledger.client.NoteKeys.SignerKey;
import dev.regledger.client.NoteKeys.VerifierKey;
import dev.regledger.client.SignedNote.NoteException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The external vectors in ledger/tests/vectors/ (see its README for provenance). */
class ExternalVectorsTest {
    static Map<String, Object> load(String name) {
        return Vectors.load("ledger/tests/vectors/" + name);
    }

    static byte[] hexOrNull(Object o) {
        try {
            byte[] b = Codec.unhex((String) o);
            return b.length == 32 ? b : null;
        } catch (IllegalArgumentException e) {
            return null;
        }
    }

    static List<byte[]> hashesOrNull(Object l) {
        List<byte[]> out = new ArrayList<>();
        for (Object x : Json.array(l, "proof")) {
            byte[] b = hexOrNull(x);
            if (b == null) {
                return null;
            }
            out.add(b);
        }
        return out;
    }

    @Test
    void rfc6962ReferenceTree() {
        Map<String, Object> v = load("rfc6962_reference_tree.json");
        List<byte[]> leaves = new ArrayList<>();
        List<byte[]> roots = Vectors.hexList(v.get("root_hashes_by_size_hex"));
        for (Object in : Vectors.arr(v, "leaf_inputs_hex")) {
            assertArrayEquals(roots.get(leaves.size()), Merkle.root(HashSuite.SHA256, leaves));
            leaves.add(HashSuite.SHA256.leafHash(Codec.unhex((String) in)));
        }
        assertArrayEquals(roots.get(8), Merkle.root(HashSuite.SHA256, leaves));
        for (Object c : Vectors.arr(v, "hasher_cases")) {
            Map<String, Object> m = Vectors.m(c);
            byte[] got;
            switch (Vectors.s(m, "op")) {
                case "empty_root":
                    got = HashSuite.SHA256.emptyRoot();
                    break;
                case "hash_leaf":
                    got = HashSuite.SHA256.leafHash(Vectors.hex(m, "input_hex"));
                    break;
                default:
                    got = HashSuite.SHA256.nodeHash(Vectors.hex(m, "left_hex"), Vectors.hex(m, "right_hex"));
            }
            assertEquals(Vectors.s(m, "want_hex"), Codec.hex(got), Vectors.s(m, "desc"));
        }
    }

    @Test
    void transparencyDevInclusionProbes() {
        List<Object> probes = Vectors.arr(load("tdmerkle_inclusion_probes.json"), "probes");
        assertEquals(98, probes.size());
        int pass = 0;
        int failed = 0;
        for (Object o : probes) {
            Map<String, Object> p = Vectors.m(o);
            boolean wantErr = Json.bool(p, "wantErr");
            byte[] root = hexOrNull(p.get("root"));
            byte[] leaf = hexOrNull(p.get("leafHash"));
            List<byte[]> proof = hashesOrNull(p.get("proof"));
            boolean gotErr;
            if (root == null || leaf == null || proof == null) {
                gotErr = true;
            } else {
                try {
                    Merkle.verifyInclusion(HashSuite.SHA256, Json.u64(p, "leafIdx"), Json.u64(p, "treeSize"), leaf,
                            proof, root);
                    gotErr = false;
                } catch (Merkle.ProofException e) {
                    gotErr = true;
                }
            }
            assertEquals(wantErr, gotErr, Vectors.s(p, "file"));
            if (gotErr) {
                failed++;
            } else {
                pass++;
            }
        }
        assertEquals(6, pass);
        assertEquals(92, failed);
    }

    @Test
    void transparencyDevConsistencyProbes() {
        List<Object> probes = Vectors.arr(load("tdmerkle_consistency_probes.json"), "probes");
        int pass = 0;
        int failed = 0;
        int deviations = 0;
        for (Object o : probes) {
            Map<String, Object> p = Vectors.m(o);
            boolean wantErr = Json.bool(p, "wantErr");
            byte[] r1 = hexOrNull(p.get("root1"));
            byte[] r2 = hexOrNull(p.get("root2"));
            List<byte[]> proof = hashesOrNull(p.get("proof"));
            boolean gotErr;
            if (r1 == null || r2 == null || proof == null) {
                gotErr = true;
            } else {
                try {
                    Merkle.verifyConsistency(HashSuite.SHA256, Json.u64(p, "size1"), Json.u64(p, "size2"), proof, r1, r2);
                    gotErr = false;
                } catch (Merkle.ProofException e) {
                    gotErr = true;
                }
            }
            if (Vectors.s(p, "file").endsWith("sizes-are-equal-one-and-proof-is-empty.json")) {
                // Its roots are 12 bytes; every hash here must be 32 (the Rust core deviates the same way).
                assertTrue(!wantErr && gotErr);
                deviations++;
                continue;
            }
            assertEquals(wantErr, gotErr, Vectors.s(p, "file"));
            if (gotErr) {
                failed++;
            } else {
                pass++;
            }
        }
        assertEquals(List.of(5, 92, 1), List.of(pass, failed, deviations));
    }

    static void checkTree(HashSuite suite, Map<String, Object> t, List<byte[]> inputs, boolean equalSizes) {
        List<byte[]> roots = Vectors.hexList(t.get("root_hashes_by_size_hex"));
        List<byte[]> leaves = new ArrayList<>();
        for (byte[] in : inputs) {
            leaves.add(suite.leafHash(in));
        }
        for (int n = 0; n <= inputs.size(); n++) {
            assertArrayEquals(roots.get(n), Merkle.root(suite, leaves.subList(0, n)), "root " + n);
        }
        for (Object o : Vectors.arr(t, "inclusion")) {
            Map<String, Object> c = Vectors.m(o);
            int size = (int) Json.u64(c, "size");
            int index = (int) Json.u64(c, "index");
            List<byte[]> proof = Vectors.hexList(c.get("proof"));
            Merkle.verifyInclusion(suite, index, size, leaves.get(index), proof, roots.get(size));
            List<byte[]> mine = Merkle.inclusionProof(suite, leaves.subList(0, size), index);
            assertEquals(proof.size(), mine.size());
            if (!proof.isEmpty()) {
                List<byte[]> shorter = proof.subList(0, proof.size() - 1);
                assertThrows(Merkle.ProofException.class,
                        () -> Merkle.verifyInclusion(suite, index, size, leaves.get(index), shorter, roots.get(size)));
            }
        }
        int n = 0;
        for (Object o : Vectors.arr(t, "consistency")) {
            Map<String, Object> c = Vectors.m(o);
            int a = (int) Json.u64(c, "size1");
            int b = (int) Json.u64(c, "size2");
            List<byte[]> proof = Vectors.hexList(c.get("proof"));
            Merkle.verifyConsistency(suite, a, b, proof, roots.get(a), roots.get(b));
            if (a != b) {
                byte[] wrong = roots.get(a - 1);
                assertThrows(Merkle.ProofException.class,
                        () -> Merkle.verifyConsistency(suite, a, b, proof, wrong, roots.get(b)));
            }
            n++;
        }
        assertEquals(equalSizes ? 153 : 136, n);
    }

    @Test
    void goTlogSha256() {
        Map<String, Object> t = Vectors.obj(load("go_tlog_sha256.json"), "tree");
        List<byte[]> inputs = Vectors.hexList(t.get("leaf_inputs_hex"));
        checkTree(HashSuite.SHA256, t, inputs, true);
        List<byte[]> lh = Vectors.hexList(t.get("leaf_hashes_hex"));
        for (int i = 0; i < inputs.size(); i++) {
            assertArrayEquals(lh.get(i), HashSuite.SHA256.leafHash(inputs.get(i)));
        }
    }

    @Test
    void blake3Trees() {
        Map<String, Object> v = load("blake3_tree_vectors.json");
        Map<String, Object> prim = Vectors.obj(v, "blake3_primitive_check", "hash_first32_hex_by_input_len");
        for (Map.Entry<String, Object> e : prim.entrySet()) {
            byte[] in = new byte[Integer.parseInt(e.getKey())];
            for (int i = 0; i < in.length; i++) {
                in[i] = (byte) (i % 251);
            }
            assertEquals(e.getValue(), Codec.hex(HashSuite.BLAKE3.hash(in)), "len " + e.getKey());
        }
        Map<String, Object> t = Vectors.obj(v, "tree_17");
        checkTree(HashSuite.BLAKE3, t, Vectors.hexList(t.get("leaf_inputs_hex")), false);
        Map<String, Object> r8 = Vectors.obj(v, "reference_8");
        List<byte[]> leaves = new ArrayList<>();
        List<byte[]> roots = Vectors.hexList(r8.get("root_hashes_by_size_hex"));
        for (byte[] in : Vectors.hexList(r8.get("leaf_inputs_hex"))) {
            leaves.add(HashSuite.BLAKE3.leafHash(in));
        }
        assertArrayEquals(roots.get(8), Merkle.root(HashSuite.BLAKE3, leaves));
    }

    @Test
    void goNoteKeysSignaturesAndOpenCases() {
        Map<String, Object> g = Vectors.obj(load("signed_note_vectors.json"), "go_sumdb_note");
        List<SignerKey> signers = new ArrayList<>();
        for (Object o : Vectors.arr(g, "keys")) {
            Map<String, Object> k = Vectors.m(o);
            SignerKey sk = SignerKey.parse(Vectors.s(k, "skey"));
            assertEquals(Vectors.s(k, "key_id_hex"), String.format("%08x", sk.keyId()));
            assertEquals(Vectors.s(k, "vkey"), sk.verifier().vkey());
            assertEquals(Vectors.s(k, "skey"), sk.skey());
            assertEquals(Vectors.s(k, "ed25519_pub_hex"), Codec.hex(sk.publicKey()));
            assertEquals(sk.verifier(), VerifierKey.parse(Vectors.s(k, "vkey")));
            String good = Vectors.s(k, "vkey");
            for (int i = 0; i < good.length(); i++) {
                String prefix = good.substring(0, i);
                assertThrows(IllegalArgumentException.class, () -> VerifierKey.parse(prefix));
                char[] c = good.toCharArray();
                c[i]++;
                String bumped = new String(c);
                assertThrows(IllegalArgumentException.class, () -> VerifierKey.parse(bumped), bumped);
            }
            signers.add(sk);
        }
        String text = Vectors.s(g, "note_text");
        assertEquals(Vectors.s(g, "signed_note_peter"), SignedNote.sign(text, signers.subList(0, 1)));
        assertEquals(Vectors.s(g, "signed_note_peter_enoch"), SignedNote.sign(text, signers));
        for (Object b : Vectors.arr(g, "bad_vkeys")) {
            assertThrows(IllegalArgumentException.class, () -> VerifierKey.parse(Vectors.s(Vectors.m(b), "vkey")));
        }
        for (Object o : Vectors.arr(g, "open_cases")) {
            Map<String, Object> c = Vectors.m(o);
            List<VerifierKey> known = new ArrayList<>();
            for (Object k : Vectors.arr(c, "known_vkeys")) {
                known.add(VerifierKey.parse((String) k));
            }
            String want = Vectors.s(c, "want");
            try {
                SignedNote.Opened op = SignedNote.open(Codec.utf8(Vectors.s(c, "msg")), known);
                assertEquals("ok", want);
                assertEquals(c.get("verified"), names(op.verified()));
                assertEquals(c.get("unverified"), names(op.unverified()));
            } catch (NoteException e) {
                assertTrue(want.startsWith("error"), want + " but " + e.getMessage());
                switch (e.kind()) {
                    case NO_VERIFIED_SIGNATURE:
                        assertTrue(want.contains("no verifiable"), want);
                        break;
                    case INVALID_SIGNATURE:
                        assertTrue(want.contains("invalid signature"), want);
                        break;
                    default:
                        assertTrue(want.contains("malformed"), want);
                }
            }
        }
        VerifierKey peter = signers.get(0).verifier();
        List<Object> bad = Vectors.arr(g, "malformed_notes");
        for (int i = 0; i < bad.size(); i++) {
            byte[] b = Codec.utf8((String) bad.get(i));
            if (i == 4) {
                // malformed_notes_caveat: the Go case starts with a raw 0xff byte.
                byte[] raw = new byte[b.length - 1];
                raw[0] = (byte) 0xff;
                System.arraycopy(b, 2, raw, 1, b.length - 2);
                b = raw;
            }
            byte[] msg = b;
            NoteException e = assertThrows(NoteException.class, () -> SignedNote.open(msg, List.of(peter)), "case " + i);
            assertEquals(NoteException.Kind.MALFORMED, e.kind(), "case " + i);
        }
    }

    static List<Object> names(List<SignedNote.Signature> l) {
        List<Object> out = new ArrayList<>();
        for (SignedNote.Signature s : l) {
            out.add(s.name());
        }
        return out;
    }

    @Test
    void c2spNoteExamplesAndFormatsKeys() {
        Map<String, Object> v = load("signed_note_vectors.json");
        Map<String, Object> c = Vectors.obj(v, "c2sp_signed_note");
        VerifierKey vk = VerifierKey.parse(Vectors.s(c, "example_vkey"));
        assertEquals(Vectors.s(c, "example_key_id_hex"), String.format("%08x", vk.keyId()));
        assertEquals(Vectors.s(c, "example_pub_hex"), Codec.hex(vk.publicKey()));
        SignedNote.open(Codec.utf8(Vectors.s(c, "example_note")), List.of(vk));
        SignedNote n = SignedNote.parse(Codec.utf8(Vectors.s(c, "parse_only_note")));
        assertEquals(Vectors.s(c, "parse_only_note_text"), n.text());
        assertEquals(1, n.signatures().size());
        assertEquals(Vectors.s(Vectors.obj(c, "parse_only_note_sig"), "name"), n.signatures().get(0).name());
        assertEquals(64, n.signatures().get(0).sig().length);
        assertEquals(Vectors.s(c, "parse_only_note"), n.withSignatures(List.of()));

        Map<String, Object> f = Vectors.obj(v, "formats_key_pairs");
        for (Object o : Vectors.arr(f, "pairs")) {
            Map<String, Object> p = Vectors.m(o);
            SignerKey sk = SignerKey.parse(Vectors.s(p, "skey"));
            assertEquals(Vectors.s(p, "vkey"), sk.verifier().vkey());
        }
        for (Object o : Vectors.arr(f, "non_ed25519_vkeys_to_reject_or_ignore")) {
            Map<String, Object> k = Vectors.m(o);
            long type = Json.u64(k, "type_byte");
            if (type == 1 || type == 4) {
                assertEquals(type, VerifierKey.parse(Vectors.s(k, "vkey")).type());
            } else {
                assertThrows(IllegalArgumentException.class, () -> VerifierKey.parse(Vectors.s(k, "vkey")));
            }
        }
        for (Object o : Vectors.arr(f, "bad_vkeys")) {
            assertThrows(IllegalArgumentException.class, () -> VerifierKey.parse(Vectors.s(Vectors.m(o), "vkey")));
        }
    }

    @Test
    void checkpointBodies() {
        Map<String, Object> c = Vectors.obj(load("signed_note_vectors.json"), "checkpoint_body_parse_cases");
        for (Object o : Vectors.arr(c, "cases")) {
            Map<String, Object> k = Vectors.m(o);
            String text = Vectors.s(k, "text");
            String[] lines = text.split("\n", -1);
            int rootLen = -1;
            try {
                rootLen = Codec.unb64(lines[2]).length;
            } catch (RuntimeException e) {
                // not a root
            }
            if (Vectors.s(k, "want").equals("ok") && rootLen == 32) {
                Checkpoint cp = Checkpoint.parse(text);
                if (k.containsKey("origin")) {
                    assertEquals(Vectors.s(k, "origin"), cp.origin());
                    assertEquals(Json.u64(k, "size"), cp.size());
                }
            } else {
                assertThrows(VerificationException.class, () -> Checkpoint.parse(text), text);
            }
        }
        Map<String, Object> g = Vectors.obj(c, "go_tlog_parse_tree");
        Checkpoint cp = Checkpoint.parse(Vectors.s(g, "good"));
        assertEquals(123456789012L, cp.size());
        List<Object> bad = Vectors.arr(g, "bad");
        assertFalse(Checkpoint.parse((String) bad.get(0)).origin().equals("go.sum database tree"));
        assertThrows(VerificationException.class, () -> Checkpoint.parse((String) bad.get(1)));
        assertThrows(VerificationException.class, () -> Checkpoint.parse((String) bad.get(2)));
    }

    @Test
    void cosignatures() {
        Map<String, Object> v = load("cosignature_vectors.json");
        Map<String, Object> k = Vectors.obj(v, "sigsum_known_key");
        byte[] seed = Vectors.hex(k, "ed25519_seed_hex");
        Map<String, Object> lc = Vectors.obj(k, "log_checkpoint");
        SignerKey log = SignerKey.of(Vectors.s(lc, "key_name"), NoteKeys.TYPE_ED25519, seed);
        assertEquals(Vectors.s(lc, "vkey"), log.verifier().vkey());
        assertEquals(Vectors.s(lc, "note"), SignedNote.sign(Vectors.s(lc, "note_text"), List.of(log)));
        Map<String, Object> cs = Vectors.obj(k, "cosignature_v1");
        String body = Vectors.s(cs, "checkpoint_body");
        assertEquals(Vectors.s(cs, "signed_message"), new String(NoteKeys.cosignatureMessage(body, 1234), StandardCharsets.UTF_8));
        VerifierKey w = VerifierKey.parse(Vectors.s(cs, "witness_vkey"));
        assertEquals(NoteKeys.TYPE_COSIGNATURE_V1, w.type());
        SignerKey ws = SignerKey.of(Vectors.s(cs, "witness_name"), NoteKeys.TYPE_COSIGNATURE_V1, seed);
        assertEquals(w, ws.verifier());
        SignedNote.Signature mine = SignedNote.cosign(ws, body, 1234);
        int verified = 0;
        for (Object o : Vectors.arr(cs, "lines")) {
            Map<String, Object> line = Vectors.m(o);
            String note = body + "\n" + Vectors.s(line, "line") + "\n";
            boolean want = Json.bool(line, "verifies_with_example_witness_key");
            boolean got;
            try {
                SignedNote.open(Codec.utf8(note), List.of(w));
                got = true;
            } catch (NoteException e) {
                got = false;
            }
            assertEquals(want, got, Vectors.s(line, "why"));
            if (want) {
                verified++;
                assertEquals(Vectors.s(line, "line") + "\n", mine.line());
            }
        }
        assertEquals(1, verified);
        // A plain 64-byte signature under a cosignature key fails.
        List<Object> f = Vectors.arr(Vectors.obj(v, "formats_cosigv1_timestamp"), "cases");
        byte[] plain = Codec.unb64(Vectors.s(Vectors.m(f.get(1)), "sig_b64"));
        assertFalse(w.verifyNoteSignature(body, java.util.Arrays.copyOfRange(plain, 4, plain.length)));
        byte[] ts = Codec.unb64(Vectors.s(Vectors.m(f.get(0)), "sig_b64"));
        assertEquals(Json.u64(Vectors.m(f.get(0)), "want_timestamp"), Codec.u64(ts, 4));
    }

    @Test
    void realLogs() {
        Map<String, Object> v = load("real_logs.json");
        Map<String, Object> g = Vectors.obj(v, "sum_golang_org");
        VerifierKey vk = VerifierKey.parse(Vectors.s(g, "vkey"));
        for (Object o : Vectors.arr(g, "checkpoints")) {
            Map<String, Object> c = Vectors.m(o);
            SignedNote.Opened op = SignedNote.open(Codec.utf8(Vectors.s(c, "note")), List.of(vk));
            assertEquals(1, op.verified().size());
            assertEquals(Vectors.arr(c, "other_signatures").size(), op.unverified().size());
            Checkpoint cp = Checkpoint.parse(op.note().text());
            assertEquals(Json.u64(c, "tree_size"), cp.size());
            assertEquals(Vectors.s(c, "root_hex"), Codec.hex(cp.root()));
            String bad = Vectors.s(c, "note").replaceFirst("\n" + cp.size() + "\n", "\n" + (cp.size() + 1) + "\n");
            assertThrows(NoteException.class, () -> SignedNote.open(Codec.utf8(bad), List.of(vk)));
        }
        int witnesses = 0;
        for (Object o : Vectors.arr(v, "rekor_v2_staging")) {
            Map<String, Object> e = Vectors.m(o);
            VerifierKey log = VerifierKey.of(Vectors.s(e, "origin"), NoteKeys.TYPE_ED25519, Vectors.hex(e, "log_ed25519_pub_hex"));
            assertEquals(Vectors.s(e, "note_key_id_hex"), String.format("%08x", log.keyId()));
            byte[] leaf = HashSuite.SHA256.leafHash(Codec.unb64(Vectors.s(e, "leaf_input_b64")));
            assertEquals(Vectors.s(e, "leaf_hash_hex"), Codec.hex(leaf));
            List<SignedNote.Signature> cos = new ArrayList<>();
            List<String> wkeys = new ArrayList<>();
            for (Object wo : Vectors.arr(e, "witness_cosignatures")) {
                Map<String, Object> w = Vectors.m(wo);
                VerifierKey wk = VerifierKey.parse(Vectors.s(w, "vkey"));
                cos.add(new SignedNote.Signature(wk.name(), wk.keyId(),
                        Codec.concat(Codec.be64(Json.u64(w, "timestamp")), Vectors.hex(w, "ed25519_sig_hex"))));
                wkeys.add(Json.quote(wk.vkey()));
            }
            // The note as the log signed it, without the cosignatures it may carry; they are added below.
            SignedNote full = SignedNote.parse(Codec.utf8(Vectors.s(e, "checkpoint_note")));
            SignedNote logOnly = SignedNote.parse(Codec.utf8(full.text() + "\n" + full.signatures().get(0).line()));
            String note = logOnly.withSignatures(cos);
            LogDescriptor d = LogDescriptor.parse(Codec.utf8("{\"origin\":" + Json.quote(log.name()) + ",\"log_vkey\":"
                    + Json.quote(log.vkey()) + ",\"hash\":\"sha256\",\"profile\":\"x\",\"witnesses\":[" + String.join(",", wkeys)
                    + "],\"quorum\":" + wkeys.size() + "}"));
            Checkpoint.Verified cv = d.verifyCheckpoint(note);
            assertEquals(wkeys.size(), cv.witnesses().size());
            witnesses += wkeys.size();
            Merkle.verifyInclusion(HashSuite.SHA256, Json.u64(e, "log_index"), cv.size(), leaf,
                    Vectors.hexList(e.get("inclusion_proof_hex")), cv.root());
            if (!cos.isEmpty()) {
                // One corrupted witness signature refuses the checkpoint.
                byte[] s = cos.get(2).sig();
                s[20] ^= 1;
                List<SignedNote.Signature> bad = new ArrayList<>(cos.subList(0, 2));
                bad.add(new SignedNote.Signature(cos.get(2).name(), cos.get(2).keyId(), s));
                String badNote = logOnly.withSignatures(bad);
                assertThrows(VerificationException.class, () -> d.verifyCheckpoint(badNote));
                // Without the third cosignature the 3-of-3 quorum is not met.
                String two = logOnly.withSignatures(cos.subList(0, 2));
                VerificationException q = assertThrows(VerificationException.class, () -> d.verifyCheckpoint(two));
                assertTrue(q.getMessage().contains("quorum"), q.getMessage());
            }
        }
        assertEquals(3, witnesses);
        Map<String, Object> ct = Vectors.obj(v, "ct_argon2020");
        Merkle.verifyInclusion(HashSuite.SHA256, Json.u64(ct, "leaf_index"), Json.u64(ct, "tree_size"),
                HashSuite.SHA256.leafHash(Codec.unb64(Vectors.s(ct, "leaf_input_b64"))),
                Vectors.hexList(ct.get("inclusion_proof_hex")), Vectors.hex(ct, "root_hex"));
        Merkle.verifyConsistency(HashSuite.SHA256, Json.u64(ct, "old_size"), Json.u64(ct, "tree_size"),
                Vectors.hexList(ct.get("consistency_proof_hex")), Vectors.hex(ct, "old_root_hex"), Vectors.hex(ct, "root_hex"));
    }

    @Test
    void cctvEd25519EdgeCasesUnderTheStrictRule() {
        List<Object> rows = Vectors.arr(load("ed25519_cctv_edge_cases.json"), "vectors");
        assertEquals(914, rows.size());
        int accepted = 0;
        for (Object o : rows) {
            List<Object> r = Json.array(o, "row");
            byte[] key = Codec.unhex((String) r.get(1));
            byte[] sig = Codec.unhex((String) r.get(2));
            byte[] msg = ((String) r.get(3)).getBytes(StandardCharsets.US_ASCII);
            boolean want = (Boolean) r.get(7);
            boolean got = Ed25519.verify(key, msg, sig);
            if (got != want) {
                fail("vector " + r.get(0) + " flags " + r.get(4) + ": want " + want);
            }
            if (got) {
                accepted++;
            }
        }
        assertEquals(43, accepted);
    }
}

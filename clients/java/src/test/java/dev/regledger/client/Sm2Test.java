package dev.regledger.client;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.regledger.client.NoteKeys.KeyType;
import dev.regledger.client.NoteKeys.SignerKey;
import dev.regledger.client.NoteKeys.VerifierKey;
import java.math.BigInteger;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The 国密 suite against the standards' own examples (GB/T 32905 Appendix
 * A, GB/T 32918.5 Annex A on the standard curve) and the key encodings of
 * schemas/FORMATS.md "SM2" (the vkeys and key id there were computed with
 * Python's hashlib, not with either implementation), then every hostile
 * input the issue names. ledger/tests/vectors/sm2_sm3_vectors.json.
 */
class Sm2Test {
    static Map<String, Object> vectors() {
        return Vectors.load("ledger/tests/vectors/sm2_sm3_vectors.json");
    }

    static Map<String, Object> annex() {
        return Vectors.obj(vectors(), "sm2_sign");
    }

    static Sm2.PrivateKey annexKey() {
        return Sm2.privateKey(Vectors.hex(annex(), "private_key_d_hex"), null);
    }

    /** A "random" source that yields exactly the standard's k (BouncyCastle draws k as 32 bytes). */
    static final class FixedK extends SecureRandom {
        private static final long serialVersionUID = 1L;
        private final byte[] k;

        FixedK(byte[] k) {
            this.k = k.clone();
        }

        @Override
        public void nextBytes(byte[] out) {
            if (out.length != k.length) {
                throw new IllegalStateException("unexpected draw of " + out.length + " bytes");
            }
            System.arraycopy(k, 0, out, 0, k.length);
        }
    }

    @Test
    void sm3AppendixA() {
        List<Object> l = Vectors.arr(vectors(), "sm3");
        assertEquals(2, l.size());
        for (Object o : l) {
            Map<String, Object> v = Vectors.m(o);
            assertEquals(Vectors.s(v, "digest_hex"), Codec.hex(HashSuite.SM3.hash(Codec.utf8(Vectors.s(v, "msg_ascii")))));
        }
        assertEquals("66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0",
                Codec.hex(HashSuite.SM3.hash(Codec.utf8("abc"))));
        // The empty tree of an sm3 log (FORMATS.md "Tree").
        assertEquals("1ab21d8355cfa17f8e61194831e81a8f22bec8c728fefb747ed035eb5082aa2b",
                Codec.hex(HashSuite.SM3.emptyRoot()));
        assertEquals(HashSuite.SM3, HashSuite.fromName("sm3"));
    }

    @Test
    void sm3TreeOfTheReferenceLeaves() {
        Map<String, Object> t = Vectors.obj(vectors(), "sm3_tree");
        List<byte[]> inputs = Vectors.hexList(t.get("leaf_inputs_hex"));
        List<byte[]> want = Vectors.hexList(t.get("leaf_hashes_hex"));
        List<byte[]> roots = Vectors.hexList(t.get("root_hashes_by_size_hex"));
        List<byte[]> leaves = new ArrayList<>();
        for (int i = 0; i < inputs.size(); i++) {
            assertArrayEquals(roots.get(i), Merkle.root(HashSuite.SM3, leaves), "root of size " + i);
            byte[] lh = HashSuite.SM3.leafHash(inputs.get(i));
            assertArrayEquals(want.get(i), lh, "leaf " + i);
            leaves.add(lh);
        }
        assertArrayEquals(roots.get(inputs.size()), Merkle.root(HashSuite.SM3, leaves));
        // An SM3 tree is not a SHA-256 tree of the same leaves (the suite is not ignored somewhere).
        assertFalse(Arrays.equals(roots.get(8), Merkle.root(HashSuite.SHA256, leaves)));
    }

    @Test
    void sm2AnnexAOnTheStandardCurve() {
        Map<String, Object> a = annex();
        assertEquals("1234567812345678", Vectors.s(a, "user_id_ascii"));
        assertEquals(128, Json.u64(a, "entl_bits"));
        Sm2.PrivateKey d = annexKey();
        byte[] point = d.publicKey().point();
        assertEquals(Vectors.s(a, "public_key_x_hex"), Codec.hex(Arrays.copyOfRange(point, 1, 33)));
        assertEquals(Vectors.s(a, "public_key_y_hex"), Codec.hex(Arrays.copyOfRange(point, 33, 65)));
        byte[] m = Codec.utf8(Vectors.s(a, "message_ascii"));
        assertEquals(Vectors.s(a, "z_hex"), Codec.hex(Sm2.z(Sm2.DEFAULT_ID, point)));
        assertEquals(Vectors.s(a, "e_hex"), Codec.hex(Sm2.e(Sm2.DEFAULT_ID, point, m)));
        // BouncyCastle's signing equation with the standard's k gives the standard's r and s.
        byte[] sig = Sm2.sign(d, Sm2.DEFAULT_ID, m, new FixedK(Vectors.hex(a, "k_hex")));
        assertEquals(Vectors.s(a, "r_hex") + Vectors.s(a, "s_hex"), Codec.hex(sig));
        byte[] printed = Codec.concat(Vectors.hex(a, "r_hex"), Vectors.hex(a, "s_hex"));
        Sm2.PublicKey pub = Sm2.publicKey(point, null);
        assertTrue(pub.verify(m, printed));
        // A random-k signature verifies too (the client signs that way).
        assertTrue(pub.verify(m, d.sign(m)));

        // Hostile: every single flipped bit of the signature, another message, a wrong signer ID.
        for (int bit = 0; bit < 512; bit += 7) {
            byte[] bad = printed.clone();
            bad[bit / 8] ^= (byte) (1 << (bit % 8));
            assertFalse(pub.verify(m, bad), "flipped bit " + bit);
        }
        assertFalse(pub.verify(Codec.utf8("message digesT"), printed));
        assertFalse(Sm2.verify(pub, "ALICE123@YAHOO.COM", m, printed), "a wrong ID changes Z");
        assertFalse(Sm2.publicKey(point, "8765432187654321").verify(m, printed), "a stated ID is not the default");
    }

    @Test
    void sm2RangesOfRAndS() {
        Sm2.PublicKey pub = annexKey().publicKey();
        byte[] m = Codec.utf8("message digest");
        BigInteger n = Sm2.DOMAIN.getN();
        byte[] r = Vectors.hex(annex(), "r_hex");
        byte[] s = Vectors.hex(annex(), "s_hex");
        byte[] zero = new byte[32];
        assertFalse(pub.verify(m, Codec.concat(zero, s)), "r = 0");
        assertFalse(pub.verify(m, Codec.concat(r, zero)), "s = 0");
        assertFalse(pub.verify(m, Codec.concat(Sm2.fixed(n), s)), "r = n");
        assertFalse(pub.verify(m, Codec.concat(r, Sm2.fixed(new BigInteger(1, s).add(n)))), "s + n (too wide: 32 bytes?)");
        assertFalse(pub.verify(m, Codec.concat(r, Sm2.fixed(n.subtract(new BigInteger(1, r))))), "r + s = n");
        assertFalse(pub.verify(m, Arrays.copyOf(Codec.concat(r, s), 63)), "63 bytes");
    }

    @Test
    void sm2PointsOffTheCurveAndOtherEncodingsAreRefused() {
        byte[] point = annexKey().publicKey().point();
        byte[] off = point.clone();
        off[64] ^= 1;
        assertThrows(IllegalArgumentException.class, () -> Sm2.publicKey(off, null), "off the curve");
        byte[] compressed = Arrays.copyOf(point, 33);
        compressed[0] = (byte) (0x02 | (point[64] & 1));
        assertThrows(IllegalArgumentException.class, () -> Sm2.publicKey(compressed, null), "compressed");
        byte[] hybrid = point.clone();
        hybrid[0] = (byte) (0x06 | (point[64] & 1));
        assertThrows(IllegalArgumentException.class, () -> Sm2.publicKey(hybrid, null), "hybrid");
        byte[] infinity = new byte[65];
        infinity[0] = 4;
        assertThrows(IllegalArgumentException.class, () -> Sm2.publicKey(infinity, null), "infinity");
        byte[] big = new byte[65];
        Arrays.fill(big, (byte) 0xff);
        big[0] = 4;
        assertThrows(IllegalArgumentException.class, () -> Sm2.publicKey(big, null), "x, y not below p");
        assertThrows(IllegalArgumentException.class, () -> Sm2.publicKey(point, ""), "empty ID");
        assertThrows(IllegalArgumentException.class, () -> Sm2.publicKey(point, Sm2.DEFAULT_ID),
                "the default written out");
        assertThrows(IllegalArgumentException.class, () -> Sm2.privateKey(new byte[32], null), "d = 0");
        assertThrows(IllegalArgumentException.class,
                () -> Sm2.privateKey(Sm2.fixed(Sm2.DOMAIN.getN().subtract(BigInteger.ONE)), null), "d = n - 1");
    }

    @Test
    void noteKeysAsFormatsWritesThem() {
        SignerKey log = SignerKey.of("example.org/sm3-log", KeyType.SM2, Vectors.hex(annex(), "private_key_d_hex"));
        String vkey = "example.org/sm3-log+3d0f1deb+/3JlZ2xlZGdlci9zbTItbm90ZS92MQQJ+d8xHlQhoVDdfRYeS8XGchefrRgz"
                + "/AdrsI/zVvNQIMzqSQziZ3WlLcbqcYzBqmAK7QX7814ISmYy9gctqa0T";
        assertEquals(vkey, log.verifier().vkey());
        VerifierKey v = VerifierKey.parse(vkey);
        assertEquals(KeyType.SM2, v.keyType());
        assertEquals(NoteKeys.TYPE_EXTENDED, v.type());
        assertEquals(log.verifier(), v);
        assertEquals(log.verifier(), SignerKey.parse(log.skey()).verifier());
        SignerKey w = SignerKey.of("example.org/sm3-log", KeyType.SM2_COSIGNATURE_V1,
                Vectors.hex(annex(), "private_key_d_hex"));
        assertEquals("example.org/sm3-log+d90dc2af+/3JlZ2xlZGdlci9zbTItY29zaWduYXR1cmUvdjEECfnfMR5UIaFQ3X0WHkvFxnIXn60Y"
                + "M/wHa7CP81bzUCDM6kkM4md1pS3G6nGMwapgCu0F+/NeCEpmMvYHLamtEw==", w.verifier().vkey());
        // Participant key id: SHA-256 of the 65-byte point.
        assertEquals("p/7ad64964", ParticipantKey.of(SignerKey.of("p", KeyType.SM2,
                Vectors.hex(annex(), "private_key_d_hex"))).keyId());
    }

    static String withRaw(String vkey, byte[] raw) {
        String[] p = vkey.split("\\+", 3);
        return p[0] + "+" + p[1] + "+" + Codec.b64(raw);
    }

    @Test
    void hostileNoteKeysAreRefused() {
        SignerKey log = SignerKey.of("k", KeyType.SM2, Vectors.hex(annex(), "private_key_d_hex"));
        String vkey = log.verifier().vkey();
        byte[] raw = Codec.unb64(vkey.split("\\+", 3)[2]);
        byte[] unknown = raw.clone();
        unknown[1] = 'R';
        assertThrows(IllegalArgumentException.class, () -> VerifierKey.parse(withRaw(vkey, unknown)), "identifier");
        byte[] off = raw.clone();
        off[off.length - 1] ^= 1;
        assertThrows(IllegalArgumentException.class, () -> VerifierKey.parse(withRaw(vkey, off)), "off the curve");
        // An Ed25519 key declared as SM2: the SM2 type bytes, then a 32-byte Ed25519 key.
        SignerKey ed = SignerKey.generate("k", NoteKeys.TYPE_ED25519);
        byte[] declared = Codec.concat(KeyType.SM2.typeBytes(), ed.publicKey());
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> VerifierKey.parse(withRaw(vkey, declared)));
        assertTrue(e.getMessage().contains("65"), e.getMessage());
        // ... and the reverse: an SM2 point under type 0x01.
        byte[] reverse = Codec.concat(new byte[] {NoteKeys.TYPE_ED25519}, log.publicKey());
        assertThrows(IllegalArgumentException.class, () -> VerifierKey.parse(withRaw(vkey, reverse)));
    }

    static String sm3Descriptor(SignerKey log, List<SignerKey> witnesses, int quorum, String hash) {
        StringBuilder ws = new StringBuilder();
        for (SignerKey w : witnesses) {
            ws.append(ws.length() == 0 ? "" : ",").append(Json.quote(w.verifier().vkey()));
        }
        return "{\"origin\":" + Json.quote(log.name()) + ",\"log_vkey\":" + Json.quote(log.verifier().vkey())
                + ",\"hash\":\"" + hash + "\",\"witnesses\":[" + ws + "],\"quorum\":" + quorum
                + ",\"profile\":\"guangxi\"}";
    }

    @Test
    void sm2CheckpointsAndCosignatures() {
        SignerKey log = SignerKey.generate("regledger.test/sm3-java", KeyType.SM2);
        SignerKey w = SignerKey.generate("w.sm3", KeyType.SM2_COSIGNATURE_V1);
        LogDescriptor d = LogDescriptor.parse(Codec.utf8(sm3Descriptor(log, List.of(w), 1, "sm3")));
        assertEquals(HashSuite.SM3, d.suite());
        List<byte[]> leaves = List.of(HashSuite.SM3.leafHash(Codec.utf8("a")), HashSuite.SM3.leafHash(Codec.utf8("b")));
        String body = Checkpoint.body(log.name(), 2, Merkle.root(HashSuite.SM3, leaves));
        String note = SignedNote.sign(body, List.of(log));
        String cosigned = SignedNote.parse(Codec.utf8(note)).withSignatures(List.of(SignedNote.cosign(w, body, 1700000000L)));
        Checkpoint.Verified v = d.verifyCheckpoint(cosigned);
        assertEquals(2, v.size());
        assertEquals(1, v.witnesses().size());
        // The quorum is not met without the cosignature.
        assertThrows(VerificationException.class, () -> d.verifyCheckpoint(note));

        // A flipped bit in the log's SM2 signature is refused.
        SignedNote.Signature s = SignedNote.parse(Codec.utf8(cosigned)).signatures().get(0);
        byte[] sig = s.sig();
        sig[10] ^= 0x20;
        String flipped = body + "\n" + new SignedNote.Signature(s.name(), s.keyId(), sig).line()
                + SignedNote.parse(Codec.utf8(cosigned)).signatures().get(1).line();
        VerificationException e = assertThrows(VerificationException.class, () -> d.verifyCheckpoint(flipped));
        assertTrue(e.getMessage().contains("invalid signature for key " + log.name()), e.getMessage());

        // An Ed25519 signature under the SM2 key's name and id is an SM2 signature that fails.
        SignerKey ed = SignerKey.generate(log.name(), NoteKeys.TYPE_ED25519);
        byte[] edSig = ed.sign(Codec.utf8(body));
        String edNote = body + "\n" + new SignedNote.Signature(log.name(), log.keyId(), edSig).line()
                + SignedNote.parse(Codec.utf8(cosigned)).signatures().get(1).line();
        e = assertThrows(VerificationException.class, () -> d.verifyCheckpoint(edNote));
        assertTrue(e.getMessage().contains("invalid signature"), e.getMessage());
    }

    @Test
    void sm3DescriptorsNeedSm2Keys() {
        SignerKey sm2 = SignerKey.generate("o.test", KeyType.SM2);
        SignerKey ed = SignerKey.generate("o.test", NoteKeys.TYPE_ED25519);
        SignerKey edW = SignerKey.generate("w", NoteKeys.TYPE_COSIGNATURE_V1);
        SignerKey smW = SignerKey.generate("w", KeyType.SM2_COSIGNATURE_V1);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> LogDescriptor.parse(Codec.utf8(sm3Descriptor(ed, List.of(), 0, "sm3"))));
        assertTrue(e.getMessage().contains("SM2"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class,
                () -> LogDescriptor.parse(Codec.utf8(sm3Descriptor(sm2, List.of(edW), 1, "sm3"))));
        assertTrue(e.getMessage().contains("witness key 0"), e.getMessage());
        assertThrows(IllegalArgumentException.class,
                () -> LogDescriptor.parse(Codec.utf8(sm3Descriptor(smW, List.of(), 0, "sm3"))), "a witness key as log key");
        assertNotNull(LogDescriptor.parse(Codec.utf8(sm3Descriptor(sm2, List.of(smW), 1, "sm3"))));
    }

    @Test
    void sm3TreeHashesUnderASha256DescriptorAreRefused() {
        // The same log key, the same checkpoint note, but log.json says sha256: the SM3 root the
        // note signs is not the SHA-256 root of the leaves, so the inclusion proof fails.
        SignerKey log = SignerKey.generate("o.test", KeyType.SM2);
        LogDescriptor sha = LogDescriptor.parse(Codec.utf8(sm3Descriptor(log, List.of(), 0, "sha256")));
        LogDescriptor sm3 = LogDescriptor.parse(Codec.utf8(sm3Descriptor(log, List.of(), 0, "sm3")));
        List<byte[]> inputs = List.of(Codec.utf8("x"), Codec.utf8("y"), Codec.utf8("z"));
        List<byte[]> leaves = new ArrayList<>();
        for (byte[] in : inputs) {
            leaves.add(HashSuite.SM3.leafHash(in));
        }
        byte[] root = Merkle.root(HashSuite.SM3, leaves);
        List<byte[]> proof = List.of(leaves.get(0), leaves.get(2));
        Merkle.verifyInclusion(sm3.suite(), 1, 3, sm3.suite().leafHash(inputs.get(1)), proof, root);
        assertThrows(Merkle.ProofException.class,
                () -> Merkle.verifyInclusion(sha.suite(), 1, 3, sha.suite().leafHash(inputs.get(1)), proof, root));
    }

    @Test
    void sm2EnvelopesWithDefaultAndStatedIds() {
        ParticipantKey k = ParticipantKey.generateSm2("gx-operator");
        assertEquals(Envelope.ALG_SM2, k.alg());
        assertEquals(65, Codec.unb64(k.publicKeyBase64()).length);
        Envelope env = Envelope.sign("operation-event", Payload.of(Map.of("a", 1)), k);
        assertEquals(Envelope.ALG_SM2, env.signatures().get(0).alg());
        assertNull(env.signatureProblem(k.keyId(), k.material()));
        // Binary and API forms keep the tag.
        Envelope back = Envelope.fromBinary(env.toBinary());
        assertEquals(Envelope.ALG_SM2, back.signatures().get(0).alg());
        assertTrue(back.verifySignature(k.keyId(), k.material()));
        Envelope json = Envelope.fromJson(Json.parse(Codec.utf8(Json.write(env.toJson())), 1 << 20));
        assertEquals("sm2", Vectors.m(Json.array(env.toJson().get("signatures"), "s").get(0)).get("alg"));
        assertTrue(json.verifySignature(k.keyId(), k.material()));

        // A stated signer ID is part of the material (and so of the key id).
        ParticipantKey stated = k.withStatedId("GX-OPERATOR-001");
        assertEquals(65 + 15, stated.material().length);
        assertFalse(stated.keyId().equals(k.keyId()));
        Envelope se = Envelope.sign("operation-event", Payload.of(Map.of("a", 1)), stated);
        assertTrue(se.verifySignature(stated.keyId(), stated.material()));
        // Wrong ID: the signature under the stated ID does not verify under the default, nor the reverse.
        Envelope swapped = new EnvelopeBuilder(se).keyId(k.keyId()).build();
        String p = swapped.signatureProblem(k.keyId(), k.material());
        assertNotNull(p);
        assertTrue(p.contains("1234567812345678"), p);
        Envelope swapped2 = new EnvelopeBuilder(env).keyId(stated.keyId()).build();
        assertNotNull(swapped2.signatureProblem(stated.keyId(), stated.material()));

        // A flipped bit in the SM2 signature.
        byte[] sig = env.signatures().get(0).sig();
        sig[63] ^= 1;
        Envelope flipped = new EnvelopeBuilder(env).sig(sig).build();
        assertFalse(flipped.verifySignature(k.keyId(), k.material()));

        // An SM2 signature on an Ed25519 key (and the reverse) is refused as such.
        ParticipantKey ed = ParticipantKey.generate("gx-operator");
        Envelope onEd = new EnvelopeBuilder(env).keyId(ed.keyId()).build();
        String why = onEd.signatureProblem(ed.keyId(), ed.material());
        assertTrue(why.contains("an sm2 signature on the ed25519 key"), why);
        Envelope edEnv = Envelope.sign("operation-event", Payload.of(Map.of("a", 1)), ed);
        Envelope edOnSm2 = new EnvelopeBuilder(edEnv).keyId(k.keyId()).build();
        why = edOnSm2.signatureProblem(k.keyId(), k.material());
        assertTrue(why.contains("an ed25519 signature on the sm2 key"), why);
        // An Ed25519 signature tagged as SM2 on the SM2 key: the SM2 equation refuses it.
        Envelope tagged = new EnvelopeBuilder(edEnv).keyId(k.keyId()).alg(Envelope.ALG_SM2).build();
        assertFalse(tagged.verifySignature(k.keyId(), k.material()));
        // Unknown tags and alg names are malformed.
        byte[] bin = env.toBinary();
        int at = bin.length - 64 - 2 - k.keyId().length() - 1 - 1;
        assertEquals(Envelope.ALG_SM2, bin[at]);
        bin[at] = 3;
        assertThrows(VerificationException.class, () -> Envelope.fromBinary(bin));
    }

    /** EnvelopeBuilder rewrites the one signature of an envelope (for hostile cases). */
    static final class EnvelopeBuilder {
        private final Envelope e;
        private String keyId;
        private int alg;
        private byte[] sig;

        EnvelopeBuilder(Envelope e) {
            this.e = e;
            this.keyId = e.signatures().get(0).keyId();
            this.alg = e.signatures().get(0).alg();
            this.sig = e.signatures().get(0).sig();
        }

        EnvelopeBuilder keyId(String k) {
            keyId = k;
            return this;
        }

        EnvelopeBuilder alg(int a) {
            alg = a;
            return this;
        }

        EnvelopeBuilder sig(byte[] s) {
            sig = s;
            return this;
        }

        Envelope build() {
            Map<String, Object> j = e.toJson();
            Map<String, Object> s = new java.util.LinkedHashMap<>();
            s.put("keyid", keyId);
            s.put("sig", Codec.b64(sig));
            s.put("alg", Envelope.algName(alg));
            j.put("signatures", List.of(s));
            return Envelope.fromJson(Json.parse(Codec.utf8(Json.write(j)), 1 << 20));
        }
    }

    @Test
    void pemKeysRoundTripAndRefuseOtherCurves() {
        Sm2.PrivateKey d = annexKey();
        String pub = Sm2.publicKeyToPem(d.publicKey());
        assertArrayEquals(d.publicKey().point(), Sm2.publicKeyFromPem(pub, null).point());
        // A PKCS#8 SM2 key as OpenSSL 3 writes it (`openssl genpkey -algorithm SM2`, this d re-encoded by
        // BouncyCastle's own PKCS#8 writer: id-ecPublicKey with the sm2p256v1 curve).
        org.bouncycastle.asn1.sec.ECPrivateKey ec = new org.bouncycastle.asn1.sec.ECPrivateKey(256,
                new BigInteger(1, d.toBytes()), new org.bouncycastle.asn1.DERBitString(d.publicKey().point()), null);
        String pem;
        try {
            byte[] der = new org.bouncycastle.asn1.pkcs.PrivateKeyInfo(new org.bouncycastle.asn1.x509.AlgorithmIdentifier(
                    org.bouncycastle.asn1.x9.X9ObjectIdentifiers.id_ecPublicKey,
                    org.bouncycastle.asn1.gm.GMObjectIdentifiers.sm2p256v1), ec).getEncoded();
            pem = "-----BEGIN PRIVATE KEY-----\n" + java.util.Base64.getMimeEncoder().encodeToString(der)
                    + "\n-----END PRIVATE KEY-----\n";
        } catch (java.io.IOException e) {
            throw new AssertionError(e);
        }
        ParticipantKey pk = ParticipantKey.fromPem("p", pem, null);
        assertEquals("p/7ad64964", pk.keyId());
        // A P-256 key is not an SM2 key, whatever its point.
        String p256;
        try {
            java.security.KeyPairGenerator g = java.security.KeyPairGenerator.getInstance("EC");
            g.initialize(new java.security.spec.ECGenParameterSpec("secp256r1"));
            p256 = "-----BEGIN PUBLIC KEY-----\n" + java.util.Base64.getMimeEncoder().encodeToString(
                    g.generateKeyPair().getPublic().getEncoded()) + "\n-----END PUBLIC KEY-----\n";
        } catch (java.security.GeneralSecurityException x) {
            throw new AssertionError(x);
        }
        String p256pem = p256;
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Sm2.publicKeyFromPem(p256pem, null));
        assertTrue(e.getMessage().contains("not an SM2 key"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> Sm2.publicKeyFromPem("-----BEGIN PUBLIC KEY-----\nAAAA\n"
                + "-----END PUBLIC KEY-----", null));
    }
}
